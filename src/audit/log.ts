import { AuditChain, type AuditChainOptions } from './chain.js';
import type { AuditRecord } from './record.js';
import type { AuditSink } from './sink.js';

export interface AuditLog<S extends AuditSink = AuditSink> {
  chain: AuditChain;
  sink: S;
  /** Appends `stop` and a final checkpoint, then closes the sink (flushing what is buffered). */
  close(): ReturnType<S['close']>;
}

/**
 * Continues the chain from the last record the sink found in storage (or starts one with a genesis record),
 * records a `recovery` if the sink dropped a torn tail, and appends `start`. Every checkpoint the chain signs is
 * also handed to the sink as the latest trusted checkpoint.
 */
export function startAuditChain<S extends AuditSink>(
  sink: S,
  opts: Omit<AuditChainOptions, 'write' | 'last' | 'onCheckpoint'>,
  startDetail: Record<string, string | number | boolean | null> = {},
  /** Sees every record after the sink accepted it (metrics). */
  observe?: (record: AuditRecord) => void,
): AuditLog<S> {
  const chain = new AuditChain({
    ...opts,
    ...(sink.lastOnDisk ? { last: sink.lastOnDisk } : {}),
    write: observe === undefined ? (r) => sink.write(r) : (r) => {
      sink.write(r);
      observe(r);
    },
    onCheckpoint: (r) => sink.writeCheckpoint(r),
  });
  const recovered = sink.recovered;
  if (recovered) {
    chain.append('recovery', {
      reasons: ['torn_tail'],
      detail: { file: recovered.file, droppedBytes: recovered.droppedBytes, droppedSha256: recovered.droppedSha256 },
    });
  }
  chain.append('start', { detail: { sink: sink.kind, ...startDetail } });
  return {
    chain,
    sink,
    close: () => {
      chain.append('stop', {});
      chain.checkpoint();
      chain.close();
      return sink.close() as ReturnType<S['close']>;
    },
  };
}
