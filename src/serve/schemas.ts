// The zod schemas every request is checked against, and the glue that makes Fastify use them.
import { z } from 'zod';
import type { FastifySchemaCompiler, FastifyTypeProvider } from 'fastify';
import { HttpError } from './errors.js';

export const PIXELS = 784;
export const MAX_BATCH = 256;

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** Why one JSON value is not a pixel (a number from 0 to 255), or null. */
function pixelProblem(v: unknown): string | null {
  if (typeof v !== 'number') return `expected a number from 0 to 255, got ${describe(v)}`;
  if (v < 0) return `${v} is below 0 (pixels are 0–255)`;
  if (v > 255) return `${v} is above 255 (pixels are 0–255)`;
  return null;
}

// The 784 values are checked in one loop, not by a zod schema per element: per-element zod parsing was about a
// fifth of the server's CPU per /v1/predict request under load (a --cpu-prof of bench/load.ts). Same messages.
export const Pixels = z
  .array(z.unknown(), { error: (iss) => `expected an array of ${PIXELS} numbers, got ${describe(iss.input)}` })
  .length(PIXELS, {
    error: (iss) =>
      `expected exactly ${PIXELS} pixel values (28×28, row by row), got ${(iss.input as unknown[]).length}`,
  })
  .superRefine((px, ctx) => {
    for (let i = 0; i < px.length; i++) {
      const problem = pixelProblem(px[i]);
      if (problem) return void ctx.addIssue({ code: 'custom', path: [i], message: problem, input: px[i] });
    }
  }) as unknown as z.ZodType<number[]>;

/** A PNG or JPEG file, base64-encoded, for clients that can only send JSON. */
export const Base64Image = z.base64({ error: 'expected a base64-encoded PNG or JPEG' }).min(1, 'the image is empty');

/** One image in JSON: its 784 pixels, or an encoded file. */
export const ImageJson = z
  .strictObject({ pixels: Pixels.optional(), image: Base64Image.optional() })
  .refine((v) => (v.pixels === undefined) !== (v.image === undefined), {
    error: 'give either "pixels" (784 numbers, 0–255) or "image" (a base64 PNG/JPEG), not both or neither',
  });
export type ImageJson = z.infer<typeof ImageJson>;

export const BatchJson = z.strictObject({
  images: z
    .array(ImageJson, { error: 'expected "images": an array of {"pixels": [...]} or {"image": "<base64>"}' })
    .min(1, 'the batch is empty')
    .max(MAX_BATCH, {
      error: (iss) => `at most ${MAX_BATCH} images per batch, got ${(iss.input as unknown[]).length}`,
    }),
});
export type BatchJson = z.infer<typeof BatchJson>;

/** Raw image bodies arrive as a Buffer, multipart ones are read in the handler (body undefined). */
const NotJson = z.union([z.instanceof(Buffer), z.undefined(), z.null()]);
export const PredictBody = z.union([NotJson, ImageJson]);
export const BatchBody = z.union([NotJson, BatchJson]);

export const PredictQuery = z.strictObject({
  top: z.coerce
    .number({ error: '"top" must be a whole number from 1 to 10' })
    .int('"top" must be a whole number from 1 to 10')
    .min(1, '"top" must be a whole number from 1 to 10')
    .max(10, '"top" must be a whole number from 1 to 10')
    .default(3),
});
export type PredictQuery = z.infer<typeof PredictQuery>;

export const NoQuery = z.strictObject({});

const Name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'not a valid name');
export const ModelParams = z.strictObject({ id: Name });
export const ModelFileParams = z.strictObject({ id: Name, file: Name });
export const StaticParams = z.strictObject({ file: Name });

function pathText(path: PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s;
}

type Issue = z.core.$ZodIssue;

/** Zod unions report every branch; the JSON branch (the last) is the one a JSON client meant. */
function flatten(issues: readonly Issue[], prefix: PropertyKey[] = []): { path: PropertyKey[]; message: string }[] {
  return issues.flatMap((iss) => {
    const path = [...prefix, ...iss.path];
    if (iss.code === 'invalid_union' && iss.errors.length > 0) return flatten(iss.errors[iss.errors.length - 1], path);
    if (iss.code === 'unrecognized_keys')
      return [{ path, message: `unknown field(s) ${iss.keys.map((k) => `"${k}"`).join(', ')}` }];
    return [{ path, message: iss.message }];
  });
}

export function formatZodError(err: z.ZodError, where?: string): string {
  // Shallow problems first: "expected 784 values, got 783" says more than the 783 element errors.
  const all = flatten(err.issues).sort((a, b) => a.path.length - b.path.length);
  const shown = all.slice(0, 3).map((i) => {
    const p = pathText(i.path);
    return p ? `${p}: ${i.message}` : i.message;
  });
  const more = all.length > 3 ? ` (and ${all.length - 3} more problems)` : '';
  return `${where ? `${where}: ` : ''}${shown.join('; ')}${more}`;
}

/** Fastify validator compiler for zod schemas: a bad body is a 422, bad params or query a 400 (404 for params). */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  return (data: unknown) => {
    const r = schema.safeParse(data);
    if (r.success) return { value: r.data };
    if (httpPart === 'body') return { error: new HttpError(422, 'invalid_input', formatZodError(r.error)) };
    if (httpPart === 'params')
      return { error: new HttpError(404, 'not_found', `no such resource (${formatZodError(r.error)})`) };
    return { error: new HttpError(400, 'bad_request', formatZodError(r.error, httpPart ?? 'request')) };
  };
};

/** Types each route's req.body / req.query / req.params as what its zod schema parses to (no `as` casts). */
export interface ZodTypeProvider extends FastifyTypeProvider {
  readonly validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  readonly serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}
