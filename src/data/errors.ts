// Every data-layer failure is a DataError so the CLI can print it as a one-line user error (no stack).
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}
