import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as bin from '../../../src/policy/wasm/binary.js';
import { linkPolicy } from '../../../src/policy/wasm/link.js';
import { examplePolicyInput } from './example-codegen.js';
import { buildExamplePolicy, buildRuntime, exportsOf, load, readCString } from './helpers.js';

describe('determinism', () => {
  it('building twice produces byte-identical modules', () => {
    const a = buildExamplePolicy();
    const b = buildExamplePolicy();
    expect(a.length).toBeGreaterThan(0);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(createHash('sha256').update(a).digest('hex')).toBe(createHash('sha256').update(b).digest('hex'));
  });

  it('runtime.wasm builds byte-identically, and linking the same policy onto it gives the same bytes', () => {
    const r1 = buildRuntime();
    const r2 = buildRuntime();
    expect(Buffer.from(r1).equals(Buffer.from(r2))).toBe(true);
    const a = linkPolicy(r1, examplePolicyInput());
    const b = linkPolicy(r2, examplePolicyInput());
    // (byte size is no measure: the linker drops the runtime's ~110 tg_* export names)
    const bodies = (m: Uint8Array): number =>
      bin.code.read(bin.readModule(m).find((s) => s.id === bin.SEC.code)!.payload).length;
    expect(bodies(a)).toBeGreaterThan(bodies(r1));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('same input gives the same output bytes, regardless of key order', async () => {
    const bytes = buildExamplePolicy();
    const p = await load(bytes, '1.2');
    const ex = exportsOf(p);
    const dump = (json: string): string => {
      const buf = new TextEncoder().encode(json);
      const addr = ex.opa_malloc(buf.length);
      new Uint8Array(p.mem.buffer).set(buf, addr);
      return readCString(p.mem, ex.opa_json_dump(ex.opa_json_parse(addr, buf.length)));
    };
    const x = dump('{"b":[1,{"y":2,"x":1}],"a":"é"}');
    expect(dump('{"a":"é","b":[1,{"x":1,"y":2}]}')).toBe(x);
    expect(x).toBe('{"a":"é","b":[1,{"x":1,"y":2}]}');
  });
});
