/**
 * The user's own data for the embedded engine (`--data data.csv`), instead of teacher data:
 * CSV/TSV/whitespace text, NumPy .npy, and .npz (np.savez / np.savez_compressed). Parsing is
 * pure (bytes in, Dataset out); every problem is a DataFileError whose message names the file
 * and, for text, the line and column, so the user can fix the file without reading code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import type { Dataset } from './teacherData';

export interface DataWant {
  readonly inputDim: number;
  /** [H, W, C] for image models; the surrogate's rows are H·W·C channels-last. */
  readonly inputShape?: readonly [number, number, number];
  readonly outputDim: number;
  readonly classification: boolean;
}

export interface DataOptions {
  /** Rows beyond this are dropped (default 65536). */
  readonly maxRows?: number;
}

export class DataFileError extends Error {
  override readonly name = 'DataFileError';
}

export const MAX_DATA_FILE_BYTES = 512 * 2 ** 20;
const DEFAULT_MAX_ROWS = 65536;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const X_NAMES = ['x', 'X', 'inputs', 'features', 'data'];
const Y_NAMES = ['y', 'Y', 'labels', 'targets', 'target'];

const fail = (message: string): never => { throw new DataFileError(message); };
const dims = (shape: readonly number[]): string => (shape.length ? shape.join('×') : 'a scalar');
const plural = (k: number, word: string): string => `${k} ${word}${k === 1 ? '' : 's'}`;

export function readDataFile(file: string, want: DataWant, opts: DataOptions = {}): Dataset {
  let stat: fs.Stats;
  try { stat = fs.statSync(file); } catch (e) { return fail(`cannot read the data file ${file}: ${(e as Error).message}`); }
  if (!stat.isFile()) fail(`the data file ${file} is not a file`);
  if (stat.size > MAX_DATA_FILE_BYTES) fail(`${file} is ${Math.round(stat.size / 2 ** 20)} MiB; the embedded engine reads data files up to 512 MiB (save a subset, or use the Python engine)`);
  return parseDataFile(path.basename(file), fs.readFileSync(file), want, opts);
}

export function parseDataFile(fileName: string, bytes: Uint8Array, want: DataWant, opts: DataOptions = {}): Dataset {
  const maxRows = Math.max(1, Math.floor(opts.maxRows ?? DEFAULT_MAX_ROWS));
  const ext = path.extname(fileName).toLowerCase();
  if (ext === '.csv' || ext === '.tsv' || ext === '.txt') return parseText(fileName, bytes, want, maxRows);
  if (ext === '.npy') return fromMatrix(fileName, parseNpy(fileName, bytes), want, maxRows);
  if (ext === '.npz') return parseNpz(fileName, bytes, want, maxRows);
  return fail(`${fileName}: unsupported data file type; the embedded engine reads .csv, .tsv, .txt, .npy and .npz`);
}

// ---- text ----

