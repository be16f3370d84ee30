// Turns a request into preprocessed 28×28 images: a raw PNG/JPEG body, multipart/form-data with
// `image` field(s), or JSON ({"pixels": [...]} or {"image": "<base64>"}; batches as {"images": [...]}).
import { Worker } from 'node:worker_threads';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  declaredSize,
  fromPixels,
  ImageError,
  preprocessImage,
  sniffFormat,
  type Preprocessed,
} from '../imaging/preprocess.js';
import { HttpError, imageHttpError } from './errors.js';
import { formatZodError, type BatchJson, type ImageJson } from './schemas.js';
import type { DecodeReply, DecodeRequest } from './decode-worker.js';

const tooLarge = (limit: number) =>
  new HttpError(413, 'too_large', `the request body is larger than the ${limit.toLocaleString('en-US')}-byte limit`);

export interface InputLimits {
  /** Largest declared width × height accepted (checked before decoding). */
  maxPixels: number;
  /** Largest encoded image, in bytes (each multipart file, or a raw body). */
  maxImageBytes: number;
  /** Largest whole request body, in bytes. */
  maxBodyBytes: number;
}

/**
 * Decodes images. Small ones (most requests) are decoded inline, which is faster than a hop to a
 * thread; large ones go to a worker thread so a 12-megapixel photo does not stall other requests.
 */
