// Downloads the official .gz files into the cache: temp file in the same folder, verify, then rename.
import { closeSync, createWriteStream, mkdirSync, openSync, readSync, renameSync, rmSync } from 'node:fs';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DataError } from './errors.js';
import { DATA_FILES, DATA_FILE_KEYS, OFFICIAL_CHECKSUMS, mirrorUrl, type ChecksumTable } from './files.js';
import { parseIdxImages, parseIdxLabels, readIdxBytes, verifyChecksum } from './idx.js';
import { missingDataFiles } from './locate.js';

export interface DownloadOptions {
  /** Folder to fill (normally the user cache). */
  dir: string;
  /** Defaults to FASHION_MNIST_MIRROR or the official S3 mirror. */
  baseUrl?: string;
  env?: NodeJS.ProcessEnv;
  /** Check each file's SHA-256 before keeping it (default true). */
  verify?: boolean;
  /** Expected hashes by base name; defaults to the official ones. */
  checksums?: ChecksumTable;
  /** Where the progress bar goes; null for none. Defaults to stderr. */
  progress?: NodeJS.WritableStream | null;
  /** Give up when the server sends nothing for this long (default 30 s). */
  idleTimeoutMs?: number;
}

const MAX_REDIRECTS = 5;

function request(url: string, idleTimeoutMs: number, redirectsLeft = MAX_REDIRECTS): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const parsed = new URL(url);
    const get = parsed.protocol === 'https:' ? httpsGet : parsed.protocol === 'http:' ? httpGet : null;
    if (!get) {
      reject(new DataError(`${url}: unsupported protocol (use http or https)`));
      return;
    }
    // agent:false: one connection per file, closed afterwards, so nothing keeps the process alive.
    const req = get(parsed, { agent: false, timeout: idleTimeoutMs, headers: { 'user-agent': 'fmnist' } }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location) {
        res.resume();
        if (redirectsLeft === 0) reject(new DataError(`${url}: too many redirects`));
        else resolve(request(new URL(location, url).href, idleTimeoutMs, redirectsLeft - 1));
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new DataError(`${url}: server answered HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd()));
        return;
      }
      resolve(res);
    });
    req.on('timeout', () => req.destroy(new Error(`no data for ${Math.round(idleTimeoutMs / 1000)} s`)));
    req.on('error', (err) =>
      reject(err instanceof DataError ? err : new DataError(`${url}: download failed (${err.message})`)),
    );
  });
}

function megabytes(n: number): string {
  return (n / 1e6).toFixed(1);
}

class ProgressBar {
  private lastDraw = 0;
  private readonly tty: boolean;

  constructor(
    private readonly out: NodeJS.WritableStream | null,
    private readonly label: string,
    private readonly total: number,
  ) {
    this.tty = Boolean((out as { isTTY?: boolean } | null)?.isTTY);
    // Without a terminal a redrawn bar would spam logs, so print one line per file instead.
    if (out && !this.tty) out.write(`fmnist: downloading ${label} ...`);
  }

  update(received: number, force = false): void {
    if (!this.out || !this.tty) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = 30;
    const frac = this.total > 0 ? Math.min(1, received / this.total) : 0;
    const filled = Math.round(frac * width);
    const bar = this.total > 0 ? `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${Math.floor(frac * 100)}%` : '';
    const size = this.total > 0 ? `${megabytes(received)}/${megabytes(this.total)} MB` : `${megabytes(received)} MB`;
    this.out.write(`\r${this.label} ${bar} ${size}\x1b[K`);
  }

  finish(received: number, ok: boolean): void {
    if (!this.out) return;
    if (this.tty) {
      this.update(received, true);
      this.out.write(ok ? '\n' : ' failed\n');
    } else {
      this.out.write(ok ? ` ${megabytes(received)} MB\n` : ' failed\n');
    }
  }
}

/** Removes `path` if the process is interrupted, so Ctrl-C never leaves a partial file behind. */
function removeOnSignal(path: string): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const handler = (signal: NodeJS.Signals) => {
    rmSync(path, { force: true });
    for (const s of signals) process.off(s, handler);
    process.kill(process.pid, signal);
  };
  for (const s of signals) process.once(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}

async function downloadOne(url: string, finalBase: string, name: string, opts: DownloadOptions): Promise<void> {
  const tmp = join(opts.dir, `.${name}.gz.${process.pid}.${randomBytes(4).toString('hex')}.part`);
  const stopWatching = removeOnSignal(tmp);
  let bar: ProgressBar | null = null;
  let received = 0;
  let ok = false;
  try {
    const res = await request(url, opts.idleTimeoutMs ?? 30_000);
    const total = Number(res.headers['content-length'] ?? 0);
    bar = new ProgressBar(opts.progress === undefined ? process.stderr : opts.progress, `${name}.gz`, total);
    const progressBar = bar;
    try {
      await pipeline(
        res,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            received += chunk.length;
            progressBar.update(received);
            yield chunk;
          }
        },
        createWriteStream(tmp, { flags: 'wx' }),
      );
    } catch (err) {
      throw new DataError(`${url}: download failed after ${received} bytes (${(err as Error).message})`);
    }
    if (total > 0 && received !== total) {
      throw new DataError(`${url}: download is incomplete (${received} of ${total} bytes)`);
    }
    validate(tmp, url, name, opts);
    // A mirror may serve the uncompressed file; keep the name honest so other tools can read it too.
    renameSync(tmp, isGzipFile(tmp) ? `${finalBase}.gz` : finalBase);
    ok = true;
  } finally {
    bar?.finish(received, ok);
    stopWatching();
    if (!ok) rmSync(tmp, { force: true });
  }
}

function isGzipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

function validate(tmp: string, url: string, name: string, opts: DownloadOptions): void {
  // Report problems against the URL: the temp file is about to disappear.
  try {
    const bytes = readIdxBytes(tmp);
    if (opts.verify === false) {
      if (name.includes('images')) parseIdxImages(bytes, tmp);
      else parseIdxLabels(bytes, tmp);
      return;
    }
    const table = { ...OFFICIAL_CHECKSUMS, ...opts.checksums };
    const expected = table[name];
    if (!expected) throw new DataError(`${tmp}: no expected checksum for ${name}`);
    verifyChecksum(bytes, tmp, expected);
  } catch (err) {
    if (!(err instanceof DataError)) throw err;
    throw new DataError(`${url}: downloaded file is bad: ${err.message.replace(`${tmp}: `, '')}`);
  }
}

/** Downloads whichever of the four files `dir` lacks. Returns the names fetched. */
export async function downloadDataset(opts: DownloadOptions): Promise<string[]> {
  const base = opts.baseUrl ? (opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`) : mirrorUrl(opts.env);
  try {
    mkdirSync(opts.dir, { recursive: true });
  } catch (err) {
    throw new DataError(`${opts.dir}: cannot create the download folder (${(err as Error).message})`);
  }
  const missing = new Set(missingDataFiles(opts.dir));
  const fetched: string[] = [];
  for (const key of DATA_FILE_KEYS) {
    const name = DATA_FILES[key].name;
    if (!missing.has(name)) continue;
    await downloadOne(new URL(`${name}.gz`, base).href, join(opts.dir, name), name, opts);
    fetched.push(name);
  }
  return fetched;
}
