// Errors that become HTTP answers. Every answer the server gives to a bad request is a 4xx with
// a JSON body {"error": <short code>, "message": <what was wrong, in words>}.
import type { FastifyError } from 'fastify';
import { ImageError } from '../imaging/preprocess.js';

export type ErrorCode =
  | 'bad_request'
  | 'empty_body'
  | 'invalid_json'
  | 'invalid_input'
  | 'unsupported_media_type'
  | 'corrupt_image'
  | 'too_large'
  | 'not_found'
  | 'method_not_allowed'
  | 'timeout'
  | 'overloaded'
  | 'shutting_down'
  | 'internal';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly error: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: ErrorCode;
  message: string;
}

/** An image that could not be read: which status fits each reason. */
export function imageHttpError(e: ImageError, where = ''): HttpError {
  const prefix = where ? `${where}: ` : '';
  if (e.code === 'too_large') return new HttpError(413, 'too_large', prefix + e.message);
  if (e.code === 'unsupported') return new HttpError(415, 'unsupported_media_type', prefix + e.message);
  return new HttpError(422, 'corrupt_image', prefix + e.message);
}

export const ACCEPTED = 'image/png, image/jpeg, multipart/form-data (field "image") or application/json';

/** Maps anything thrown while handling a request to a status and a JSON body. */
export function toErrorReply(err: unknown, contentType?: string): { status: number; body: ErrorBody } {
  if (err instanceof HttpError) return { status: err.statusCode, body: { error: err.error, message: err.message } };
  if (err instanceof ImageError) return toErrorReply(imageHttpError(err));
  const e = err as Partial<FastifyError> & { message?: string };
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  const message = e.message ?? String(err);
  switch (e.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: { error: 'empty_body', message: 'the request body is empty' } };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, body: { error: 'invalid_json', message: `the body is not valid JSON (${message})` } };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return { status: 413, body: { error: 'too_large', message } };
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return { status: 413, body: { error: 'too_large', message } };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        body: {
          error: 'unsupported_media_type',
          message: `Content-Type '${contentType ?? '(none)'}' is not accepted here: send ${ACCEPTED}`,
        },
      };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return {
        status: status === 415 ? 415 : 400,
        body: { error: status === 415 ? 'unsupported_media_type' : 'bad_request', message },
      };
  }
  if (status >= 400 && status < 500) {
    const error: ErrorCode =
      status === 413
        ? 'too_large'
        : status === 415
          ? 'unsupported_media_type'
          : status === 404
            ? 'not_found'
            : 'bad_request';
    return { status, body: { error, message } };
  }
  if (status === 503) return { status, body: { error: 'overloaded', message } };
  return { status: 500, body: { error: 'internal', message: 'internal server error' } };
}
