// Runs in a worker thread: decodes and preprocesses large images so they do not block the event loop.
import { parentPort } from 'node:worker_threads';
import { preprocessImage, ImageError } from '../imaging/preprocess.js';

export interface DecodeRequest {
  id: number;
  buf: Uint8Array;
  maxPixels: number;
}

export type DecodeReply =
  | { id: number; ok: true; result: ReturnType<typeof preprocessImage> }
  | { id: number; ok: false; message: string; code: ImageError['code'] | null };

parentPort?.on('message', ({ id, buf, maxPixels }: DecodeRequest) => {
  try {
    const result = preprocessImage(buf, { maxPixels });
    parentPort!.postMessage({ id, ok: true, result } satisfies DecodeReply, [result.pixels.buffer as ArrayBuffer]);
  } catch (e) {
    const code = e instanceof ImageError ? e.code : null;
    parentPort!.postMessage({ id, ok: false, message: (e as Error).message, code } satisfies DecodeReply);
  }
});
