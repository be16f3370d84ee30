// A run folder being trained holds DIR/.training (the trainer's pid): a second trainer refuses the folder, and
// `compare` tells a live run from one that a kill -9 ended (whose pid is gone), which it resumes.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fsutil.js';

export const LOCK_FILE = '.training';

/** The pid of the live process training `dir`, or null (no lock, or its process is gone). */
export function runLockHolder(dir: string): number | null {
  const p = join(dir, LOCK_FILE);
  if (!existsSync(p)) return null;
  const pid = Number(readFileSync(p, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/** Takes the folder for this process; returns the release. Throws when a live process holds it. */
export function lockRun(dir: string): () => void {
  const holder = runLockHolder(dir);
  if (holder) throw new Error(`${dir}: process ${holder} is training this run folder right now`);
  const p = join(dir, LOCK_FILE);
  writeFileAtomic(p, `${process.pid}\n`);
  return () => rmSync(p, { force: true });
}
