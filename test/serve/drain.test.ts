// A body over the limit gets its 413, not a broken pipe: the server reads (and drops) the rest of the upload before
// it closes the connection, so a client still sending reads the answer. Raw TCP clients on a listening server
// (stand-in predictors, no training) send 20 MB to /v1/predict five times each way: with a Content-Length, chunked,
// and as multipart/form-data.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/serve/server.js';
import type { Predictor } from '../../src/runs/predictor.js';
import type { RunInfo } from '../../src/runs/files.js';
import { tempDir } from './helpers.js';

const MB = 2 ** 20;
const SIZE = 20 * MB;
const TRIES = 5;
let app: FastifyInstance;
let port = 0;
let tmp: ReturnType<typeof tempDir>;

const stub = async (dir: string): Promise<Predictor> => ({
  dir,
  info: { framework: 'pytorch', model: 'dense', params: 1, modelFile: 'model.pt' } as unknown as RunInfo,
  metrics: null,
  predict: (_x, n) => new Float32Array(n * 10).fill(0.1),
  dispose: () => {},
});

before(async () => {
  tmp = tempDir('fmnist-drain-');
  app = await buildServer({ models: [tmp.dir], loader: stub });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  port = Number(new URL(address).port);
});
after(async () => {
  await app?.close();
  tmp?.cleanup();
});

interface Answer {
  status: number;
  body: string;
  /** A socket error before the whole answer was read (EPIPE, ECONNRESET): what this change prevents. */
  error: string | null;
  sent: number;
}

/**
 * Sends `headers` and then `size` bytes of body as fast as the socket takes them (in `frame`s, for chunked
 * encoding), reading whatever comes back meanwhile; resolves when the server closes the connection.
 */
function upload(
  headers: string[],
  size: number,
  frame: (chunk: Buffer) => Buffer = (c) => c,
  tail = '',
  to = port,
): Promise<Answer> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: to });
    const received: Buffer[] = [];
    let error: string | null = null;
    let sent = 0;
    const chunk = Buffer.alloc(256 * 1024, 0x41);
    socket.on('data', (d) => received.push(d));
    socket.on('error', (e) => {
      error ??= (e as NodeJS.ErrnoException).code ?? e.message;
    });
    socket.on('close', () => {
      const text = Buffer.concat(received).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4), error, sent });
    });
    socket.write(`${headers.join('\r\n')}\r\n\r\n`);
    const pump = () => {
      while (sent < size && !socket.destroyed) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!socket.write(frame(chunk.subarray(0, n)))) return void socket.once('drain', pump);
      }
      if (!socket.destroyed) socket.end(tail);
    };
    pump();
  });
}

const request = (type: string, length: number | 'chunked') => [
  'POST /v1/predict HTTP/1.1',
  `Host: 127.0.0.1:${port}`,
  `Content-Type: ${type}`,
  length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`,
];

const WAYS: [string, () => Promise<Answer>][] = [
  ['a PNG body with its Content-Length', () => upload(request('image/png', SIZE), SIZE)],
  [
    'a chunked PNG body (no length to refuse it by: read up to the limit)',
    () =>
      upload(
        request('image/png', 'chunked'),
        SIZE,
        (c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]),
        '0\r\n\r\n',
      ),
  ],
  ['a multipart form with its Content-Length', () => upload(request('multipart/form-data; boundary=xyz', SIZE), SIZE)],
];

for (const [what, send] of WAYS)
  test(`20 MB to /v1/predict, ${what}: the client reads its 413, ${TRIES} times of ${TRIES}`, async () => {
    for (let i = 0; i < TRIES; i++) {
      const a = await send();
      assert.equal(a.error, null, `try ${i + 1}: ${a.error} after ${a.sent} bytes sent, status ${a.status}`);
      assert.equal(a.status, 413, `try ${i + 1}: ${a.body}`);
      const body = JSON.parse(
        a.body.startsWith('{') ? a.body : a.body.slice(a.body.indexOf('{'), a.body.lastIndexOf('}') + 1),
      );
      assert.equal(body.error, 'too_large');
      assert.equal(a.sent, SIZE, 'the whole body went out');
    }
  });

test('a body within the limit on the same server still gets its answer', async () => {
  const r = await app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels: new Array(784).fill(0) } });
  assert.equal(r.statusCode, 200, r.body);
});

test('the drain is bounded: past maxDrainBytes the connection is closed on the client', async () => {
  const small = await buildServer({ models: [tmp.dir], loader: stub, maxDrainBytes: MB });
  try {
    const address = await small.listen({ host: '127.0.0.1', port: 0 });
    const total = 64 * MB;
    const a = await upload(request('image/png', total), total, undefined, '', Number(new URL(address).port));
    // socket buffers take some megabytes, not 64: the server stopped reading long before the end
    assert.ok(a.sent < total, `sent ${a.sent} of ${total}`);
    assert.notEqual(a.error, null, 'the client was cut off');
  } finally {
    await small.close();
  }
});
