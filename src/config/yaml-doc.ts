/**
 * The YAML side of loading: turn a parsed document into plain data (strictly: string keys only,
 * JSON-like scalars only, bounded alias expansion) and map a path in that data back to a line
 * and column in the text, so every error can point at its place in the file.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { PathSegment } from './errors.js';

/** A problem before positions are attached: a path, and optionally a known text offset. */
export interface RawIssue {
  path: PathSegment[];
  message: string;
  /** Point at the key of the last path segment instead of its value (unknown keys, bad names). */
  atKey?: boolean;
  /** Text offset when already known (YAML errors). */
  offset?: number;
  /** About the text as a whole (e.g. it is empty): no line or column. */
  unplaced?: boolean;
  /** The value at `path` could not be converted and is null in the plain data. */
  replaced?: boolean;
}

/** Limit on nodes produced, aliases included: stops "billion laughs" expansion. */
const MAX_NODES = 100_000;

class TooLarge extends Error {}

/** Plain data from a document, and the problems found while converting it. */
export function toPlain(doc: Document.Parsed): { value: unknown; issues: RawIssue[] } {
  const issues: RawIssue[] = [];
  let count = 0;
  const active = new Set<unknown>();

  const convert = (node: unknown, path: PathSegment[]): unknown => {
    if (++count > MAX_NODES) throw new TooLarge();
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (target === undefined) {
        issues.push({ path, message: `unknown alias *${node.source}`, offset: node.range?.[0], replaced: true });
        return null;
      }
      if (active.has(target)) {
        issues.push({ path, message: `alias *${node.source} refers to a node that contains it`, offset: node.range?.[0], replaced: true });
        return null;
      }
      return convert(target, path);
    }
    if (isScalar(node)) {
      const v = node.value;
      if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return v;
      issues.push({ path, message: `unsupported value${node.tag ? ` with tag ${node.tag}` : ''}: use a plain string, number or boolean`, offset: node.range?.[0], replaced: true });
      return null;
    }
    active.add(node);
    try {
      if (isMap(node)) {
        const out: Record<string, unknown> = {};
        for (const pair of node.items) {
          const key = pair.key;
          if (!isScalar(key) || typeof key.value !== 'string') {
            const offset = (key as Node | null)?.range?.[0] ?? node.range?.[0];
            issues.push({ path, message: 'mapping keys must be plain strings', offset });
            continue;
          }
          // defineProperty: a key such as `__proto__` stays an ordinary own property.
          Object.defineProperty(out, key.value, {
            value: convert(pair.value, [...path, key.value]),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
      if (isSeq(node)) return node.items.map((item, i) => convert(item, [...path, i]));
    } finally {
      active.delete(node);
    }
    issues.push({ path, message: 'unsupported YAML node', replaced: true });
    return null;
  };

  try {
    return { value: convert(doc.contents, []), issues };
  } catch (err) {
    if (!(err instanceof TooLarge)) throw err;
    return { value: undefined, issues: [...issues, { path: [], message: `document expands to more than ${MAX_NODES} nodes (alias expansion)` }] };
  }
}

function deref(doc: Document.Parsed, node: unknown): unknown {
  // Bounded: a chain of aliases cannot be longer than the document.
  for (let i = 0; i < 1000 && isAlias(node); i++) node = node.resolve(doc);
  return node;
}

/**
 * Text offset for a path. With `atKey`, the key of the last segment; otherwise its value (for a
 * mapping or sequence value, the key that opens it). When the path does not exist (a missing
 * key), the deepest existing part: the key it is declared under, or the start of a sequence item.
 */
export function offsetOf(doc: Document.Parsed, path: readonly PathSegment[], atKey = false): number | undefined {
  let node: unknown = doc.contents;
  let here: number | undefined = (node as Node | null)?.range?.[0];
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    node = deref(doc, node);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) return here;
      const keyOffset = (pair.key as Node).range?.[0];
      const valueOffset = (pair.value as Node | null)?.range?.[0];
      if (last && atKey) return keyOffset ?? here;
      node = pair.value;
      // A scalar is pointed at itself; a mapping or sequence at the key that introduces it.
      const collection = isMap(pair.value) || isSeq(pair.value);
      here = last && !collection ? (valueOffset ?? keyOffset ?? here) : (keyOffset ?? here);
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)] as Node | undefined;
      if (item === undefined) return here;
      node = item;
      here = item.range?.[0] ?? here;
    } else {
      return here;
    }
  }
  return here;
}

/** The path of the deepest node at a text offset (to name where a YAML syntax error is). */
export function pathAtOffset(doc: Document.Parsed, offset: number): PathSegment[] {
  const path: PathSegment[] = [];
  const range = (n: unknown) => (n as Node | null)?.range ?? undefined;
  const within = (n: unknown) => {
    const r = range(n);
    return r !== undefined && r[0] <= offset && offset < r[2];
  };
  let node: unknown = doc.contents;
  for (let depth = 0; depth < 1000; depth++) {
    if (isMap(node)) {
      // A pair spans from its key to the end of its value (tags and anchors sit in between).
      const pair = node.items.find((p) => {
        const start = range(p.key)?.[0];
        const end = range(p.value)?.[2] ?? range(p.key)?.[2];
        return start !== undefined && end !== undefined && start <= offset && offset < end;
      });
      if (pair === undefined || !isScalar(pair.key)) return path;
      path.push(String(pair.key.value));
      if (!within(pair.value)) return path;
      node = pair.value;
    } else if (isSeq(node)) {
      const i = node.items.findIndex((item) => within(item));
      if (i < 0) return path;
      path.push(i);
      node = node.items[i];
    } else {
      return path;
    }
  }
  return path;
}

export function lineCol(lineCounter: LineCounter, offset: number | undefined): { line?: number; column?: number } {
  if (offset === undefined) return {};
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}