function parseText(name: string, bytes: Uint8Array, want: DataWant, maxRows: number): Dataset {
  const lines = new TextDecoder('utf-8').decode(bytes).split(/\r\n|\n|\r/); // TextDecoder drops a BOM
  const t = want.classification ? 1 : want.outputDim;
  let delim: string | null | undefined;
  let header: string[] | undefined;
  let cols = 0, firstLine = 0, n = 0, total = 0;
  let x: Float32Array = new Float32Array(0), y: Float32Array = new Float32Array(0);
  const labels: string[] = [];
  const where = (line: number, c: number): string => `${name} line ${line}, column ${c + 1}${header?.[c] ? ` ("${header[c]}")` : ''}`;
  const num = (cell: string, line: number, c: number, what: string): number => {
    if (cell === '') fail(`${where(line, c)}: empty ${what} cell`);
    const v = NUMBER.test(cell) ? Math.fround(Number(cell)) : Number.NaN;
    return Number.isFinite(v) ? v : fail(`${where(line, c)}: ${what} "${cell}" is not a finite number`);
  };
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    delim ??= detectDelimiter(lines[i]!);
    const line = i + 1;
    if (!cols) {
      const cells = splitCells(lines[i]!, delim);
      cols = cells.length;
      firstLine = line;
      const d = cols - t;
      if (d !== want.inputDim) fail(countError(name, `${Math.max(d, 0)} feature columns (${targetColumns(want)})`, want));
      if (cells.slice(0, d).some((c) => !NUMBER.test(c))) { header = cells; continue; }
    }
    total++;
    if (n >= maxRows) continue; // only counted: the description says how many were dropped
    const cells = splitCells(lines[i]!, delim);
    if (cells.length !== cols) fail(`${name} line ${line} has ${plural(cells.length, 'column')}; line ${firstLine} has ${cols}`);
    const d = want.inputDim;
    x = grow(x, (n + 1) * d);
    y = grow(y, (n + 1) * t);
    for (let c = 0; c < d; c++) x[n * d + c] = num(cells[c]!, line, c, 'feature');
    if (want.classification) {
      if (cells[d] === '') fail(`${where(line, d)}: empty label`);
      labels.push(cells[d]!);
    } else {
      for (let c = 0; c < t; c++) y[n * t + c] = num(cells[d + c]!, line, d + c, 'target');
    }
    n++;
  }
  if (n === 0) fail(`${name} has no data rows`);
  return assemble(name, want, n, total, x.slice(0, n * want.inputDim), true, want.classification ? labels : y.slice(0, n * t), []);
}

/** Doubling growth: the row count is only known at the end. */
function grow(a: Float32Array, need: number): Float32Array {
  if (a.length >= need) return a;
  const b = new Float32Array(Math.max(need, 2 * a.length));
  b.set(a);
  return b;
}

/** Tab, semicolon or comma, whichever the first line has most of; null: split on whitespace (np.savetxt). */
function detectDelimiter(line: string): string | null {
  const counts = ['\t', ';', ','].map((d) => [d, line.split(d).length - 1] as const).sort((a, b) => b[1] - a[1]);
  return counts[0]![1] > 0 ? counts[0]![0] : null;
}

function splitCells(line: string, delim: string | null): string[] {
  if (delim === null) return line.trim().split(/\s+/);
  if (!line.includes('"')) return line.split(delim).map((c) => c.trim());
  const out: string[] = [];
  let cur = '', quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch !== '"') cur += ch;
      else if (line[i + 1] === '"') { cur += '"'; i++; } else quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === delim) { out.push(cur.trim()); cur = ''; } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

// ---- NumPy ----

interface NdArray { readonly shape: readonly number[]; readonly at: (i: number) => number }

