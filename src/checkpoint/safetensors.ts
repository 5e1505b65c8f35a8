/**
 * Reader for the safetensors format: an 8-byte little-endian header length, a JSON header mapping
 * tensor names to `{dtype, shape, data_offsets}` (offsets relative to the data section), then the
 * raw little-endian tensor bytes.
 *
 * The header is validated completely before any data is read. Each tensor is read with positioned
 * reads into its own fresh ArrayBuffer: gpt2-xl exceeds Node's maximum Buffer size, so the whole file
 * is never read at once, and a fresh buffer is always aligned for a Float32Array view.
 * `readTensorData` reads one tensor of an already validated header on demand, so a loader can hold
 * one tensor at a time instead of the whole checkpoint.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { DType } from '../kernels/backend.js';
import type { Tensor } from './tensor.js';

/** Bytes per element of every dtype the format defines; knowing them lets us validate any file. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** The dtypes tinyvllm computes from. */
const SUPPORTED: Readonly<Record<string, DType>> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

/** Same cap as the reference implementation: a larger "length" means the file is not safetensors. */
const MAX_HEADER_BYTES = 100_000_000;

/** One tensor as described by the header. */
export interface TensorEntry {
  readonly name: string;
  /** The safetensors dtype name, e.g. `F32`, `BF16`. */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Absolute byte range in the file. */
  readonly start: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly file: string;
  readonly fileSize: number;
  /** Offset of the data section: 8 + header length. */
  readonly dataStart: number;
  /** Tensors in header order. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  readonly metadata: Readonly<Record<string, string>> | null;
}

/** Reads and validates only the header: enough for shapes and dtypes without loading weights. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = openFile(file);
  try {
    return parseHeader(fd, file);
  } finally {
    closeSync(fd);
  }
}

/** Maps a safetensors dtype to tinyvllm's, or throws naming the tensor and file. */
export function supportedDType(entry: TensorEntry, file: string): DType {
  const dtype = SUPPORTED[entry.dtype];
  if (dtype === undefined) {
    throw new Error(
      `${file}: tensor "${entry.name}" has dtype ${entry.dtype}; tinyvllm supports only ${Object.keys(SUPPORTED).join(', ')}`,
    );
  }
  return dtype;
}

/** An open safetensors file whose header has been validated. Call `close()` when done. */
export class SafetensorsFile {
  private fd: number | null;
  readonly header: SafetensorsHeader;

  constructor(readonly file: string) {
    this.fd = openFile(file);
    try {
      this.header = parseHeader(this.fd, file);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Reads one tensor: a Float32Array for F32, raw Uint16Array bits for F16/BF16. */
  read(name: string): Tensor {
    if (this.fd === null) throw new Error(`${this.file}: read "${name}" after close`);
    const entry = this.header.tensors.get(name);
    if (entry === undefined) throw new Error(`${this.file}: no tensor named "${name}"`);
    const dtype = supportedDType(entry, this.file);
    return { name, dtype, shape: entry.shape, data: readEntry(this.fd, this.file, entry, dtype), file: this.file };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** Reads one tensor described by `entry` (from a validated header of `file`), opening the file just for it. */
export function readTensorData(file: string, entry: TensorEntry, dtype: DType): Float32Array | Uint16Array {
  const fd = openFile(file);
  try {
    return readEntry(fd, file, entry, dtype);
  } finally {
    closeSync(fd);
  }
}

function readEntry(fd: number, file: string, entry: TensorEntry, dtype: DType): Float32Array | Uint16Array {
  const buf = new ArrayBuffer(entry.end - entry.start);
  readFully(fd, new Uint8Array(buf), entry.start, file, `tensor "${entry.name}"`);
  // The format is little-endian, as is every platform Node supports for this engine.
  return dtype === 'f32' ? new Float32Array(buf) : new Uint16Array(buf);
}

function openFile(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (e) {
    throw new Error(`cannot open safetensors file ${file}: ${(e as Error).message}`);
  }
}

function parseHeader(fd: number, file: string): SafetensorsHeader {
  const fail = (why: string): never => {
    throw new Error(`${file}: ${why}`);
  };
  const fileSize = fstatSync(fd).size;
  if (fileSize < 8) fail(`file is ${fileSize} bytes, too short for a safetensors header (truncated?)`);
  const lenBytes = Buffer.alloc(8);
  readFully(fd, lenBytes, 0, file, 'header length');
  const headerLen = lenBytes.readBigUInt64LE(0);
  if (headerLen > BigInt(fileSize - 8)) {
    fail(`header length ${headerLen} exceeds the ${fileSize - 8} bytes after it (truncated or not a safetensors file)`);
  }
  if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const dataStart = 8 + Number(headerLen);
  const headerBytes = Buffer.alloc(dataStart - 8);
  readFully(fd, headerBytes, 8, file, 'header');

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('header must be a JSON object');

  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> | null = null;
  const tensors = new Map<string, TensorEntry>();
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(value, fail);
      continue;
    }
    tensors.set(name, parseEntry(name, value, dataStart, dataSize, fail));
  }
  checkCoverage([...tensors.values()], dataStart, fileSize, fail);
  return { file, fileSize, dataStart, tensors, metadata };
}

function parseMetadata(value: unknown, fail: (why: string) => never): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('"__metadata__" must be an object');
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`"__metadata__.${k}" must be a string`);
  }
  return value as Record<string, string>;
}

