// Policy linker: appends generated policy code to the prebuilt, policy-agnostic runtime.wasm
// (DESIGN.md §3). No asc at policy-build time, no instruction rewriting: existing functions,
// globals, types and data keep their indices and bytes; only the vectors grow.
//
// What gets appended:
// - types (deduplicated against the runtime's), the generated functions, and linker-made
//   `entrypoints`, `builtins`, `eval`, `opa_eval` and a start function;
// - one data segment with the constants, laid out just above the runtime's static data;
// - globals + exports `opa_wasm_abi_version` = 1, `opa_wasm_abi_minor_version` = 2.
// The runtime's `tg_*` exports only serve to resolve helper indices by name and are dropped.
//
// Conventions for the generated code:
// - one generated function must be named `dispatch` with type (ep, input, data) -> value;
// - `Code.call(name)` resolves, in order, to a generated function, a runtime export
//   (`tg_*`/`opa_*`), or a host import of module `env` (`opa_abort`, `opa_builtin2`, ...);
// - entrypoint ids / built-in ids are the indices in `entrypoints` / `builtins`.

import * as bin from './binary.js';
import { SEC, type FuncType, type Section } from './binary.js';
import { layoutConstants, type Constant } from './constants.js';
import { Code, type GeneratedFunction } from './emit.js';

export type { Constant, ConstValue } from './constants.js';
export type { GeneratedFunction } from './emit.js';

export interface LinkInput {
  functions: GeneratedFunction[];
  constants: Constant[];
  /** Entrypoint names; the id of each is its index. */
  entrypoints: string[];
  /** Host built-in names (called via env.opa_builtinN); the id of each is its index. */
  builtins: string[];
}

export const ABI_VERSION = 1;
export const ABI_MINOR_VERSION = 2;
const PAGE = 65536;
const DISPATCH = 'dispatch';
const LINKER_EXPORTS = ['eval', 'opa_eval', 'entrypoints', 'builtins', 'opa_wasm_abi_version', 'opa_wasm_abi_minor_version'];

function findOne(sections: Section[], id: number): Section | undefined {
  const found = sections.filter((s) => s.id === id);
  if (found.length > 1) throw new Error(`link: duplicate section ${id}`);
  return found[0];
}

/** Vector payload with `extra` items (already encoded) appended; existing bytes untouched. */
function appendVec(payload: Uint8Array | undefined, extraCount: number, extra: ArrayLike<number>): Uint8Array {
  const r = new bin.Reader(payload ?? new Uint8Array([0]));
  const n = r.u32();
  const w = new bin.Writer().u32(n + extraCount).raw(r.buf.subarray(r.pos)).raw(extra);
  return w.bytes();
}

/** The items of an encoded vector, without its count. */
function items(vec: Uint8Array): Uint8Array {
  const r = new bin.Reader(vec);
  r.u32();
  return vec.subarray(r.pos);
}

/** Function body bytes (locals + code + end) with names and constant addresses resolved. */
function encodeBody(f: GeneratedFunction, resolve: (name: string) => number, constAddr: (id: number) => number): number[] {
  if (f.code.openBlocks !== 0) throw new Error(`link: ${f.name}: ${f.code.openBlocks} unclosed block(s)`);
  const out: number[] = [];
  const groups: [number, bin.ValType][] = [];
  for (const t of f.locals) {
    const last = groups[groups.length - 1];
    if (last && last[1] === t) last[0]++;
    else groups.push([1, t]);
  }
  bin.uleb(out, groups.length);
  for (const [n, t] of groups) {
    bin.uleb(out, n);
    out.push(bin.VAL[t]);
  }
  for (const p of f.code.parts) {
    if (typeof p === 'number') out.push(p);
    else if ('call' in p) bin.uleb(out, resolve(p.call));
    else bin.sleb(out, constAddr(p.constAddr) | 0);
  }
  out.push(0x0b);
  return out;
}