function parseNpy(label: string, bytes: Uint8Array): NdArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) fail(`${label} is not a NumPy .npy file (no \\x93NUMPY magic)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  if (major < 1 || major > 3) fail(`${label}: NumPy format version ${major} is not supported (1–3 are)`);
  const start = major === 1 ? 10 : 12;
  const end = start + (major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true));
  if (end > bytes.length) fail(`${label} is truncated (its header runs past the end)`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, end));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) return fail(`${label}: cannot read the .npy header (structured or object arrays are not supported): ${header.trim()}`);
  if (fortran === 'True') fail(`${label} is stored in Fortran order; save it with np.save(path, np.ascontiguousarray(a))`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const m = /^([<>|=])([fiub])(\d)$/.exec(descr);
  const le = m?.[1] !== '>';
  const readers: Record<string, (o: number) => number> = {
    f4: (o) => dv.getFloat32(o, le), f8: (o) => dv.getFloat64(o, le),
    i1: (o) => dv.getInt8(o), i2: (o) => dv.getInt16(o, le), i4: (o) => dv.getInt32(o, le), i8: (o) => Number(dv.getBigInt64(o, le)),
    u1: (o) => dv.getUint8(o), u2: (o) => dv.getUint16(o, le), u4: (o) => dv.getUint32(o, le), u8: (o) => Number(dv.getBigUint64(o, le)),
    b1: (o) => (dv.getUint8(o) ? 1 : 0),
  };
  const read = m ? readers[m[2]! + m[3]!] : undefined;
  if (!m || !read) return fail(`${label}: dtype '${descr}' is not supported (float32/64, int8–64, uint8–64 and bool are)`);
  const size = Number(m[3]);
  const count = shape.reduce((a, b) => a * b, 1);
  if (end + count * size > bytes.length) fail(`${label} is truncated: shape ${dims(shape)} needs ${count * size} data bytes, the file has ${bytes.length - end}`);
  return { shape, at: (i) => read(end + i * size) };
}

/** A 2-D array as a table: features, then the target column(s) at the end, as in a CSV. */
function fromMatrix(name: string, a: NdArray, want: DataWant, maxRows: number): Dataset {
  if (a.shape.length !== 2) fail(`${name} has shape ${dims(a.shape)}; a .npy must be 2-D (rows × features then target${want.classification ? '' : 's'}); put images in an .npz with x and y`);
  const [total, cols] = a.shape as [number, number];
  const t = want.classification ? 1 : want.outputDim;
  const d = cols - t;
  if (d !== want.inputDim) fail(countError(name, `${Math.max(d, 0)} feature columns (shape ${dims(a.shape)}, ${targetColumns(want)})`, want));
  const n = Math.min(total, maxRows);
  const x = new Float32Array(n * d);
  const y = want.classification ? new Array<number>(n).fill(0) : new Float32Array(n * t);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < d; c++) x[r * d + c] = a.at(r * cols + c);
    for (let c = 0; c < t; c++) y[r * t + c] = a.at(r * cols + d + c);
  }
  return assemble(name, want, n, total, x, true, y, []);
}

function parseNpz(name: string, bytes: Uint8Array, want: DataWant, maxRows: number): Dataset {
  const arrays = unzip(name, bytes);
  const names = [...arrays.keys()];
  const pick = (cands: readonly string[], positional: string): string | undefined => cands.find((c) => arrays.has(c)) ?? (names.length === 2 && arrays.has(positional) ? positional : undefined);
  const xn = pick(X_NAMES, 'arr_0'), yn = pick(Y_NAMES, 'arr_1');
  if (!xn || !yn) return fail(`${name} has arrays ${names.join(', ') || '(none)'}; name the inputs ${X_NAMES.join('/')} and the targets ${Y_NAMES.join('/')} (np.savez(path, x=..., y=...))`);
  const xa = parseNpy(`${name}: ${xn}`, arrays.get(xn)!), ya = parseNpy(`${name}: ${yn}`, arrays.get(yn)!);
  const xs = xa.shape, ys = ya.shape;
  if (xs.length < 2) fail(`${name}: ${xn} has shape ${dims(xs)}; it must be N×features${want.inputShape ? ' or N×C×H×W' : ''}`);
  if (ys[0] !== xs[0]) fail(`${name}: ${xn} has ${xs[0]} rows but ${yn} has ${ys[0] ?? 'none (a scalar)'}`);
  const total = xs[0]!, n = Math.min(total, maxRows), k = want.outputDim;
  const notes: string[] = [];
  const per = xs.slice(1).reduce((a, b) => a * b, 1);
  let chw = want.inputShape !== undefined;
  if (want.inputShape && xs.length === 4) {
    const [h, w, c] = want.inputShape;
    if (xs[3] === c && xs[1] !== c) {
      chw = false;
      if (xs[1] !== h || xs[2] !== w) fail(`${name}: ${xn} has shape ${dims(xs)}; the model takes ${c}×${h}×${w} images (N×C×H×W, or N×H×W×C)`);
    } else if (xs[1] !== c || xs[2] !== h || xs[3] !== w) fail(`${name}: ${xn} has shape ${dims(xs)}; the model takes ${c}×${h}×${w} images (N×C×H×W, or N×H×W×C)`);
    if (!chw) notes.push(`${xn} is N×H×W×C, used as it is`);
  } else if (per !== want.inputDim) fail(countError(name, `${xn} of shape ${dims(xs)} (${per} features a row)`, want));
  const x = new Float32Array(n * per);
  for (let i = 0; i < x.length; i++) x[i] = xa.at(i);
  let y: Float32Array | number[];
  if (want.classification && (ys.length === 1 || (ys.length === 2 && ys[1] === 1))) {
    y = Array.from({ length: n }, (_, r) => ya.at(r));
  } else if (want.classification && ys.length === 2 && ys[1] === k) {
    // One-hot (Keras style): the argmax is the class index, used as it is (a Float32Array tells assemble so).
    y = Float32Array.from({ length: n }, (_, r) => { let b = 0; for (let c = 1; c < k; c++) if (ya.at(r * k + c) > ya.at(r * k + b)) b = c; return b; });
  } else if (!want.classification && (ys.length === 2 ? ys[1] === k : ys.length === 1 && k === 1)) {
    y = Float32Array.from({ length: n * k }, (_, i) => ya.at(i));
  } else {
    return fail(`${name}: ${yn} has shape ${dims(ys)}; the model ${want.classification ? `wants N class labels (or N×${k} one-hot)` : `has ${k} output${k === 1 ? '' : 's'} (N×${k} targets${k === 1 ? ', or N' : ''})`}`);
  }
  return assemble(name, want, n, total, x, chw, y, notes);
}

/** The .npy members of a zip (central directory, STORED or DEFLATE; ZIP64 sizes, as np.savez forces). */
function unzip(name: string, b: Uint8Array): Map<string, Uint8Array> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 65535) && eocd < 0; i--) if (dv.getUint32(i, true) === 0x06054b50) eocd = i;
  if (eocd < 0) fail(`${name} is not a zip archive (np.savez writes one); no end of central directory found`);
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  const out = new Map<string, Uint8Array>();
  for (let e = 0; e < count; e++) {
    if (p + 46 > b.length || dv.getUint32(p, true) !== 0x02014b50) fail(`${name}: corrupt zip central directory`);
    const method = dv.getUint16(p + 10, true);
    let csize = dv.getUint32(p + 20, true), usize = dv.getUint32(p + 24, true), local = dv.getUint32(p + 42, true);
    const nameLen = dv.getUint16(p + 28, true), extraLen = dv.getUint16(p + 30, true), commentLen = dv.getUint16(p + 32, true);
    const entry = new TextDecoder().decode(b.subarray(p + 46, p + 46 + nameLen));
    for (let q = p + 46 + nameLen; q + 4 <= p + 46 + nameLen + extraLen; q += 4 + dv.getUint16(q + 2, true)) {
      if (dv.getUint16(q, true) !== 1) continue; // ZIP64 extra: the 8-byte values of the fields set to 0xFFFFFFFF, in order
      let f = q + 4;
      const big = (): number => { const v = Number(dv.getBigUint64(f, true)); f += 8; return v; };
      if (usize === 0xffffffff) usize = big();
      if (csize === 0xffffffff) csize = big();
      if (local === 0xffffffff) local = big();
    }
    p += 46 + nameLen + extraLen + commentLen;
    if (!entry.endsWith('.npy')) continue;
    if (local + 30 > b.length || dv.getUint32(local, true) !== 0x04034b50) fail(`${name}: corrupt zip entry ${entry}`);
    const data = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    const raw = b.subarray(data, data + csize);
    if (method !== 0 && method !== 8) fail(`${name}: ${entry} uses zip compression method ${method}; only stored and deflate (np.savez, np.savez_compressed) are supported`);
    let bytes: Uint8Array;
    try { bytes = method === 0 ? raw : inflateRawSync(raw); } catch (err) { return fail(`${name}: cannot inflate ${entry}: ${(err as Error).message}`); }
    if (bytes.length !== usize) fail(`${name}: ${entry} is truncated (${bytes.length} of ${usize} bytes)`);
    out.set(entry.slice(0, -4), bytes);
  }
  return out;
}

// ---- shared ----

function targetColumns(want: DataWant): string {
  if (want.classification) return 'the last column is the label';
  return want.outputDim === 1 ? 'the last column is the target' : `the last ${want.outputDim} columns are the targets`;
}

function countError(name: string, has: string, want: DataWant): string {
  const s = want.inputShape;
  return `${name} has ${has}; the model takes ${want.inputDim} inputs${s ? ` (H×W×C = ${s.join('×')})` : ''}`;
}

/** Checks values, turns labels into class indices, lays image rows out channels-last, and says what it did. */
function assemble(name: string, want: DataWant, n: number, total: number, x: Float32Array, flatChw: boolean, targets: Float32Array | readonly (string | number)[], notes: string[]): Dataset {
  const d = want.inputDim;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) fail(`${name}: row ${Math.floor(i / d) + 1} has a non-finite feature (${x[i]}) at position ${(i % d) + 1}`);
  let y: Float32Array, what: string;
  if (want.classification && targets instanceof Float32Array) {
    y = targets;
    what = `${want.outputDim} classes (one-hot targets, the argmax is the class)`;
  } else if (want.classification) {
    ({ y, what } = classes(name, targets as readonly (string | number)[], want.outputDim));
  } else {
    y = targets as Float32Array;
    const bad = y.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail(`${name}: row ${Math.floor(bad / want.outputDim) + 1} has a non-finite target (${y[bad]})`);
    what = `${want.outputDim} regression target${want.outputDim === 1 ? '' : 's'} (used as they are)`;
  }
  const s = want.inputShape;
  if (s && flatChw && s[2] > 1) {
    x = chwToHwc(x, n, s);
    notes.push(`inputs read as ${s[2]}×${s[0]}×${s[1]} in PyTorch's C,H,W order and transposed to H,W,C`);
  }
  if (total > n) notes.push(`${total - n} rows beyond the first ${n} dropped`);
  return { n, inputDim: d, x, y, classification: want.classification, description: [`${name}: ${n} rows, ${d} features, ${what}`, ...notes].join('; ') };
}

