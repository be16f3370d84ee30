// Random images from the Fashion-MNIST test set, for the page's "random test image" button.
// Only the 10,000 test images are read (7.8 MB), once, on first use.
import { locateData, parseIdxImages, parseIdxLabels, CLASS_NAMES } from '../data/index.js';
import { readIdxBytesAsync } from '../data/idx.js';
import { HttpError } from './errors.js';

export interface Sample {
  index: number;
  label: number;
  class: string;
  pixels: number[];
}

export class TestSamples {
  private loading: Promise<{ images: Uint8Array; labels: Uint8Array; count: number }> | null = null;

  constructor(private readonly dataDir?: string) {}

  private load() {
    if (!this.loading) {
      this.loading = (async () => {
        const src = locateData({ dataDir: this.dataDir });
        if (!src)
          throw new HttpError(
            404,
            'not_found',
            'the Fashion-MNIST test set is not on this server (see `fmnist data`), so there are no sample images',
          );
        const [img, lab] = await Promise.all([
          readIdxBytesAsync(src.files.testImages),
          readIdxBytesAsync(src.files.testLabels),
        ]);
        const images = parseIdxImages(img, src.files.testImages);
        const labels = parseIdxLabels(lab, src.files.testLabels);
        return { images: images.images, labels, count: Math.min(images.count, labels.length) };
      })();
      // A failure is remembered; a missing data set does not appear while the server runs.
      this.loading.catch(() => {});
    }
    return this.loading;
  }

  /** Test image `index`, or a random one. */
  async get(index?: number): Promise<Sample> {
    let data;
    try {
      data = await this.load();
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(404, 'not_found', `the Fashion-MNIST test set could not be read: ${(e as Error).message}`);
    }
    const i = index ?? Math.floor(Math.random() * data.count);
    if (i >= data.count)
      throw new HttpError(404, 'not_found', `there are ${data.count} test images (0–${data.count - 1})`);
    const label = data.labels[i];
    return {
      index: i,
      label,
      class: CLASS_NAMES[label],
      pixels: Array.from(data.images.subarray(i * 784, (i + 1) * 784)),
    };
  }
}
