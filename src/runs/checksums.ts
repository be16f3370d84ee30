// SHA256SUMS in a run folder: the SHA-256 of every file fmnist wrote there, in exactly the format coreutils'
// `sha256sum -c SHA256SUMS` reads (`<64 hex>  <path>\n`, paths relative to the folder, sorted). Every writer of a
// run folder ends with writeChecksums (or refreshChecksums when it adds a file to a finished run), and readRun
// verifies it, so a flipped bit or a truncated copy is an error naming the file instead of a silently wrong model.
//
// What counts:
// - A listed file that is absent or differs: an error. Two listed files are derived, and a command writes them
//   again from the others (REGENERATED): deleting one is not damage, but a present one must still match.
// - A file present but not listed: ignored. A user may keep notes or a report.png in a run folder; fmnist reads
//   only files it wrote, and every one of those is listed.
// - No SHA256SUMS at all (a folder from before this, or one whose training is still running or was stopped): it
//   still loads, unchecked, with a one-line notice on stderr once per folder per process.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/fsutil.js';

export const SHA256SUMS = 'SHA256SUMS';

/** Files a command writes again from the rest of the folder (export, evaluate --tta): deleting one is allowed. */
export const REGENERATED: ReadonlySet<string> = new Set(['model.onnx', 'metrics-tta.json']);

/**
 * Left out: dot-names (writeFileAtomic's temp files `.tmp-*`, the temp folders of ensemble/import/convert, the
 * trainer's lock `.training`) and, at the top, `checkpoint/`, which changes while a run trains and carries a
 * SHA256SUMS per checkpoint of its own (src/runs/checkpoint.ts).
 */
const isTemp = (name: string) => name.startsWith('.');
const SEPARATE = new Set(['checkpoint']);
// sha256sum escapes such names with a leading backslash; fmnist never writes one, so they are left out instead.
const plainName = (name: string) => !/[\\\n\r]/.test(name);

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Every regular file under `dir` (symlinks not followed), as sorted '/'-separated relative paths. */
export function runFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      if (isTemp(name) || !plainName(name) || (!rel && SEPARATE.has(name))) continue;
      const path = rel ? `${rel}/${name}` : name;
      if (path === SHA256SUMS) continue;
      const st = lstatSync(join(dir, path));
      if (st.isDirectory()) walk(path);
      else if (st.isFile()) out.push(path);
    }
  };
  walk('');
  // byte order of the names, as `LC_ALL=C sort` gives (they are ASCII in practice)
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function format(sums: Map<string, string>): string {
  return [...sums]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([path, hex]) => `${hex}  ${path}\n`)
    .join('');
}

/** SHA256SUMS as a map of relative path → hex digest, or null when the folder has none. */
export function readChecksums(dir: string): Map<string, string> | null {
  const file = join(dir, SHA256SUMS);
  if (!existsSync(file)) return null;
  const sums = new Map<string, string>();
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    // sha256sum's text (two spaces) and binary (' *') forms
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`${file}: line ${i + 1} is not '<SHA-256>  <file>' (is SHA256SUMS damaged?)`);
    const path = m[2];
    if (path.startsWith('/') || path.split('/').some((s) => s === '..' || s === '.' || s === ''))
      throw new Error(`${file}: line ${i + 1} names '${path}', which is not a file inside the folder`);
    sums.set(path, m[1].toLowerCase());
  });
  return sums;
}

/** Writes DIR/SHA256SUMS for every file in the folder (a new or rewritten run folder), atomically. */
export function writeChecksums(dir: string): void {
  const sums = new Map(runFiles(dir).map((p) => [p, sha256(readFileSync(join(dir, p)))]));
  writeFileAtomic(join(dir, SHA256SUMS), format(sums));
  verified.delete(resolve(dir));
}

// A folder verified in this process, and what its files looked like then: readRun runs for every loader, some
// commands read a folder three times, and a file rewritten in place changes its ctime (which no user can set).
const verified = new Map<string, string>();
const noticed = new Set<string>();

function signature(dir: string, paths: Iterable<string>): string {
  const parts: string[] = [];
  for (const p of [SHA256SUMS, ...paths]) {
    const f = join(dir, p);
    if (!existsSync(f)) parts.push(`${p}:-`);
    else {
      const s = statSync(f, { bigint: true });
      parts.push(`${p}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`);
    }
  }
  return parts.join('\n');
}

function check(dir: string, sums: Map<string, string>, skip: ReadonlySet<string> = new Set()): void {
  for (const [path, hex] of sums) {
    if (skip.has(path)) continue;
    const file = join(dir, path);
    if (!existsSync(file)) {
      if (REGENERATED.has(path)) continue;
      throw new Error(`${file}: missing (listed in SHA256SUMS)`);
    }
    if (!lstatSync(file).isFile()) throw new Error(`${file}: not a regular file (SHA256SUMS lists it as one)`);
    if (sha256(readFileSync(file)) !== hex) throw new Error(`${file}: damaged (its SHA-256 does not match SHA256SUMS)`);
  }
}

/**
 * Throws, naming the file, unless every file SHA256SUMS lists is there and matches. Returns false (after a notice
 * on stderr, once per folder) for a folder without SHA256SUMS, which loads unchecked.
 */
export function verifyChecksums(dir: string): boolean {
  const key = resolve(dir);
  const sums = readChecksums(dir);
  if (!sums) {
    if (!noticed.has(key)) {
      noticed.add(key);
      process.stderr.write(
        `fmnist: note: ${dir} has no ${SHA256SUMS} (written before fmnist checked run folders, or unfinished): its files are not verified\n`,
      );
    }
    return false;
  }
  const sig = signature(dir, sums.keys());
  if (verified.get(key) === sig) return true;
  verified.delete(key);
  check(dir, sums);
  verified.set(key, sig);
  return true;
}

/**
 * After a command wrote `changed` (paths relative to `dir`) into a finished run folder: checks every other listed
 * file and writes SHA256SUMS again with the new files in it. A folder without SHA256SUMS is left so (fmnist has
 * not vouched for its files, and will not start now); returns whether it has one.
 */
export function refreshChecksums(dir: string, ...changed: string[]): boolean {
  const sums = readChecksums(dir);
  if (!sums) return false;
  const fresh = new Set(changed);
  check(dir, sums, fresh);
  for (const path of [...sums.keys()]) if (REGENERATED.has(path) && !existsSync(join(dir, path))) sums.delete(path);
  for (const path of fresh) {
    const file = join(dir, path);
    if (existsSync(file) && lstatSync(file).isFile()) sums.set(path, sha256(readFileSync(file)));
    else sums.delete(path);
  }
  writeFileAtomic(join(dir, SHA256SUMS), format(sums));
  verified.delete(resolve(dir));
  return true;
}
