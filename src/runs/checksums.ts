// PLACEHOLDER until the sums branch lands (replaced by its version on merge).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fsutil.js';

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
export function writeChecksums(dir: string): void {
  const files = readdirSync(dir).filter((f) => f !== 'SHA256SUMS').sort();
  writeFileAtomic(join(dir, 'SHA256SUMS'), files.map((f) => `${sha(join(dir, f))}  ${f}\n`).join(''));
}
export function verifyChecksums(dir: string, _o: { required?: boolean } = {}): void {
  const p = join(dir, 'SHA256SUMS');
  if (!existsSync(p)) throw new Error(`${p}: missing`);
  for (const line of readFileSync(p, 'utf8').split('\n').filter(Boolean)) {
    const [h, f] = [line.slice(0, 64), line.slice(66)];
    if (!existsSync(join(dir, f)) || sha(join(dir, f)) !== h) throw new Error(`${join(dir, f)}: damaged`);
  }
}
