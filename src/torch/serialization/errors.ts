// The one error the .pt reader throws for bad input. The zip and pickle layers throw it without the file's name;
// readStateDict (pt.ts) prefixes the name, so every message says which file is wrong and what is wrong with it.

/** A malformed, hostile or unsupported .pt file. Any other exception from the reader is a bug in it. */
export class PtFormatError extends Error {
  override readonly name = 'PtFormatError';
}

export function fail(message: string): never {
  throw new PtFormatError(message);
}
