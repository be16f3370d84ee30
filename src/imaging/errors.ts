export class ImageError extends Error {
  constructor(
    message: string,
    readonly code: 'unsupported' | 'corrupt' | 'too_large',
  ) {
    super(message);
  }
}
