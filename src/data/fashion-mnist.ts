// Fashion-MNIST (Zalando, 2017) from Debian's dataset-fashion-mnist package: 60000 train and
// 10000 test images of 28 x 28 grey pixels (0-255, unscaled: the job's normalization scales
// them), ten classes of clothing. The t10k files are the dataset's own test part.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedDataset } from './dataset.js';
import { DataError } from './errors.js';
import { loadIdx, type IdxFiles } from './idx.js';

/** Where the Debian package installs the files. */
export const FASHION_MNIST_DIRECTORY = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = [
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
];

/** The four files, under their names in the package. */
export function fashionMnistFiles(directory = FASHION_MNIST_DIRECTORY): { train: IdxFiles; test: IdxFiles } {
  return {
    train: {
      images: join(directory, 'train-images-idx3-ubyte.gz'),
      labels: join(directory, 'train-labels-idx1-ubyte.gz'),
    },
    test: {
      images: join(directory, 't10k-images-idx3-ubyte.gz'),
      labels: join(directory, 't10k-labels-idx1-ubyte.gz'),
    },
  };
}

/** Loads Fashion-MNIST; a missing file is an error that says how to install it. */
export async function loadFashionMnist(directory = FASHION_MNIST_DIRECTORY): Promise<LoadedDataset> {
  const files = fashionMnistFiles(directory);
  for (const path of [files.train.images, files.train.labels, files.test.images, files.test.labels]) {
    try {
      await access(path);
    } catch {
      throw new DataError(
        'DATASET_NOT_FOUND',
        `Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist puts it in ${directory})`,
        { source: path },
      );
    }
  }
  return loadIdx(files.train, { name: 'fashion-mnist', classNames: FASHION_MNIST_CLASSES, test: files.test });
}
