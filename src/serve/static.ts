// The web page's files (web/) and the prebuilt tfjs browser bundle, read once and served from memory;
// onnxruntime-web's browser module and its wasm, read on first request.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
};

/** The package root: the nearest folder above this file that has web/index.html. */
export function defaultWebDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, 'web', 'index.html'))) return join(d, 'web');
    d = dirname(d);
  }
  throw new Error('cannot find the web/ folder (web/index.html) above ' + fileURLToPath(import.meta.url));
}

/** node_modules/@tensorflow/tfjs/dist/tf.min.js, found the way Node finds the package. */
export function tfjsBundlePath(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const main = require.resolve('@tensorflow/tfjs');
    const p = join(dirname(main), 'tf.min.js');
    return existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

function load(path: string): StaticFile {
  return fromBody(path, readFileSync(path));
}

function fromBody(path: string, body: Buffer): StaticFile {
  return {
    body,
    type: TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
    etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`,
  };
}

/** Every file directly in web/ by name, plus vendor/tf.min.js. */
export function loadStaticFiles(webDir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(webDir)) {
    const p = join(webDir, name);
    if (statSync(p).isFile() && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) files.set(name, load(p));
  }
  const tf = tfjsBundlePath();
  if (tf) files.set('vendor/tf.min.js', load(tf));
  return files;
}

/**
 * The files of onnxruntime-web the page loads from /vendor/ort/, and no others: the wasm-only ES module that has
 * its Emscripten glue built in (so it imports no second script), and the one wasm binary it fetches (SIMD, the
 * build every current browser runs; it is the "threaded" build but runs on one thread without SharedArrayBuffer).
 */
export const ORT_FILES = ['ort.wasm.bundle.min.mjs', 'ort-wasm-simd-threaded.wasm'] as const;

/** node_modules/onnxruntime-web/dist, found the way Node finds the package; null if it is not installed. */
export function ortDistDir(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const dir = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
    return ORT_FILES.every((f) => existsSync(join(dir, f))) ? dir : null;
  } catch {
    return null;
  }
}

/**
 * ORT_FILES by name, each read from disk the first time it is asked for and then kept (the wasm is 14 MB, so a
 * server whose page never runs ONNX does not hold it). get() gives null for any other name, or when the package
 * is missing.
 */
export class OrtFiles {
  private readonly cache = new Map<string, Promise<StaticFile>>();
  constructor(private readonly dir: string | null = ortDistDir()) {}

  get available(): boolean {
    return this.dir !== null;
  }

  async get(name: string): Promise<StaticFile | null> {
    if (!this.dir || !(ORT_FILES as readonly string[]).includes(name)) return null;
    let f = this.cache.get(name);
    if (!f) {
      const path = join(this.dir, name);
      f = readFile(path).then((body) => fromBody(path, body));
      this.cache.set(name, f);
      // A failed read is tried again next time.
      f.catch(() => this.cache.delete(name));
    }
    return f;
  }
}