export class ImageDecoder {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (p: Preprocessed) => void; reject: (e: unknown) => void }>();
  private closed = false;

  constructor(
    private readonly maxPixels: number,
    /** Declared pixel counts above this are decoded in the worker (0: never use a worker). */
    private readonly workerAbovePixels = 512 * 512,
    /** Most large images waiting for the worker. */
    private readonly maxWaiting = 16,
  ) {}

  async decode(buf: Uint8Array, where = ''): Promise<Preprocessed> {
    try {
      if (buf.length === 0) throw new HttpError(400, 'empty_body', `${where ? `${where}: ` : ''}the image is empty`);
      const format = sniffFormat(buf);
      const size = format ? declaredSize(buf, format) : null;
      if (size && this.workerAbovePixels > 0 && size.width * size.height > this.workerAbovePixels && !this.closed) {
        if (size.width * size.height <= this.maxPixels) return await this.inWorker(buf);
      }
      return preprocessImage(buf, { maxPixels: this.maxPixels });
    } catch (e) {
      if (e instanceof ImageError) throw imageHttpError(e, where);
      throw e;
    }
  }

  private inWorker(buf: Uint8Array): Promise<Preprocessed> {
    if (this.waiting.size >= this.maxWaiting)
      return Promise.reject(
        new HttpError(503, 'overloaded', 'too many large images are being decoded; try again shortly'),
      );
    const w = this.getWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      // A copy, so the worker owns its bytes and the request's buffer stays usable.
      const copy = new Uint8Array(buf);
      w.postMessage({ id, buf: copy, maxPixels: this.maxPixels } satisfies DecodeRequest, [copy.buffer]);
    });
  }

  private getWorker(): Worker {
    if (this.worker) return this.worker;
    // Next to this file: decode-worker.ts when run from source (tsx), decode-worker.js once compiled.
    const here = fileURLToPath(import.meta.url);
    const url = new URL(`./decode-worker${extname(here)}`, import.meta.url);
    const resourceLimits = { maxOldGenerationSizeMb: 256 };
    let w: Worker;
    if (extname(here) === '.ts') {
      // Running from source under tsx: worker threads do not inherit its loader, so register it first.
      const tsx = import.meta.resolve('tsx/esm/api');
      const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); })`;
      w = new Worker(boot, { eval: true, resourceLimits });
    } else w = new Worker(url, { resourceLimits });
    w.unref();
    w.on('message', (m: DecodeReply) => {
      const p = this.waiting.get(m.id);
      if (!p) return;
      this.waiting.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else if (m.code) p.reject(new ImageError(m.message, m.code));
      else p.reject(new HttpError(422, 'corrupt_image', m.message));
    });
    const fail = (e: unknown) => {
      if (this.worker === w) this.worker = null;
      const err = new HttpError(
        422,
        'corrupt_image',
        `the image could not be decoded (${e instanceof Error ? e.message : `decoder exited with ${String(e)}`})`,
      );
      for (const p of this.waiting.values()) p.reject(err);
      this.waiting.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = null;
      if (this.waiting.size) fail(code);
    });
    this.worker = w;
    return w;
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}

const MultipartPart = z.object({
  type: z.literal('file', { error: 'only file fields are accepted; send the image as a file named "image"' }),
  fieldname: z.literal('image', {
    error: (iss) => `unexpected field "${String(iss.input)}"; send the image in a field named "image"`,
  }),
});

async function readMultipart(
  req: FastifyRequest,
  limits: InputLimits,
  maxFiles: number,
  decoder: ImageDecoder,
): Promise<Preprocessed[]> {
  const out: Promise<Preprocessed>[] = [];
  // The form is read by hand, so Fastify's body limit does not apply: count the bytes here.
  const declared = Number(req.headers['content-length']);
  if (declared > limits.maxBodyBytes) throw tooLarge(limits.maxBodyBytes);
  // The body arrives while the form is read, here: until then, running out of time is the client's 408, not a 503.
  if (req.serve) req.serve.bodyDone = false;
  let total = 0;
  try {
    const parts = req.parts({
      limits: { fileSize: limits.maxImageBytes, files: maxFiles, fields: 4, parts: maxFiles + 4 },
    });
    for await (const part of parts) {
      const check = MultipartPart.safeParse(part);
      if (!check.success) throw new HttpError(422, 'invalid_input', formatZodError(check.error, 'multipart'));
      if (part.type !== 'file') continue;
      const buf = await part.toBuffer();
      total += buf.length;
      if (total > limits.maxBodyBytes) throw tooLarge(limits.maxBodyBytes);
      const where = maxFiles > 1 ? `image ${out.length} (${part.filename || 'unnamed'})` : '';
      const p = decoder.decode(buf, where);
      p.catch(() => {}); // Awaited below; the first failure is reported.
      out.push(p);
    }
    if (req.serve) req.serve.bodyDone = true;
  } catch (e) {
    if ((e as { code?: string }).code === 'FST_FILES_LIMIT')
      throw new HttpError(
        422,
        'invalid_input',
        maxFiles === 1
          ? 'multipart: one "image" file per request; use /v1/predict/batch for several'
          : `multipart: at most ${maxFiles} images per batch`,
      );
    const status = (e as { statusCode?: number }).statusCode;
    if (e instanceof HttpError || e instanceof ImageError || (status !== undefined && status < 500)) throw e;
    // Anything else the form parser throws is about the bytes the client sent.
    throw new HttpError(400, 'bad_request', `malformed multipart/form-data body: ${(e as Error).message}`);
  }
  if (out.length === 0) throw new HttpError(422, 'invalid_input', 'multipart: no "image" file field in the form');
  return Promise.all(out);
}

function fromJson(item: ImageJson, decoder: ImageDecoder, where: string): Promise<Preprocessed> {
  if (item.pixels) {
    const p = fromPixels(item.pixels);
    const max = Math.max(...item.pixels);
    if (max > 0 && max <= 1)
      p.steps.push('note: every pixel is at most 1; pixels are read as 0–255, so multiply [0, 1] values by 255');
    return Promise.resolve(p);
  }
  return decoder.decode(Buffer.from(item.image!, 'base64'), where);
}

const NO_BODY =
  'the request has no body: send a PNG or JPEG (Content-Type image/png or image/jpeg), multipart/form-data with an "image" file, or JSON {"pixels": [784 numbers]}';

export async function readSingle(
  req: FastifyRequest,
  body: Buffer | ImageJson | undefined | null,
  limits: InputLimits,
  decoder: ImageDecoder,
): Promise<Preprocessed> {
  if (req.isMultipart()) {
    const list = await readMultipart(req, limits, 1, decoder);
    return list[0];
  }
  if (body === undefined || body === null) throw new HttpError(400, 'empty_body', NO_BODY);
  if (Buffer.isBuffer(body)) return decoder.decode(body);
  return fromJson(body, decoder, '');
}

export async function readBatch(
  req: FastifyRequest,
  body: Buffer | BatchJson | undefined | null,
  limits: InputLimits,
  maxBatch: number,
  decoder: ImageDecoder,
): Promise<Preprocessed[]> {
  if (req.isMultipart()) return readMultipart(req, limits, maxBatch, decoder);
  if (body === undefined || body === null)
    throw new HttpError(
      400,
      'empty_body',
      NO_BODY.replace('{"pixels": [784 numbers]}', '{"images": [{"pixels": [...]}, ...]}'),
    );
  if (Buffer.isBuffer(body)) {
    // A single raw image is a batch of one.
    return [await decoder.decode(body)];
  }
  const list = body.images.map((item, i) => {
    const p = fromJson(item, decoder, `images[${i}]`);
    p.catch(() => {});
    return p;
  });
  return Promise.all(list);
}
