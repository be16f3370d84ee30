// The four official Fashion-MNIST files and what their decompressed bytes must hash to.
import { homedir } from 'node:os';
import { join } from 'node:path';

export const IMAGE_SIZE = 28;
export const NUM_CLASSES = 10;
export const PIXELS_PER_IMAGE = IMAGE_SIZE * IMAGE_SIZE;

export const CLASS_NAMES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

export type DataFileKey = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels';

export interface DataFileInfo {
  /** Base name without `.gz`; the file may sit on disk as `<name>.gz` or `<name>`. */
  name: string;
  /** SHA-256 of the decompressed bytes (Debian recompresses, so the .gz bytes differ between copies). */
  sha256: string;
  bytes: number;
}

export const DATA_FILES: Readonly<Record<DataFileKey, DataFileInfo>> = Object.freeze({
  trainImages: {
    name: 'train-images-idx3-ubyte',
    sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
    bytes: 47040016,
  },
  trainLabels: {
    name: 'train-labels-idx1-ubyte',
    sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
    bytes: 60008,
  },
  testImages: {
    name: 't10k-images-idx3-ubyte',
    sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
    bytes: 7840016,
  },
  testLabels: {
    name: 't10k-labels-idx1-ubyte',
    sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
    bytes: 10008,
  },
});

export const DATA_FILE_KEYS: readonly DataFileKey[] = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];

/** Expected SHA-256 per base name; pass your own table to verify test fixtures. */
export type ChecksumTable = Readonly<Record<string, string>>;

export const OFFICIAL_CHECKSUMS: ChecksumTable = Object.freeze(
  Object.fromEntries(DATA_FILE_KEYS.map((k) => [DATA_FILES[k].name, DATA_FILES[k].sha256])),
);

export const SYSTEM_DATA_DIR = '/usr/share/datasets/fashion-mnist';

// S3 website endpoints only speak plain HTTP (HTTPS fails there); every file is SHA-256 checked, so that is safe.
export const DEFAULT_MIRROR = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  // XDG says relative values are invalid and must be ignored.
  if (xdg && xdg.startsWith('/')) return join(xdg, 'fmnist');
  return join(env.HOME || homedir(), '.cache', 'fmnist');
}

export function mirrorUrl(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.FASHION_MNIST_MIRROR || DEFAULT_MIRROR;
  return base.endsWith('/') ? base : `${base}/`;
}

export function howToGetData(env: NodeJS.ProcessEnv = process.env): string {
  return (
    'To get the data: `apt-get install dataset-fashion-mnist` (installs to ' +
    `${SYSTEM_DATA_DIR}), or put the four files (.gz or uncompressed) in a folder and pass ` +
    '--data-dir DIR or set FASHION_MNIST_DIR, or run without --data-dir/FASHION_MNIST_DIR and fmnist ' +
    `downloads them automatically into ${cacheDir(env)}.`
  );
}