function parseEntry(
  name: string,
  value: unknown,
  dataStart: number,
  dataSize: number,
  fail: (why: string) => never,
): TensorEntry {
  const bad = (why: string): never => fail(`tensor "${name}": ${why}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('entry must be an object');
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;

  if (typeof dtype !== 'string') bad('missing "dtype"');
  const elemBytes = DTYPE_BYTES[dtype as string];
  if (elemBytes === undefined) bad(`unknown dtype ${JSON.stringify(dtype)}`);

  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    bad(`"shape" must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  let numel = 1;
  for (const d of shape as number[]) numel *= d;

  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    bad(`"data_offsets" must be [begin, end] byte offsets, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) bad(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataSize) bad(`data_offsets [${begin}, ${end}] are out of range: the data section holds ${dataSize} bytes`);
  const expected = numel * (elemBytes as number);
  if (end - begin !== expected) {
    bad(`holds ${end - begin} bytes but shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${expected}`);
  }
  return { name, dtype: dtype as string, shape: shape as number[], start: dataStart + begin, end: dataStart + end };
}

/** Tensors must tile the data section exactly: no overlaps, holes or trailing bytes. */
function checkCoverage(entries: TensorEntry[], dataStart: number, fileSize: number, fail: (why: string) => never): void {
  const sorted = [...entries].sort((a, b) => a.start - b.start || a.end - b.end);
  let cursor = dataStart;
  let prev: TensorEntry | null = null;
  for (const t of sorted) {
    if (t.start < cursor && prev !== null) {
      fail(`tensor "${t.name}" overlaps tensor "${prev.name}" (data_offsets [${t.start - dataStart}, ${t.end - dataStart}] vs [${prev.start - dataStart}, ${prev.end - dataStart}])`);
    }
    if (t.start > cursor) {
      fail(`${t.start - cursor} unused bytes at data offset ${cursor - dataStart}, before tensor "${t.name}"`);
    }
    cursor = t.end;
    prev = t;
  }
  if (cursor < fileSize) {
    fail(`${fileSize - cursor} trailing bytes after the last tensor${prev ? ` ("${prev.name}")` : ''}`);
  }
}

/** Positioned read of exactly `target.length` bytes, in chunks (a single read is capped near 2 GiB). */
function readFully(fd: number, target: Uint8Array, position: number, file: string, what: string): void {
  const CHUNK = 1 << 30;
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, Math.min(CHUNK, target.length - done), position + done);
    if (n === 0) throw new Error(`${file}: unexpected end of file while reading ${what} (file truncated?)`);
    done += n;
  }
}
