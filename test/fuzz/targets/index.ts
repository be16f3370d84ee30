// The named fuzz targets; each module is imported only when its target runs (the child process loads one).
import type { FuzzTarget } from '../harness.js';

const TARGETS: Record<string, () => Promise<{ target: FuzzTarget }>> = {
  idx: () => import('./idx.js'),
  image: () => import('./image.js'),
  pt: () => import('./pt.js'),
  config: () => import('./config.js'),
  runjson: () => import('./runjson.js'),
  serve: () => import('./serve.js'),
  // the harness's own test: planted bugs
  planted: () => import('./planted.js'),
};

export const TARGET_NAMES = Object.keys(TARGETS);

export async function loadTarget(name: string): Promise<FuzzTarget> {
  const load = TARGETS[name];
  if (!load) throw new Error(`no fuzz target '${name}' (known: ${TARGET_NAMES.join(', ')})`);
  return (await load()).target;
}
