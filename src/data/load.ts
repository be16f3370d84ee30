// Finds, downloads if needed, reads, verifies and converts the whole dataset.
import { existsSync } from 'node:fs';
import { DataError } from './errors.js';
import { downloadDataset } from './download.js';
import {
  DATA_FILES,
  DATA_FILE_KEYS,
  OFFICIAL_CHECKSUMS,
  cacheDir,
  howToGetData,
  type ChecksumTable,
  type DataFileKey,
} from './files.js';
import { parseIdxImages, parseIdxLabels, readIdxBytesAsync, verifyChecksum } from './idx.js';
import {
  explicitDir,
  findDataFiles,
  locateData,
  missingDataFiles,
  searchPlaces,
  type DataSource,
  type LocateOptions,
} from './locate.js';
import { toFloatImages, type Split } from './convert.js';

export interface FashionMnist {
  train: Split;
  test: Split;
  source: DataSource;
  /** True when all four files matched their SHA-256. */
  verified: boolean;
  /** The raw 0-255 pixels behind train.images / test.images. */
  rawTrain: Uint8Array;
  rawTest: Uint8Array;
}

export interface LoadOptions extends LocateOptions {
  /** Check SHA-256 of the decompressed files (default true). */
  verify?: boolean;
  /** No progress output on stderr. */
  quiet?: boolean;
  /** Expected hashes by base name, replacing the official ones it names (for fixtures). */
  checksums?: ChecksumTable;
  /** Allow downloading into the cache when no copy is found (default true). */
  download?: boolean;
}

function sourceLabel(origin: 'flag' | 'env'): string {
  return origin === 'flag' ? '--data-dir' : 'FASHION_MNIST_DIR';
}

function notFoundError(opts: LoadOptions, detail: string, hint = ''): DataError {
  const searched = searchPlaces(opts).map((p) => p.dir);
  return new DataError(`${detail}\nSearched: ${searched.join(', ')}\n${howToGetData(opts.env ?? process.env)}${hint}`);
}

async function findOrDownload(opts: LoadOptions): Promise<DataSource> {
  const found = locateData(opts);
  if (found) return found;
  const explicit = explicitDir(opts);
  if (explicit) {
    // A named folder is a promise about where the data is; falling back would hide a typo.
    const what = existsSync(explicit.dir)
      ? `missing ${missingDataFiles(explicit.dir)
          .map((n) => `${n}(.gz)`)
          .join(', ')}`
      : 'folder does not exist';
    throw notFoundError(
      opts,
      `Fashion-MNIST not found in ${explicit.dir} (from ${sourceLabel(explicit.origin)}): ${what}`,
    );
  }
  if (opts.download === false) throw notFoundError(opts, 'Fashion-MNIST not found (download disabled)');
  const env = opts.env ?? process.env;
  const dir = cacheDir(env);
  try {
    await downloadDataset({
      dir,
      env,
      verify: opts.verify,
      checksums: opts.checksums,
      progress: opts.quiet ? null : process.stderr,
    });
  } catch (err) {
    if (!(err instanceof DataError)) throw err;
    throw notFoundError(
      opts,
      `Fashion-MNIST not found locally and the download into ${dir} failed: ${err.message}`,
      ' FASHION_MNIST_MIRROR=URL picks another download mirror.',
    );
  }
  const files = findDataFiles(dir);
  if (!files) throw notFoundError(opts, `${dir}: download finished but files are missing`);
  return { dir, origin: 'download', searched: searchPlaces(opts).map((p) => p.dir), files };
}

function readSplit(
  imagesBytes: Uint8Array,
  labelsBytes: Uint8Array,
  imagesPath: string,
  labelsPath: string,
): { split: Split; raw: Uint8Array } {
  const { images, count } = parseIdxImages(imagesBytes, imagesPath);
  const labels = parseIdxLabels(labelsBytes, labelsPath);
  if (labels.length !== count) {
    throw new DataError(
      `${imagesPath} has ${count} images but ${labelsPath} has ${labels.length} labels; ` +
        'the two files do not belong together',
    );
  }
  return { split: { images: toFloatImages(images), labels, count }, raw: images };
}

export async function loadFashionMnist(opts: LoadOptions = {}): Promise<FashionMnist> {
  const verify = opts.verify ?? true;
  const source = await findOrDownload(opts);
  const bytes = Object.fromEntries(
    await Promise.all(DATA_FILE_KEYS.map(async (k) => [k, await readIdxBytesAsync(source.files[k])] as const)),
  ) as Record<DataFileKey, Uint8Array>;

  // Structure first: "truncated" or "wrong magic" says more than a bare checksum mismatch.
  const train = readSplit(bytes.trainImages, bytes.trainLabels, source.files.trainImages, source.files.trainLabels);
  const test = readSplit(bytes.testImages, bytes.testLabels, source.files.testImages, source.files.testLabels);

  if (verify) {
    const table = { ...OFFICIAL_CHECKSUMS, ...opts.checksums };
    for (const key of DATA_FILE_KEYS) {
      const { name, sha256, bytes: size } = DATA_FILES[key];
      const expected = table[name];
      if (!expected) throw new DataError(`${source.files[key]}: no expected checksum for ${name}`);
      verifyChecksum(bytes[key], source.files[key], expected, expected === sha256 ? size : undefined);
    }
  }
  return { train: train.split, test: test.split, source, verified: verify, rawTrain: train.raw, rawTest: test.raw };
}
