/**
 * Writes safetensors files: an 8-byte little-endian header length, a JSON header (padded with
 * spaces to 8-byte alignment so every tensor starts aligned), then the raw little-endian data.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16';

export interface TensorEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
}

export interface TensorToWrite extends TensorEntry {
  /** f32 values for F32; raw bit patterns for F16/BF16. */
  readonly data: Float32Array | Uint16Array;
}

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2 };

export function writeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): void {
  writeSafetensorsStreaming(path, tensors, (t) => t.data, metadata);
}

/**
 * Like writeSafetensors, but asks for each tensor's data only when it is written, in order, so a
 * large checkpoint never has to sit in memory whole.
 */
export function writeSafetensorsStreaming<T extends TensorEntry>(
  path: string,
  entries: readonly T[],
  produce: (entry: T, index: number) => Float32Array | Uint16Array,
  metadata?: Record<string, string>,
): void {
  if (endianness() !== 'LE') throw new Error('writeSafetensors: only little-endian hosts are supported');
  const header = encodeHeader(path, entries, metadata);
  // Write beside the target and rename, so a reader never sees a half-written file.
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeAll(fd, len);
    writeAll(fd, header);
    entries.forEach((entry, i) => {
      const data = produce(entry, i);
      checkData(path, entry, data);
      writeAll(fd, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

function encodeHeader(path: string, entries: readonly TensorEntry[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`${path}: metadata value for "${k}" must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const e of entries) {
    if (!e.name || e.name === '__metadata__') throw new Error(`${path}: invalid tensor name "${e.name}"`);
    if (Object.hasOwn(header, e.name)) throw new Error(`${path}: duplicate tensor name "${e.name}"`);
    if (!(e.dtype in BYTES)) throw new Error(`${path}: tensor ${e.name} has unsupported dtype ${String(e.dtype)}`);
    if (!e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`${path}: tensor ${e.name} has invalid shape [${e.shape.join(', ')}]`);
    }
    const bytes = numel(e.shape) * BYTES[e.dtype];
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20);
  json.copy(padded);
  return padded;
}

function checkData(path: string, e: TensorEntry, data: Float32Array | Uint16Array): void {
  const want = e.dtype === 'F32' ? 'Float32Array' : 'Uint16Array';
  if (!(e.dtype === 'F32' ? data instanceof Float32Array : data instanceof Uint16Array)) {
    throw new Error(`${path}: tensor ${e.name} is ${e.dtype} and needs a ${want}, got ${data.constructor.name}`);
  }
  if (data.length !== numel(e.shape)) {
    throw new Error(`${path}: tensor ${e.name} has shape [${e.shape.join(', ')}] but ${data.length} elements`);
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function writeAll(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
}
