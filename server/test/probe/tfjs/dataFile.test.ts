import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { DataFileError, parseDataFile, readDataFile, type DataWant } from '../../../src/probe/tfjs/dataFile';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const cls = (inputDim: number, outputDim: number, inputShape?: [number, number, number]): DataWant => ({ inputDim, outputDim, classification: true, ...(inputShape ? { inputShape } : {}) });
const reg = (inputDim: number, outputDim: number): DataWant => ({ inputDim, outputDim, classification: false });
const f32 = (xs: readonly number[]): number[] => xs.map(Math.fround);
const csv = (name: string, text: string, want: DataWant, maxRows?: number) => parseDataFile(name, enc(text), want, maxRows ? { maxRows } : {});

function fails(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataFileError, `not a DataFileError: ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

/** A .npy as numpy writes it: magic, version, header dict padded to 64 bytes, raw data. */
function npy(descr: string, shape: readonly number[], values: readonly number[], o: { fortran?: boolean; version?: number } = {}): Uint8Array {
  const v = o.version ?? 1, pre = v === 1 ? 10 : 12;
  const dict = `{'descr': '${descr}', 'fortran_order': ${o.fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const header = dict + ' '.repeat((64 - ((pre + dict.length + 1) % 64)) % 64) + '\n';
  const size = Number(descr.slice(2)), le = descr[0] !== '>';
  const out = new Uint8Array(pre + header.length + values.length * size);
  const dv = new DataView(out.buffer);
  out.set([0x93, ...enc('NUMPY'), v, 0]);
  if (v === 1) dv.setUint16(8, header.length, true); else dv.setUint32(8, header.length, true);
  out.set(enc(header), pre);
  values.forEach((x, i) => {
    const at = pre + header.length + i * size;
    const k = descr.slice(1);
    if (k === 'f4') dv.setFloat32(at, x, le); else if (k === 'f8') dv.setFloat64(at, x, le);
    else if (k === 'i2') dv.setInt16(at, x, le); else if (k === 'i8') dv.setBigInt64(at, BigInt(x), le);
    else dv.setUint8(at, x); // u1, b1, and any 1-byte code
  });
  return out;
}

/** A zip as np.savez writes one (STORED; DEFLATE for savez_compressed; optionally ZIP64 sizes in the central directory). */
function zip(entries: Record<string, Uint8Array>, method = 0, zip64 = false): Uint8Array {
  const parts: Uint8Array[] = [], central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, raw] of Object.entries(entries)) {
    const data = method === 8 ? new Uint8Array(deflateRawSync(raw)) : raw;
    const n = enc(name);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true); local.setUint16(8, method, true);
    local.setUint32(18, data.length, true); local.setUint32(22, raw.length, true); local.setUint16(26, n.length, true);
    const cd = new DataView(new ArrayBuffer(46 + (zip64 ? 20 : 0)));
    cd.setUint32(0, 0x02014b50, true); cd.setUint16(10, method, true);
    cd.setUint32(20, zip64 ? 0xffffffff : data.length, true); cd.setUint32(24, zip64 ? 0xffffffff : raw.length, true);
    cd.setUint16(28, n.length, true); cd.setUint16(30, zip64 ? 20 : 0, true); cd.setUint32(42, offset, true);
    const cdBytes = new Uint8Array(cd.buffer);
    if (zip64) {
      const ex = new DataView(cd.buffer, 46);
      ex.setUint16(0, 1, true); ex.setUint16(2, 16, true); ex.setBigUint64(4, BigInt(raw.length), true); ex.setBigUint64(12, BigInt(data.length), true);
    }
    const cdFull = new Uint8Array(cdBytes.length + n.length);
    cdFull.set(cdBytes.subarray(0, 46)); cdFull.set(n, 46); cdFull.set(cdBytes.subarray(46), 46 + n.length);
    parts.push(new Uint8Array(local.buffer), n, data);
    central.push(cdFull);
    offset += 30 + n.length + data.length;
  }
  const cdSize = central.reduce((a, b) => a + b.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true); end.setUint16(8, central.length, true); end.setUint16(10, central.length, true);
  end.setUint32(12, cdSize, true); end.setUint32(16, offset, true);
  return Buffer.concat([...parts, ...central, new Uint8Array(end.buffer)]);
}