export function linkPolicy(runtime: Uint8Array, policy: LinkInput): Uint8Array {
  const sections = bin.readModule(runtime);
  const typeSec = findOne(sections, SEC.type);
  const importSec = findOne(sections, SEC.import);
  const funcSec = findOne(sections, SEC.function);
  const globalSec = findOne(sections, SEC.global);
  const exportSec = findOne(sections, SEC.export);
  const startSec = findOne(sections, SEC.start);
  const codeSec = findOne(sections, SEC.code);
  const dataSec = findOne(sections, SEC.data);
  const dataCountSec = findOne(sections, SEC.datacount);

  const types = typeSec ? bin.types.read(typeSec.payload) : [];
  const imports = importSec ? bin.imports.read(importSec.payload) : [];
  const funcs = funcSec ? bin.functions.read(funcSec.payload) : [];
  const globals = globalSec ? bin.globals.read(globalSec.payload) : [];
  const exps = exportSec ? bin.exports.read(exportSec.payload) : [];
  const segments = dataSec ? bin.data.read(dataSec.payload) : [];

  // ---- name → function index (imports first, then runtime exports; generated below)
  const names = new Map<string, number>();
  let importedFuncs = 0;
  let importedGlobals = 0;
  for (const imp of imports) {
    if (imp.desc.kind === 'func') {
      if (imp.module === 'env') names.set(imp.name, importedFuncs);
      importedFuncs++;
    } else if (imp.desc.kind === 'global') importedGlobals++;
  }
  for (const e of exps) {
    if (LINKER_EXPORTS.includes(e.name)) throw new Error(`link: runtime already exports ${e.name}`);
    if (e.kind === 'func') names.set(e.name, e.index);
  }
  for (const need of ['tg_heap_init', 'tg_result_set', 'tg_ctx_set_result', 'tg_ctx_entrypoint', 'tg_ctx_input',
    'tg_ctx_data', 'tg_eval_begin', 'tg_eval_end', 'opa_malloc', 'opa_json_parse', 'opa_json_dump']) {
    if (!names.has(need)) throw new Error(`link: runtime does not export ${need} (not a tollgate runtime.wasm?)`);
  }

  // ---- functions to append: generated ones, then the linker's glue
  const glue: { f: GeneratedFunction; exportAs?: string }[] = [];
  const all: GeneratedFunction[] = [...policy.functions];
  let next = importedFuncs + funcs.length;
  const generatedIndex = new Map<string, number>();
  for (const f of policy.functions) {
    if (f.name.startsWith('<')) throw new Error(`link: function names starting with "<" are reserved: ${f.name}`);
    if (generatedIndex.has(f.name)) throw new Error(`link: duplicate generated function ${f.name}`);
    if (names.has(f.name)) throw new Error(`link: generated function ${f.name} clashes with a runtime name`);
    generatedIndex.set(f.name, next++);
  }
  const dispatch = policy.functions.find((f) => f.name === DISPATCH);
  if (!dispatch) throw new Error(`link: no generated function named ${DISPATCH}`);
  if (!bin.sameType(dispatch, { params: ['i32', 'i32', 'i32'], results: ['i32'] })) {
    throw new Error(`link: ${DISPATCH} must have type (i32 ep, i32 input, i32 data) -> i32`);
  }

  // Constants: the policy's, then the entrypoints/builtins maps (ids = indices).
  const mapConst = (xs: string[], what: string): Constant => {
    if (new Set(xs).size !== xs.length) throw new Error(`link: duplicate ${what}`);
    return { object: xs.map((name, id) => [name, id]) };
  };
  const constants: Constant[] = [...policy.constants, mapConst(policy.entrypoints, 'entrypoint'), mapConst(policy.builtins, 'built-in')];
  const EP_CONST = policy.constants.length;
  const BI_CONST = EP_CONST + 1;

  const mk = (name: string, params: bin.ValType[], results: bin.ValType[], build: (c: Code) => void, exportAs?: string): void => {
    const f: GeneratedFunction = { name, params, results, locals: [], code: new Code() };
    build(f.code);
    glue.push(exportAs === undefined ? { f } : { f, exportAs });
  };
  mk('<entrypoints>', [], ['i32'], (c) => c.constAddr(EP_CONST), 'entrypoints');
  mk('<builtins>', [], ['i32'], (c) => c.constAddr(BI_CONST), 'builtins');
  mk('<eval>', ['i32'], ['i32'], (c) => c
    .local_get(0)
    .local_get(0).call('tg_ctx_entrypoint')
    .local_get(0).call('tg_ctx_input')
    .local_get(0).call('tg_ctx_data')
    .call(DISPATCH)
    .call('tg_result_set')
    .call('tg_ctx_set_result')
    .i32_const(0), 'eval');
  // opa_eval(reserved, entrypoint, data, input, inputLen, heapPtr, format)
  mk('<opa_eval>', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], ['i32'], (c) => c
    .local_get(1)
    .local_get(5).local_get(3).local_get(4).call('tg_eval_begin')
    .local_get(2)
    .call(DISPATCH)
    .local_get(6).call('tg_eval_end'), 'opa_eval');

  // ---- data: constants above the runtime's static data
  let staticEnd = 0;
  for (const s of segments) {
    if (s.mode !== 'active') continue;
    const off = bin.constI32(s.offset);
    if (off === undefined) throw new Error('link: runtime data segment with a non-constant offset');
    staticEnd = Math.max(staticEnd, (off >>> 0) + s.bytes.length);
  }
  const constBase = (staticEnd + 15) & ~15;
  const { bytes: constBytes, addrs } = layoutConstants(constants, constBase);
  const heapStart = (constBase + constBytes.length + 7) & ~7;

  const oldStart = startSec ? bin.start.read(startSec.payload) : undefined;
  mk('<start>', [], [], (c) => {
    if (oldStart !== undefined) c.call('<old start>');
    c.i32_const(heapStart).call('tg_heap_init');
  });

  for (const g of glue) generatedIndex.set(g.f.name, next++);
  all.push(...glue.map((g) => g.f));

  const resolve = (name: string): number => {
    if (name === '<old start>' && oldStart !== undefined) return oldStart;
    const i = generatedIndex.get(name) ?? names.get(name);
    if (i === undefined) throw new Error(`link: call to unknown function ${name}`);
    return i;
  };
  const constAddr = (id: number): number => {
    const a = addrs[id];
    if (a === undefined) throw new Error(`link: unknown constant #${id}`);
    return a;
  };

  // ---- types (reuse identical runtime types; append new ones in first-use order)
  const newTypes: FuncType[] = [];
  const typeIndex = (t: FuncType): number => {
    const i = types.findIndex((x) => bin.sameType(x, t));
    if (i >= 0) return i;
    const j = newTypes.findIndex((x) => bin.sameType(x, t));
    if (j >= 0) return types.length + j;
    newTypes.push({ params: [...t.params], results: [...t.results] });
    return types.length + newTypes.length - 1;
  };
  const funcTypeIdx = all.map((f) => typeIndex(f));
  // Generated code may only address the policy's own constants (not the linker's maps).
  const userConstAddr = (id: number): number => {
    if (!Number.isInteger(id) || id < 0 || id >= policy.constants.length) throw new Error(`link: unknown constant #${id}`);
    return constAddr(id);
  };
  const bodies = all.map((f, k) => encodeBody(f, resolve, k < policy.functions.length ? userConstAddr : constAddr));

  // ---- globals: ABI version numbers
  const abiGlobal = importedGlobals + globals.length;
  const newGlobals: bin.Global[] = [
    { type: 'i32', mutable: false, init: bin.i32ConstExpr(ABI_VERSION) },
    { type: 'i32', mutable: false, init: bin.i32ConstExpr(ABI_MINOR_VERSION) },
  ];

  // ---- exports: the runtime's ABI functions minus tg_*, then ours
  const newExports: bin.Export[] = exps.filter((e) => !e.name.startsWith('tg_'));
  for (const g of glue) {
    if (g.exportAs !== undefined) newExports.push({ name: g.exportAs, kind: 'func', index: resolve(g.f.name) });
  }
  newExports.push({ name: 'opa_wasm_abi_version', kind: 'global', index: abiGlobal });
  newExports.push({ name: 'opa_wasm_abi_minor_version', kind: 'global', index: abiGlobal + 1 });

  // ---- memory import: enough initial pages for the constants
  const needPages = Math.ceil(heapStart / PAGE);
  const newImports = imports.map((imp) => {
    if (imp.desc.kind !== 'memory' || imp.desc.limits.min >= needPages) return imp;
    if (imp.desc.limits.max !== undefined && imp.desc.limits.max < needPages) throw new Error('link: constants exceed the memory maximum');
    return { ...imp, desc: { kind: 'memory' as const, limits: { ...imp.desc.limits, min: needPages } } };
  });
  const memoryChanged = newImports.some((x, i) => x !== imports[i]);

  // ---- assemble (same section order; missing sections inserted at their canonical place)
  const encode = (w: bin.Writer, f: (w: bin.Writer) => void): number[] => {
    f(w);
    return w.out;
  };
  const replaced = new Map<number, Uint8Array>();
  replaced.set(SEC.type, appendVec(typeSec?.payload, newTypes.length, items(bin.types.write(newTypes))));
  replaced.set(SEC.function, appendVec(funcSec?.payload, funcTypeIdx.length, encode(new bin.Writer(), (w) => funcTypeIdx.forEach((t) => w.u32(t)))));
  replaced.set(SEC.global, appendVec(globalSec?.payload, newGlobals.length, items(bin.globals.write(newGlobals))));
  replaced.set(SEC.export, bin.exports.write(newExports));
  replaced.set(SEC.start, bin.start.write(resolve('<start>')));
  replaced.set(SEC.code, appendVec(codeSec?.payload, bodies.length, encode(new bin.Writer(), (w) => bodies.forEach((b) => w.sized(b)))));
  const seg: bin.DataSegment = { mode: 'active', memory: 0, offset: bin.i32ConstExpr(constBase), bytes: constBytes };
  replaced.set(SEC.data, appendVec(dataSec?.payload, 1, items(bin.data.write([seg]))));
  if (dataCountSec) replaced.set(SEC.datacount, bin.datacount.write(segments.length + 1));
  if (memoryChanged) replaced.set(SEC.import, bin.imports.write(newImports));

  const order = [SEC.type, SEC.import, SEC.function, SEC.table, SEC.memory, SEC.global, SEC.export, SEC.start,
    SEC.element, SEC.datacount, SEC.code, SEC.data];
  const out: Section[] = [];
  const present = new Set(sections.map((s) => s.id));
  const emitMissingBefore = (id: number): void => {
    // Insert required sections the runtime lacks, keeping canonical order.
    for (const m of order) {
      if (m === id) break;
      if (!present.has(m) && replaced.has(m)) {
        out.push({ id: m, payload: replaced.get(m) as Uint8Array });
        present.add(m);
      }
    }
  };
  for (const s of sections) {
    if (s.id !== SEC.custom) emitMissingBefore(s.id);
    out.push(s.id !== SEC.custom && replaced.has(s.id) ? { id: s.id, payload: replaced.get(s.id) as Uint8Array } : s);
  }
  emitMissingBefore(-1);
  return bin.writeModule(out);
}
