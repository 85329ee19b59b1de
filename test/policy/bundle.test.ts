import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { BundleError, MAX_BUNDLE_BYTES, readBundle, writeBundle } from '../../src/policy/bundle.js';
import { compilePolicy } from '../../src/policy/rego/codegen/index.js';

const ROOT = resolve(import.meta.dirname, '../..');

const POLICY = `package example

default allow := false

allow if input.user in data.admins

greeting := concat(" ", ["hello", input.user])
`;

function compile(): Uint8Array {
  const r = compilePolicy([{ file: 'example.rego', text: POLICY }], { entrypoints: ['example/allow', 'example/greeting'], regoVersion: 'v1' });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.wasm;
}

/** Hand-made tar entry (ustar), for bundles our writer would never produce. */
function entry(name: string, body: string | Uint8Array, type = '0', linkname = ''): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100, 8, 'ascii');
  h.write('0000000\0', 108, 8, 'ascii');
  h.write('0000000\0', 116, 8, 'ascii');
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124, 12, 'ascii');
  h.write('14712345670\0', 136, 12, 'ascii');
  h.fill(0x20, 148, 156);
  h.write(type, 156, 1, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

function tgz(...entries: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));
}

let wasm: Uint8Array;
beforeAll(() => {
  wasm = compile();
});

