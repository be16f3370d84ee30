// Files are written to a temp name, fsynced and renamed, and then the folder is fsynced: after a crash, a kill -9
// or a power loss the path holds the old file or the new one, never a torn or empty one.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

/** fsync a folder, so that a rename in it is on disk too. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

let temps = 0;
/**
 * A name part that no other writer uses at the same time. Not Math.random: while Keras trains, Math.random is
 * the run's seeded stream (dropout masks), and a write must not move it.
 */
export const tempTag = () => `${process.pid}-${Date.now()}-${++temps}-${randomBytes(4).toString('hex')}`;

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.tmp-${tempTag()}`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    const fd = openSync(tmp, 'w');
    try {
      for (let off = 0; off < bytes.byteLength;) off += writeSync(fd, bytes, off, bytes.byteLength - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

export function readJson<T>(path: string, what = 'file'): T {
  if (!existsSync(path)) throw new Error(`${path}: ${what} not found`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    // V8 quotes the text around the error, newlines and all: the message stays one line
    throw new Error(`${path}: not valid JSON (${(e as Error).message.replace(/\s+/g, ' ')})`, { cause: e });
  }
}
