// The data layer: find, download, read, verify and batch Fashion-MNIST.
export { DataError } from './errors.js';
export {
  CLASS_NAMES,
  IMAGE_SIZE,
  NUM_CLASSES,
  PIXELS_PER_IMAGE,
  DATA_FILES,
  DATA_FILE_KEYS,
  OFFICIAL_CHECKSUMS,
  SYSTEM_DATA_DIR,
  DEFAULT_MIRROR,
  cacheDir,
  mirrorUrl,
  type ChecksumTable,
  type DataFileInfo,
  type DataFileKey,
} from './files.js';
export {
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  readIdxBytes,
  readIdxImages,
  readIdxLabels,
  parseIdxImages,
  parseIdxLabels,
  sha256Hex,
  verifyChecksum,
  type IdxImages,
} from './idx.js';
export {
  locateData,
  findDataFiles,
  searchPlaces,
  type DataSource,
  type DataOrigin,
  type LocateOptions,
} from './locate.js';
export { downloadDataset, type DownloadOptions } from './download.js';
export { loadFashionMnist, type FashionMnist, type LoadOptions } from './load.js';
export { toFloatImages, pixelStats, shapeNHWC, shapeNCHW, classCounts, type Split } from './convert.js';
export { mulberry32, shuffleInPlace, stratifiedSplit, subset, gatherBatch, BatchIterator } from './split.js';
export { writeSampleGrid, renderSampleGrid, type SampleGridOptions } from './grid.js';
export { drawText, textWidth, textHeight, GLYPH_WIDTH, GLYPH_HEIGHT, FONT_CHARS } from './font.js';
