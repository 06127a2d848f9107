// Datasets as the engine wants them: loaded from files or built in, checked, and split.
export { type Dataset, type Labels, type LoadedDataset, selectRows } from './dataset.js';
export { DataError, type DataErrorCode, type DataLocation } from './errors.js';
export { loadCsv, parseCsv, type CsvFileOptions, type CsvOptions } from './csv.js';
export { datasetFromJson, loadJson, parseJson, type JsonOptions, type JsonTextOptions } from './json.js';
export {
  datasetFromIdx,
  labelsPathFor,
  loadIdx,
  parseIdx,
  type IdxArray,
  type IdxBytes,
  type IdxFiles,
  type IdxOptions,
} from './idx.js';
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIRECTORY,
  fashionMnistFiles,
  loadFashionMnist,
} from './fashion-mnist.js';
export {
  blobs,
  circles,
  GENERATED_NAMES,
  generateDataset,
  isGenerated,
  moons,
  spirals,
  type GeneratedName,
  type GeneratorOptions,
} from './generators.js';
export { COURSE_DATA_VARIABLE, courseDirectory, listCourseDatasets, loadCourseDataset } from './course2.js';
export {
  fileFormat,
  resolveDataset,
  type BuiltinDatasetSpec,
  type FileDatasetSpec,
  type FileFormat,
  type ResolveOptions,
} from './resolve.js';
export {
  splitDataset,
  splitIndices,
  type SplitDatasets,
  type SplitIndices,
  type SplitOptions,
} from './split.js';
export { Random } from './random.js';
