// Finds a folder holding the four Fashion-MNIST files, in a fixed order of places.
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DATA_FILES, DATA_FILE_KEYS, SYSTEM_DATA_DIR, cacheDir, type DataFileKey } from './files.js';

export type DataOrigin = 'flag' | 'env' | 'system' | 'cache' | 'download';

export interface DataSource {
  dir: string;
  origin: DataOrigin;
  /** Every place looked at, in order, ending with the one that was used. */
  searched: string[];
  /** The path chosen for each file (`.gz` preferred when both forms exist). */
  files: Record<DataFileKey, string>;
}

export interface LocateOptions {
  /** The --data-dir flag; when set (or FASHION_MNIST_DIR is), only that folder is looked at. */
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Replaces /usr/share/datasets/fashion-mnist (for tests). */
  systemDir?: string;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The path of each of the four files in `dir`, or null if any is missing. */
export function findDataFiles(dir: string): Record<DataFileKey, string> | null {
  const found: Partial<Record<DataFileKey, string>> = {};
  for (const key of DATA_FILE_KEYS) {
    const base = join(dir, DATA_FILES[key].name);
    if (isFile(`${base}.gz`)) found[key] = `${base}.gz`;
    else if (isFile(base)) found[key] = base;
    else return null;
  }
  return found as Record<DataFileKey, string>;
}

/** Names of the files (as `name(.gz)`) that `dir` lacks. */
export function missingDataFiles(dir: string): string[] {
  return DATA_FILE_KEYS.map((k) => DATA_FILES[k].name).filter(
    (name) => !isFile(join(dir, `${name}.gz`)) && !isFile(join(dir, name)),
  );
}

/** The folder the user named, if any, and where the name came from. */
export function explicitDir(opts: LocateOptions = {}): { dir: string; origin: 'flag' | 'env' } | null {
  if (opts.dataDir) return { dir: resolve(opts.dataDir), origin: 'flag' };
  const fromEnv = (opts.env ?? process.env).FASHION_MNIST_DIR;
  if (fromEnv) return { dir: resolve(fromEnv), origin: 'env' };
  return null;
}

/** The places searched, in order; an explicit folder replaces all the others. */
export function searchPlaces(opts: LocateOptions = {}): { dir: string; origin: DataOrigin }[] {
  const explicit = explicitDir(opts);
  if (explicit) return [explicit];
  return [
    { dir: opts.systemDir ?? SYSTEM_DATA_DIR, origin: 'system' },
    { dir: cacheDir(opts.env ?? process.env), origin: 'cache' },
  ];
}

/** The search alone, without loading or downloading. */
export function locateData(opts: LocateOptions = {}): DataSource | null {
  const searched: string[] = [];
  for (const place of searchPlaces(opts)) {
    searched.push(place.dir);
    const files = findDataFiles(place.dir);
    if (files) return { dir: place.dir, origin: place.origin, searched, files };
  }
  return null;
}