/** Row-major N×C×H×W → N×H×W×C, written the slow obvious way. */
function hwc(x: readonly number[], n: number, c: number, h: number, w: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < n; r++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) for (let k = 0; k < c; k++) out.push(x[((r * c + k) * h + i) * w + j]!);
  return out;
}

describe('dataFile: text', () => {
  it('CSV with a header, CRLF, blank lines, quotes; integer labels 0..K-1 used as they are', () => {
    const d = csv('data.csv', 'a,b,"c, d",label\r\n1,2,3,0\r\n\r\n4,"5.5",6,1\r\n7,8,-9e-1,2\r\n\r\n', cls(3, 4));
    assert.deepEqual([d.n, d.inputDim, d.classification], [3, 3, true]);
    assert.deepEqual([...d.x], f32([1, 2, 3, 4, 5.5, 6, 7, 8, -0.9]));
    assert.deepEqual([...d.y], [0, 1, 2]);
    assert.equal(d.description, 'data.csv: 3 rows, 3 features, 3 classes (labels 0–2)');
  });

  it('semicolons, tabs and whitespace; string and non-contiguous labels mapped in sorted order', () => {
    const s = csv('d.csv', '1;2;dog\n3;4;cat\n5;6;dog\n', cls(2, 3));
    assert.deepEqual([...s.x, ...s.y], [1, 2, 3, 4, 5, 6, 1, 0, 1]);
    assert.match(s.description, /2 classes \(labels mapped in sorted order: cat→0, dog→1\)$/);
    const t = csv('d.tsv', '1\t2\t3\n4\t5\t1\n', cls(2, 2));
    assert.deepEqual([...t.y], [1, 0]);
    assert.match(t.description, /labels mapped in sorted order: 1→0, 3→1/);
    const w = csv('d.txt', '  1.0 2.0   1\n3 4 2\n5 6 3\n', cls(2, 3));
    assert.deepEqual([...w.x, ...w.y], [1, 2, 3, 4, 5, 6, 0, 1, 2]);
    assert.match(w.description, /3 classes \(labels 1–3 mapped to classes 0–2\)/);
  });

  it('regression targets are the last outputDim columns, used as they are', () => {
    const d = csv('r.csv', 'x,t1,t2\n1,10,-20.5\n2,30,40\n', reg(1, 2));
    assert.deepEqual([...d.x, ...d.y], [1, 2, 10, -20.5, 30, 40]);
    assert.equal(d.description, 'r.csv: 2 rows, 1 features, 2 regression targets (used as they are)');
  });

  it('drops rows beyond maxRows and says so', () => {
    const d = csv('m.csv', '1,0\n2,1\n3,0\n4,1\n5,0\n', cls(1, 2), 2);
    assert.deepEqual([d.n, ...d.x], [2, 1, 2]);
    assert.match(d.description, /3 rows beyond the first 2 dropped$/);
  });

  it('image models: a flat row is PyTorch C,H,W, transposed to H,W,C', () => {
    const row = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const d = csv('img.csv', `${row.join(',')},1\n`, cls(12, 2, [2, 3, 2]));
    assert.deepEqual([...d.x], hwc(row, 1, 2, 2, 3));
    assert.match(d.description, /inputs read as 2×2×3 in PyTorch's C,H,W order and transposed to H,W,C$/);
  });

  it('says exactly what is wrong with a text file', () => {
    fails(() => csv('data.csv', 'a,b,y\n1,2,0\n1,x,1\n', cls(2, 2)), /^data\.csv line 3, column 2 \("b"\): feature "x" is not a finite number$/);
    fails(() => csv('data.csv', 'a,b,y\n,2,0\n', cls(2, 2)), /^data\.csv line 2, column 1 \("a"\): empty feature cell$/);
    fails(() => csv('data.csv', '1,2,0\n', cls(3, 2)), /^data\.csv has 2 feature columns \(the last column is the label\); the model takes 3 inputs$/);
    fails(() => csv('data.csv', '1,2,3,0\n', cls(4, 2, [2, 2, 1])), /the model takes 4 inputs \(H×W×C = 2×2×1\)$/);
    fails(() => csv('data.csv', '1,2,3\n', reg(2, 2)), /has 1 feature columns \(the last 2 columns are the targets\); the model takes 2 inputs/);
    fails(() => csv('data.csv', '1,0\n2,1\n3,2\n', cls(1, 2)), /^data\.csv has 3 classes \(labels 0–2\); the model has 2 outputs$/);
    fails(() => csv('data.csv', '1,a\n2,b\n3,c\n', cls(1, 2)), /has 3 classes \(labels mapped in sorted order: a→0, b→1, c→2\); the model has 2 outputs/);
    fails(() => csv('data.csv', '1,2,0\n1,2\n', cls(2, 2)), /^data\.csv line 2 has 2 columns; line 1 has 3$/);
    fails(() => csv('data.csv', 'a,b,y\n1,2,\n', cls(2, 2)), /^data\.csv line 2, column 3 \("y"\): empty label$/);
    fails(() => csv('data.csv', '1,2\n3,1e999\n', reg(1, 1)), /line 2, column 2: target "1e999" is not a finite number/);
    fails(() => csv('data.csv', 'a,b,y\n\n', cls(2, 2)), /^data\.csv has no data rows$/);
    fails(() => parseDataFile('data.parquet', new Uint8Array(4), cls(1, 2)), /unsupported data file type; .*\.csv, \.tsv, \.txt, \.npy and \.npz/);
  });
});

describe('dataFile: NumPy', () => {
  it('.npy 2-D arrays of every dtype, v1 and v2 headers, big-endian', () => {
    const a = parseDataFile('a.npy', npy('<f4', [2, 3], [0.1, 0.2, 1, 0.3, 0.4, 0]), cls(2, 2));
    assert.deepEqual([...a.x, ...a.y], [...f32([0.1, 0.2, 0.3, 0.4]), 1, 0]);
    const b = parseDataFile('b.npy', npy('>f8', [2, 2], [0.1, -5, 2, 7], { version: 2 }), reg(1, 1));
    assert.deepEqual([...b.x, ...b.y], [...f32([0.1, 2]), -5, 7]);
    for (const dt of ['<i2', '>i2', '<i8', '|u1']) {
      const d = parseDataFile('c.npy', npy(dt, [2, 2], [3, 1, 4, 0]), cls(1, 2));
      assert.deepEqual([...d.x, ...d.y], [3, 4, 1, 0], dt);
    }
    assert.deepEqual([...parseDataFile('b.npy', npy('|b1', [1, 3], [1, 0, 1]), cls(2, 2)).x], [1, 0]);
  });

  it('says exactly what is wrong with a .npy', () => {
    fails(() => parseDataFile('f.npy', npy('<f8', [2, 2], [1, 2, 3, 0], { fortran: true }), cls(1, 2)), /^f\.npy is stored in Fortran order; save it with np\.save\(path, np\.ascontiguousarray\(a\)\)$/);
    fails(() => parseDataFile('c.npy', npy('<c8', [1, 2], [0, 0]), cls(1, 2)), /^c\.npy: dtype '<c8' is not supported/);
    fails(() => parseDataFile('z.npy', enc('PK\x03\x04 not numpy'), cls(1, 2)), /^z\.npy is not a NumPy \.npy file/);
    const full = npy('<f4', [2, 2], [1, 2, 3, 0]);
    fails(() => parseDataFile('t.npy', full.subarray(0, full.length - 10), cls(1, 2)), /^t\.npy is truncated: shape 2×2 needs 16 data bytes, the file has 6$/);
    fails(() => parseDataFile('v.npy', npy('<f4', [3], [1, 2, 3]), cls(1, 2)), /^v\.npy has shape 3; a \.npy must be 2-D/);
    fails(() => parseDataFile('w.npy', npy('<f4', [1, 3], [1, 2, 0]), cls(1, 2)), /^w\.npy has 2 feature columns \(shape 1×3, the last column is the label\); the model takes 1 inputs$/);
    fails(() => parseDataFile('n.npy', npy('<f4', [2, 2], [1, 0, Number.NaN, 1]), cls(1, 2)), /^n\.npy: row 2 has a non-finite feature \(NaN\) at position 1$/);
    fails(() => parseDataFile('l.npy', npy('<f4', [2, 2], [1, 0, 2, Number.POSITIVE_INFINITY]), cls(1, 2)), /^l\.npy: row 2 has a non-finite label \(Infinity\)$/);
  });

  it('.npz stored and deflated, ZIP64 sizes, N×D, N×C×H×W and N×H×W×C inputs, one-hot and N×k targets', () => {
    const img = Array.from({ length: 2 * 2 * 3 * 4 }, (_, i) => i / 4);
    const want = cls(24, 3, [3, 4, 2]);
    const chw = parseDataFile('i.npz', zip({ 'x.npy': npy('<f4', [2, 2, 3, 4], img), 'y.npy': npy('<i8', [2], [2, 0]) }, 8, true), want);
    assert.deepEqual([...chw.x], hwc(img, 2, 2, 3, 4));
    assert.deepEqual([...chw.y], [1, 0]);
    assert.match(chw.description, /^i\.npz: 2 rows, 24 features, 2 classes \(labels mapped in sorted order: 0→0, 2→1\); inputs read as 2×3×4 in PyTorch's C,H,W order and transposed to H,W,C$/);
    const asIs = parseDataFile('h.npz', zip({ 'inputs.npy': npy('<f4', [2, 3, 4, 2], img), 'labels.npy': npy('<i8', [2, 1], [1, 0]) }), want);
    assert.deepEqual([...asIs.x, ...asIs.y], [...img, 1, 0]);
    assert.match(asIs.description, /inputs is N×H×W×C, used as it is/);
    const oneHot = parseDataFile('o.npz', zip({ 'X.npy': npy('<f8', [2, 1], [1, 2]), 'Y.npy': npy('<f4', [2, 3], [0, 0, 1, 0, 1, 0]) }), cls(1, 3));
    assert.deepEqual([...oneHot.y], [2, 1]);
    assert.match(oneHot.description, /1 features, 3 classes \(one-hot targets, the argmax is the class\)$/);
    const r = parseDataFile('r.npz', zip({ 'arr_0.npy': npy('<f4', [2, 1, 2], [1, 2, 3, 4]), 'arr_1.npy': npy('<f8', [2, 2], [5, 6, 7, 8]) }), reg(2, 2));
    assert.deepEqual([...r.x, ...r.y], [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('says exactly what is wrong with an .npz', () => {
    const x = npy('<f4', [2, 2], [1, 2, 3, 4]), y = npy('<i8', [2], [0, 1]);
    fails(() => parseDataFile('a.npz', zip({ 'a.npy': x, 'b.npy': y, 'c.npy': y }), cls(2, 2)), /^a\.npz has arrays a, b, c; name the inputs x\/X\/inputs\/features\/data and the targets y\/Y\/labels\/targets\/target/);
    fails(() => parseDataFile('b.npz', zip({ 'x.npy': x, 'y.npy': y }, 12), cls(2, 2)), /^b\.npz: x\.npy uses zip compression method 12; only stored and deflate/);
    fails(() => parseDataFile('c.npz', zip({ 'x.npy': x, 'y.npy': npy('<i8', [3], [0, 1, 1]) }), cls(2, 2)), /^c\.npz: x has 2 rows but y has 3$/);
    fails(() => parseDataFile('d.npz', zip({ 'x.npy': x, 'y.npy': npy('<f4', [2, 3], [0, 1, 1, 0, 1, 1]) }), reg(2, 2)), /^d\.npz: y has shape 2×3; the model has 2 outputs \(N×2 targets\)$/);
    fails(() => parseDataFile('e.npz', zip({ 'x.npy': x, 'y.npy': npy('<f4', [2, 3], [0, 1, 1, 0, 1, 1]) }), cls(2, 2)), /^e\.npz: y has shape 2×3; the model wants N class labels \(or N×2 one-hot\)$/);
    fails(() => parseDataFile('f.npz', zip({ 'x.npy': npy('<f4', [1, 3, 2, 2], new Array(12).fill(0)), 'y.npy': npy('<i8', [1], [0]) }), cls(8, 2, [2, 2, 2])), /^f\.npz: x has shape 1×3×2×2; the model takes 2×2×2 images \(N×C×H×W, or N×H×W×C\)$/);
    fails(() => parseDataFile('g.npz', zip({ 'x.npy': x, 'y.npy': y }), cls(3, 2)), /^g\.npz has x of shape 2×2 \(2 features a row\); the model takes 3 inputs$/);
    fails(() => parseDataFile('h.npz', enc('not a zip at all, honestly'), cls(2, 2)), /^h\.npz is not a zip archive/);
  });
});

describe('dataFile: files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'regscope-data-'));

  it('reads a file, refuses one over 512 MiB and a missing one', () => {
    fs.writeFileSync(path.join(dir, 'ok.csv'), '1,0\n2,1\n');
    assert.equal(readDataFile(path.join(dir, 'ok.csv'), cls(1, 2)).description, 'ok.csv: 2 rows, 1 features, 2 classes (labels 0–1)');
    const big = path.join(dir, 'big.csv');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 513 * 2 ** 20); // sparse: no disk used
    fails(() => readDataFile(big, cls(1, 2)), /big\.csv is 513 MiB; the embedded engine reads data files up to 512 MiB/);
    fs.rmSync(big);
    fails(() => readDataFile(path.join(dir, 'missing.csv'), cls(1, 2)), /^cannot read the data file .*missing\.csv: ENOENT/);
  });

  it('reads what numpy writes (np.save, savez, savez_compressed, savetxt)', (t) => {
    if (spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status !== 0) {
      if (process.env['CI'] === 'true') assert.fail('/usr/bin/python3 has no numpy: CI installs python3-torch, which brings it');
      t.skip('no numpy for /usr/bin/python3 (apt install python3-numpy)');
      return;
    }
    const script = `
import numpy as np, os, sys
d = sys.argv[1]; p = lambda f: os.path.join(d, f)
x = np.arange(15).reshape(5, 3) * 0.1 - 1.3
lab = np.array([2, 0, 1, 1, 0], dtype=np.int64)
table = np.hstack([x, lab[:, None]])
np.save(p('f32.npy'), table.astype(np.float32))
np.save(p('be.npy'), table.astype('>f8'))
np.save(p('reg.npy'), np.hstack([x, x[:, :2] * 2]))
np.save(p('fortran.npy'), np.asfortranarray(table))
np.savez(p('plain.npz'), x=x.astype(np.float32), y=lab)
img = np.arange(5 * 2 * 3 * 4, dtype=np.float32).reshape(5, 2, 3, 4) * 0.5
np.savez_compressed(p('img.npz'), x=img, labels=lab)
np.savez_compressed(p('hwc.npz'), inputs=img.transpose(0, 2, 3, 1).astype(np.float64), targets=lab)
np.savetxt(p('table.txt'), table)
np.savetxt(p('table.csv'), table, delimiter=',', header='a,b,c,label', comments='')
`;
    const r = spawnSync('/usr/bin/python3', ['-c', script, dir], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const xs = Array.from({ length: 15 }, (_, i) => i * 0.1 - 1.3), labels = [2, 0, 1, 1, 0];
    for (const f of ['f32.npy', 'be.npy', 'plain.npz', 'table.txt', 'table.csv']) {
      const d = readDataFile(path.join(dir, f), cls(3, 3));
      assert.deepEqual([...d.x], f32(xs), f);
      assert.deepEqual([...d.y], labels, f);
      assert.equal(d.description, `${f}: 5 rows, 3 features, 3 classes (labels 0–2)`);
    }
    const reg2 = readDataFile(path.join(dir, 'reg.npy'), reg(3, 2));
    assert.deepEqual([...reg2.y], f32(xs.flatMap((v, i) => (i % 3 < 2 ? [v * 2] : []))));
    const img = Array.from({ length: 120 }, (_, i) => i * 0.5);
    for (const f of ['img.npz', 'hwc.npz']) {
      const d = readDataFile(path.join(dir, f), cls(24, 3, [3, 4, 2]));
      assert.deepEqual([...d.x], hwc(img, 5, 2, 3, 4), f);
      assert.deepEqual([...d.y], labels, f);
    }
    fails(() => readDataFile(path.join(dir, 'fortran.npy'), cls(3, 3)), /fortran\.npy is stored in Fortran order/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
