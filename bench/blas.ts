// Which BLAS (and oneDNN) a process actually loaded, read from /proc/<pid>/maps, and what to call it. The bench
// names the library each side used: Debian's libblas.so.3 alternative and LD_LIBRARY_PATH both decide it.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** The shared libraries mapped into this process whose file name contains one of `keys`. */
export function mappedLibraries(keys: readonly string[], pid: number | 'self' = 'self'): string[] {
  const libs = new Set<string>();
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const path = line.split(/\s+/)[5];
    if (path?.includes('.so') && keys.some((k) => basename(path).includes(k))) libs.add(path);
  }
  return [...libs].sort();
}

/** The BLAS libraries this process has loaded (LAPACK left out). */
export const loadedBlas = () => mappedLibraries(['blas', 'blis', 'mkl_rt', 'libmkl', 'atlas']);
/** oneDNN, if loaded. */
export const loadedOneDnn = () => mappedLibraries(['dnnl', 'mkldnn']).filter((p) => !basename(p).includes('opencv'));

/** "OpenBLAS", "reference BLAS", ... for a list of loaded BLAS paths. */
export function blasKind(paths: readonly string[]): string {
  if (paths.length === 0) return 'no BLAS loaded';
  const p = paths.join(' ').toLowerCase();
  if (p.includes('openblas')) return 'OpenBLAS';
  if (p.includes('mkl')) return 'MKL';
  if (p.includes('blis')) return 'BLIS';
  if (p.includes('atlas')) return 'ATLAS';
  if (p.includes('/blas/libblas')) return 'reference BLAS';
  return 'unknown BLAS';
}