function classes(name: string, raw: readonly (string | number)[], outputs: number): { y: Float32Array; what: string } {
  const numeric = raw.every((v) => typeof v === 'number' || NUMBER.test(v));
  const vals: (string | number)[] = numeric ? raw.map(Number) : raw.map(String);
  const bad = vals.findIndex((v) => typeof v === 'number' && !Number.isFinite(v));
  if (bad >= 0) fail(`${name}: row ${bad + 1} has a non-finite label (${vals[bad]})`);
  const distinct = [...new Set<string | number>(vals)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const k = distinct.length;
  const asIs = distinct.every((v, i) => v === i);
  const range = (a: string | number, b: string | number): string => (a === b ? `${a}` : `${a}–${b}`);
  const ints = numeric && Number.isInteger(distinct[0]) && distinct.every((v, i) => i === 0 || v === (distinct[i - 1] as number) + 1);
  const listed = distinct.slice(0, 8).map((v, i) => `${v}→${i}`).join(', ') + (k > 8 ? ', …' : '');
  const labels = asIs ? `labels ${range(0, k - 1)}` : ints ? `labels ${range(distinct[0]!, distinct[k - 1]!)} mapped to classes ${range(0, k - 1)}` : `labels mapped in sorted order: ${listed}`;
  if (k > outputs) fail(`${name} has ${k} classes (${labels}); the model has ${outputs} outputs`);
  const index = new Map(distinct.map((v, i) => [v, i]));
  return { y: Float32Array.from(vals, (v) => index.get(v)!), what: `${k} class${k === 1 ? '' : 'es'} (${labels})` };
}

function chwToHwc(x: Float32Array, n: number, [h, w, c]: readonly [number, number, number]): Float32Array {
  const out = new Float32Array(x.length), hw = h * w, d = hw * c;
  for (let r = 0; r < n; r++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < hw; i++) out[r * d + i * c + ch] = x[r * d + ch * hw + i]!;
  return out;
}