describe('writeBundle / readBundle', () => {
  it('round-trips wasm, data, manifest and entrypoints', () => {
    const data = { admins: ['alice'], nested: { n: 1 } };
    const buf = writeBundle({ wasm, data, entrypoints: ['example/allow', 'example/greeting'], revision: 'r1' });
    const b = readBundle(buf);
    expect(Buffer.from(b.wasm).equals(Buffer.from(wasm))).toBe(true);
    expect(b.data).toEqual(data);
    expect(b.entrypoints).toEqual(['example/allow', 'example/greeting']);
    expect(b.manifest).toEqual({
      revision: 'r1',
      roots: [''],
      wasm: [
        { entrypoint: 'example/allow', module: '/policy.wasm' },
        { entrypoint: 'example/greeting', module: '/policy.wasm' },
      ],
    });
    expect(b.notes).toEqual([]);
  });

  it('writes a sorted ustar archive with /-prefixed names, mtime 0 and a fixed gzip header', () => {
    const buf = writeBundle({ wasm, data: {}, entrypoints: ['example/allow'] });
    expect([...buf.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
    const tar = gunzipSync(buf);
    const names: string[] = [];
    let off = 0;
    while (tar[off] !== 0) {
      const h = tar.subarray(off, off + 512);
      names.push(h.toString('utf8', 0, h.indexOf(0)));
      expect(h.toString('ascii', 136, 147)).toBe('00000000000');
      expect(h.toString('ascii', 257, 262)).toBe('ustar');
      off += 512 + Math.ceil(parseInt(h.toString('ascii', 124, 135), 8) / 512) * 512;
    }
    expect(names).toEqual(['/.manifest', '/data.json', '/policy.wasm']);
  });

  it('is deterministic: same input, same bytes (also across two compiles)', () => {
    const a = writeBundle({ wasm, data: { b: 1, a: [2] }, entrypoints: ['example/allow'] });
    const b = writeBundle({ wasm: compile(), data: { b: 1, a: [2] }, entrypoints: ['example/allow'] });
    expect(a.equals(b)).toBe(true);
  });

  it('a bundle written here loads and evaluates in a fresh @open-policy-agent/opa-wasm process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-bundle-'));
    const file = join(dir, 'bundle.tar.gz');
    writeFileSync(file, writeBundle({ wasm, data: { admins: ['alice'] }, entrypoints: ['example/allow', 'example/greeting'] }));
    // The child reads the tar itself (no tollgate code), finds /policy.wasm and /data.json, evaluates via the SDK.
    const script = `
      import { readFileSync } from 'node:fs';
      import { gunzipSync } from 'node:zlib';
      import { loadPolicy } from '@open-policy-agent/opa-wasm';
      const tar = gunzipSync(readFileSync(process.argv[1]));
      const files = {};
      for (let off = 0; tar[off] !== 0; ) {
        const name = tar.toString('utf8', off, tar.indexOf(0, off));
        const size = parseInt(tar.toString('ascii', off + 124, off + 135), 8);
        files[name] = tar.subarray(off + 512, off + 512 + size);
        off += 512 + Math.ceil(size / 512) * 512;
      }
      const manifest = JSON.parse(files['/.manifest']);
      const policy = await loadPolicy(files[manifest.wasm[0].module]);
      policy.setData(JSON.parse(files['/data.json']));
      console.log(JSON.stringify({
        entrypoints: policy.entrypoints,
        alice: policy.evaluate({ user: 'alice' }, 'example/allow'),
        bob: policy.evaluate({ user: 'bob' }, 'example/allow'),
        greeting: policy.evaluate({ user: 'bob' }, 'example/greeting'),
      }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, file], { cwd: ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({
      entrypoints: { 'example/allow': 0, 'example/greeting': 1 },
      alice: [{ result: true }],
      bob: [{ result: false }],
      greeting: [{ result: 'hello bob' }],
    });
  });

  it('reads an opa-build-like bundle: ./ names, directories, nested data.json, extra files', async () => {
    const manifest = JSON.stringify({ revision: '', roots: [''], wasm: [{ entrypoint: 'example/allow', module: '/policy.wasm' }], rego_version: 1 });
    const buf = tgz(
      entry('./', '', '5'),
      entry('./.manifest', manifest),
      entry('./data.json', '{"admins":["alice"],"cfg":{"x":1}}'),
      entry('./cfg/', '', '5'),
      entry('./cfg/more/data.json', '{"y":2}'),
      entry('./teams/data.json', '["a","b"]'),
      entry('./example.rego', POLICY),
      entry('./.signatures.json', '{"signatures":[]}'),
      entry('./policy.wasm', wasm),
    );
    const b = readBundle(buf);
    expect(b.entrypoints).toEqual(['example/allow']);
    expect(b.data).toEqual({ admins: ['alice'], cfg: { x: 1, more: { y: 2 } }, teams: ['a', 'b'] });
    expect(b.notes).toEqual([
      '/.signatures.json: bundle signatures are not verified (ignored)',
      '/example.rego: Rego source ignored (the bundle\'s wasm module is evaluated)',
    ]);
    const policy = await loadPolicy(b.wasm);
    policy.setData(b.data);
    expect(policy.evaluate({ user: 'alice' }, 'example/allow')).toEqual([{ result: true }]);
  });

  it('accepts leading-/ names written by opa build', () => {
    const b = readBundle(tgz(entry('/policy.wasm', wasm), entry('/data.json', '{"a":1}')));
    expect(b.data).toEqual({ a: 1 });
    expect(b.entrypoints).toEqual([]);
    expect(b.manifest).toEqual({});
  });

  it('rejects path traversal', () => {
    expect(() => readBundle(tgz(entry('/policy.wasm', wasm), entry('../../etc/data.json', '{}')))).toThrow(/path traversal/);
    expect(() => readBundle(tgz(entry('./a/../../data.json', '{}'), entry('/policy.wasm', wasm)))).toThrow(BundleError);
  });

  it('rejects symlinks and hard links', () => {
    expect(() => readBundle(tgz(entry('/policy.wasm', wasm), entry('./data.json', '', '2', '/etc/passwd')))).toThrow(/symbolic link/);
    expect(() => readBundle(tgz(entry('/policy.wasm', wasm), entry('./data.json', '', '1', 'policy.wasm')))).toThrow(/hard link/);
  });

  it('rejects bundles over the uncompressed size cap', () => {
    const big = tgz(entry('/policy.wasm', wasm), entry('/big.bin', new Uint8Array(MAX_BUNDLE_BYTES + 1)));
    expect(big.length).toBeLessThan(1024 * 1024);
    expect(() => readBundle(big)).toThrow(/larger than 67108864 bytes uncompressed/);
  });

  it('rejects non-gzip input, corrupt headers, a missing module and conflicting data', () => {
    expect(() => readBundle(Buffer.from('not a bundle'))).toThrow(/not a valid gzip/);
    const bad = entry('/policy.wasm', wasm);
    bad[0] = 0x41; // checksum no longer matches
    expect(() => readBundle(tgz(bad))).toThrow(/checksum/);
    expect(() => readBundle(tgz(entry('/data.json', '{}')))).toThrow(/no \/policy\.wasm/);
    expect(() => readBundle(tgz(entry('/policy.wasm', wasm), entry('/data.json', '{"a":1}'), entry('/a/data.json', '{"b":1}')))).toThrow(/conflict/);
    expect(() => readBundle(tgz(entry('/policy.wasm', wasm), entry('/data.json', '[1]')))).toThrow(/must be a JSON object/);
    expect(() => readBundle(tgz(entry('/policy.wasm', wasm), entry('/data.json', '{')))).toThrow(/invalid JSON/);
  });
});
