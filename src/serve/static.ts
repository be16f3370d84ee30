// The web page's files (web/) and the prebuilt tfjs browser bundle, read once and served from memory.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
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
  const body = readFileSync(path);
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
