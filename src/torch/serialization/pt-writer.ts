// torch.save's zip format, written in TypeScript: archive/data.pkl (the pickle), archive/data/<key> (one record
// per tensor, its raw little-endian bytes) and archive/version ("3\n"), in that order, as torch.save writes an
// object saved to a file-like object.
import { endianness } from 'node:os';
import { pickle, type TensorData } from './pickle-writer.js';
import { writeZip } from './zip-writer.js';

export type { TensorData } from './pickle-writer.js';

const bytesOf = (a: TensorData['data']) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function writePt(value: unknown, tensorOf: (v: unknown) => TensorData | undefined): Uint8Array {
  if (endianness() !== 'LE') throw new Error('the .pt writer needs a little-endian machine');
  const { pickle: pkl, storages } = pickle(value, tensorOf);
  return writeZip([
    { name: 'archive/data.pkl', data: pkl },
    ...storages.map((t, k) => ({ name: `archive/data/${k}`, data: bytesOf(t.data) })),
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ]);
}
