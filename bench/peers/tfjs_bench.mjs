// TensorFlow.js peer of Caviar's benchmarks: trains a workload of workloads.json on the
// pure-JS 'cpu' backend or the WebAssembly 'wasm' backend and prints its figures.
//
//   node bench/peers/tfjs_bench.mjs --backend wasm --workload W1 --json
//
// TensorFlow.js is 20-150x slower than PyTorch on W1, W3 and W4, so each run is scaled to a
// time budget (--seconds, 20 by default): W1/W4 train the workload's epochs on the first rows
// of the training set that fit, W2 runs the epochs that fit, W3 the steps that fit. Rates
// (samples/s, updates/s, GFLOP/s) are comparable with the full runs of other peers; the
// test accuracy of a shortened W1/W4 run is not.

import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import wasmBackend from '@tensorflow/tfjs-backend-wasm';

const workloadsFile = new URL('./workloads.json', import.meta.url);
const defaultSecondsBudget = 20;
// Warm-up stops after the workload's warmupSteps or this share of the budget, whichever
// comes first: one W3 step on the 'cpu' backend takes seconds.
const warmupShareOfBudget = 0.25;

function parseArguments() {
  const { values } = parseArgs({
    options: {
      backend: { type: 'string' },
      workload: { type: 'string' },
      seconds: { type: 'string' },
      epochs: { type: 'string' },
      rows: { type: 'string' },
      steps: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!['cpu', 'wasm'].includes(values.backend) || !['W1', 'W2', 'W3', 'W4'].includes(values.workload)) {
    process.stderr.write(
      'usage: node tfjs_bench.mjs --backend cpu|wasm --workload W1|W2|W3|W4 ' +
        '[--seconds BUDGET] [--epochs N] [--rows N] [--steps N] [--json]\n',
    );
    process.exit(2);
  }
  const integer = (text) => (text === undefined ? undefined : Number.parseInt(text, 10));
  return {
    backend: values.backend,
    workload: values.workload,
    secondsBudget: values.seconds === undefined ? defaultSecondsBudget : Number(values.seconds),
    epochs: integer(values.epochs),
    rows: integer(values.rows),
    steps: integer(values.steps),
    json: values.json,
  };
}

function loadWorkload(name) {
  const definitions = JSON.parse(readFileSync(workloadsFile, 'utf8'));
  const { extends: baseName, ...own } = definitions.workloads[name];
  const workload = baseName === undefined ? own : { ...definitions.workloads[baseName], ...own };
  return { workload, definitions };
}

function log(message) {
  process.stderr.write(`${message}\n`);
}

/** sfc32, seeded: Math.random cannot be seeded. */
function seededRandom(seed) {
  let a = seed >>> 0;
  let b = 0;
  let c = 0x9e3779b9;
  let d = 1;
  const next = () => {
    const result = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + result) >>> 0;
    return result / 4294967296;
  };
  for (let round = 0; round < 12; round += 1) next();
  return {
    uniform: next,
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
    shuffle(items) {
      for (let index = items.length - 1; index > 0; index -= 1) {
        const other = Math.floor(next() * (index + 1));
        [items[index], items[other]] = [items[other], items[index]];
      }
    },
  };
}

// ---- data ----

function readIdx(path) {
  const content = gunzipSync(readFileSync(path));
  const dimensionCount = content[3];
  const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
  const shape = Array.from({ length: dimensionCount }, (_, index) => view.getUint32(4 + 4 * index));
  return { shape, values: content.subarray(4 + 4 * dimensionCount) };
}

/** Train and test images standardized with the train part's per-pixel statistics. */
function loadFashionMnist(dataset) {
  const file = (name) => join(dataset.directory, dataset[name]);
  let trainImages;
  try {
    trainImages = readIdx(file('trainImages'));
  } catch (error) {
    throw new Error(`Fashion-MNIST not found in ${dataset.directory}: apt-get install dataset-fashion-mnist`, {
      cause: error,
    });
  }
  const testImages = readIdx(file('testImages'));
  const features = trainImages.shape[1] * trainImages.shape[2];
  const trainRows = trainImages.shape[0];
  const mean = new Float64Array(features);
  const squares = new Float64Array(features);
  for (let row = 0; row < trainRows; row += 1) {
    for (let feature = 0; feature < features; feature += 1) {
      const value = trainImages.values[row * features + feature];
      mean[feature] += value;
      squares[feature] += value * value;
    }
  }
  const deviation = new Float64Array(features);
  for (let feature = 0; feature < features; feature += 1) {
    mean[feature] /= trainRows;
    const variance = squares[feature] / trainRows - mean[feature] * mean[feature];
    deviation[feature] = variance > 0 ? Math.sqrt(variance) : 1;
  }
  const standardize = (images) => {
    const rows = images.shape[0];
    const standardized = new Float32Array(rows * features);
    for (let index = 0; index < standardized.length; index += 1) {
      const feature = index % features;
      standardized[index] = (images.values[index] - mean[feature]) / deviation[feature];
    }
    return tf.tensor2d(standardized, [rows, features]);
  };
  const labels = (name) => Int32Array.from(readIdx(file(name)).values);
  return {
    trainInputs: standardize(trainImages),
    trainLabels: labels('trainLabels'),
    testInputs: standardize(testImages),
    testLabels: labels('testLabels'),
  };
}

/** The two-moons formula of sklearn.datasets.make_moons, drawn from a seeded sfc32. */
function makeMoons({ samples, noise, seed }) {
  const random = seededRandom(seed);
  const outerCount = Math.floor(samples / 2);
  const innerCount = samples - outerCount;
  const points = [];
  for (let index = 0; index < outerCount; index += 1) {
    const angle = (Math.PI * index) / (outerCount - 1);
    points.push([Math.cos(angle), Math.sin(angle), 0]);
  }
  for (let index = 0; index < innerCount; index += 1) {
    const angle = (Math.PI * index) / (innerCount - 1);
    points.push([1 - Math.cos(angle), 1 - Math.sin(angle) - 0.5, 1]);
  }
  random.shuffle(points);
  const inputs = points.flatMap(([x, y]) => [x + noise * random.normal(), y + noise * random.normal()]);
  return {
    inputs: tf.tensor2d(inputs, [samples, 2]),
    targets: tf.tensor2d(points.map((point) => point[2]), [samples, 1]),
  };
}

function makeRandomData({ rows, features, classes, seed }) {
  const random = seededRandom(seed);
  const inputs = new Float32Array(rows * features).map(() => random.normal());
  const labels = Int32Array.from({ length: rows }, () => Math.floor(random.uniform() * classes));
  return { inputs: tf.tensor2d(inputs, [rows, features]), labels };
}

// ---- model ----

function buildModel(modelSpec, inputs, batchNorm, seed) {
  const model = tf.sequential();
  let fanIn = inputs;
  modelSpec.layers.forEach((layer, index) => {
    const withBatchNorm = layer.batchNorm === true;
    // softmax and sigmoid outputs are fused into the loss; He initialization, N(0, 2/fan_in),
    // biases 0: Caviar's "he". Batch norm's beta makes the dense bias redundant.
    model.add(
      tf.layers.dense({
        ...(index === 0 ? { inputShape: [inputs] } : {}),
        units: layer.units,
        activation: withBatchNorm ? 'linear' : hiddenActivation(layer.activation),
        useBias: !withBatchNorm,
        kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: Math.sqrt(2 / fanIn), seed: seed + index }),
        biasInitializer: 'zeros',
      }),
    );
    if (withBatchNorm) {
      // Keras's momentum weighs the old average; the workloads give the new batch's weight.
      model.add(tf.layers.batchNormalization({ epsilon: batchNorm.epsilon, momentum: 1 - batchNorm.momentum }));
      model.add(tf.layers.activation({ activation: hiddenActivation(layer.activation) }));
    }
    if ((layer.dropout ?? 0) > 0) model.add(tf.layers.dropout({ rate: layer.dropout, seed: seed + index }));
    fanIn = layer.units;
  });
  return model;
}

function hiddenActivation(activation) {
  if (activation === 'relu') return 'relu';
  if (activation === 'softmax' || activation === 'sigmoid') return 'linear';
  throw new Error(`unsupported activation ${activation}`);
}

function buildLoss(name) {
  if (name === 'cross-entropy') return (targets, logits) => tf.losses.softmaxCrossEntropy(targets, logits);
  if (name === 'binary-cross-entropy') return (targets, logits) => tf.losses.sigmoidCrossEntropy(targets, logits);
  throw new Error(`unsupported loss ${name}`);
}

function buildOptimizer(spec) {
  if (spec.type === 'adam') return tf.train.adam(spec.learningRate, spec.beta1, spec.beta2, spec.epsilon);
  // tf.train.momentum keeps v = beta v + dW from v = 0; with the learning rate scaled by
  // (1 - beta) its steps are the course's v = beta v + (1 - beta) dW, W -= alpha v.
  if (spec.type === 'momentum') return tf.train.momentum(spec.learningRate * (1 - spec.beta), spec.beta);
  if (spec.type === 'sgd') return tf.train.sgd(spec.learningRate);
  throw new Error(`unsupported optimizer ${spec.type}`);
}

/** The model drawn from the workload's seed or, with avoidDeadInitialization, from the first
 * seed upward that leaves every hidden ReLU unit active on some training row. */
function initialModel(workload, definitions, inputs) {
  for (let seed = workload.training.seed; ; seed += 1) {
    const model = buildModel(workload.model, inputs.shape[1], definitions.batchNorm, seed);
    if (!workload.avoidDeadInitialization || !hasDeadUnit(model, inputs)) return { model, seed };
    model.dispose();
  }
}

function hasDeadUnit(model, inputs) {
  return tf.tidy(() => {
    let activations = inputs;
    for (const layer of model.layers) {
      activations = layer.apply(activations, { training: false });
      if (layer.getConfig().activation === 'relu' && activations.max(0).min().dataSync()[0] <= 0) return true;
    }
    return false;
  });
}

/** A trainer: a custom loop around optimizer.minimize, the core of model.fit without its
 * per-batch callbacks and logs, so the fastest training TensorFlow.js offers. */
function buildTrainer(workload, definitions, inputs) {
  const { model, seed } = initialModel(workload, definitions, inputs);
  const loss = buildLoss(workload.loss);
  const optimizer = buildOptimizer(workload.training.optimizer);
  return {
    model,
    seed,
    step(inputs, targets) {
      tf.tidy(() => {
        optimizer.minimize(() => loss(targets, model.apply(inputs, { training: true })));
      });
    },
    dispose() {
      model.dispose();
      optimizer.dispose();
    },
  };
}

/** Runs warm-up steps on a throwaway model and returns the seconds one step takes. */
function warmUp(workload, definitions, source, secondsBudget) {
  const trainer = buildTrainer(workload, definitions, source.inputs);
  const stepSeconds = [];
  const started = performance.now();
  for (let step = 0; step < definitions.warmupSteps; step += 1) {
    const stepStarted = performance.now();
    const { inputs, targets } = source.take(step);
    trainer.step(inputs, targets);
    tf.dispose([inputs, targets]);
    stepSeconds.push((performance.now() - stepStarted) / 1000);
    if (step >= 1 && (performance.now() - started) / 1000 > secondsBudget * warmupShareOfBudget) break;
  }
  trainer.dispose();
  // The first step pays for kernel setup: the later ones say what a step costs.
  const steady = stepSeconds.length > 1 ? stepSeconds.slice(1) : stepSeconds;
  return steady.reduce((sum, seconds) => sum + seconds, 0) / steady.length;
}

/** Batches from the first `rows` rows of a training set in memory, gathered by row index as
 * a TensorFlow.js user does without tf.data. labelsToTargets(labels, indices) makes the
 * target tensor of the rows at `indices`. */
function batchSource(inputs, labels, labelsToTargets, rows, batchSize) {
  const gather = (indices) =>
    tf.tidy(() => ({
      inputs: tf.gather(inputs, tf.tensor1d(indices, 'int32')),
      targets: labelsToTargets(labels, indices),
    }));
  return {
    inputs,
    rows,
    batchSize,
    gather,
    /** The step-th batch of consecutive rows, for warm-up and W3. */
    take(step) {
      const start = (step * batchSize) % Math.max(1, rows - batchSize + 1);
      return gather(Int32Array.from({ length: Math.min(batchSize, rows) }, (_, offset) => start + offset));
    },
  };
}

function trainEpochs(trainer, source, epochs, seed) {
  const random = seededRandom(seed);
  const order = Int32Array.from({ length: source.rows }, (_, index) => index);
  const epochSeconds = [];
  for (let epoch = 0; epoch < epochs; epoch += 1) {
    const started = performance.now();
    random.shuffle(order);
    for (let start = 0; start < source.rows; start += source.batchSize) {
      const batch = source.gather(order.subarray(start, start + source.batchSize));
      trainer.step(batch.inputs, batch.targets);
      tf.dispose([batch.inputs, batch.targets]);
    }
    epochSeconds.push((performance.now() - started) / 1000);
    if ((epoch + 1) % Math.max(1, Math.floor(epochs / 10)) === 0) {
      log(`epoch ${epoch + 1}/${epochs}: ${epochSeconds.at(-1).toFixed(3)} s`);
    }
  }
  return epochSeconds;
}

const oneHotTargets = (classes) => (labels, indices) =>
  tf.oneHot(tf.tensor1d(Int32Array.from(indices, (index) => labels[index]), 'int32'), classes).toFloat();

function classificationAccuracy(model, inputs, labels) {
  return tf.tidy(() => {
    const predicted = model.predict(inputs).argMax(1).dataSync();
    let correct = 0;
    predicted.forEach((label, index) => {
      if (label === labels[index]) correct += 1;
    });
    return correct / labels.length;
  });
}

const sum = (values) => values.reduce((total, value) => total + value, 0);

// ---- workloads ----

function runFashion(workload, definitions, options) {
  const data = loadFashionMnist(workload.dataset);
  const { batchSize, seed } = workload.training;
  const targets = oneHotTargets(10);
  const fullRows = data.trainInputs.shape[0];
  const warmupSource = batchSource(data.trainInputs, data.trainLabels, targets, fullRows, batchSize);
  const secondsPerStep = warmUp(workload, definitions, warmupSource, options.secondsBudget);
  const epochs = options.epochs ?? workload.training.epochs;
  const affordableBatches = Math.floor(options.secondsBudget / epochs / secondsPerStep);
  const rows = options.rows ?? Math.min(fullRows, Math.max(1, affordableBatches) * batchSize);
  log(`${rows} training rows x ${epochs} epochs (${(secondsPerStep * 1000).toFixed(1)} ms a step)`);
  const trainer = buildTrainer(workload, definitions, data.trainInputs);
  const source = batchSource(data.trainInputs, data.trainLabels, targets, rows, batchSize);
  const epochSeconds = trainEpochs(trainer, source, epochs, seed);
  const seconds = sum(epochSeconds);
  return {
    samples_per_second: (rows * epochs) / seconds,
    test_accuracy: classificationAccuracy(trainer.model, data.testInputs, data.testLabels),
    test_accuracy_is_comparable: rows === fullRows && epochs === workload.training.epochs,
    seconds,
    epoch_seconds: epochSeconds,
    epochs,
    train_rows: rows,
    seed_used: trainer.seed,
  };
}

function runMoons(workload, definitions, options) {
  const { inputs, targets } = makeMoons(workload.dataset);
  const { batchSize, seed } = workload.training;
  const rows = inputs.shape[0];
  const rowTargets = (allTargets, indices) => tf.gather(allTargets, tf.tensor1d(indices, 'int32'));
  const source = batchSource(inputs, targets, rowTargets, rows, batchSize);
  const secondsPerStep = warmUp(workload, definitions, source, options.secondsBudget);
  const batchesPerEpoch = Math.ceil(rows / batchSize);
  const affordableEpochs = Math.max(1, Math.floor(options.secondsBudget / (secondsPerStep * batchesPerEpoch)));
  const epochs = options.epochs ?? Math.min(workload.training.epochs, affordableEpochs);
  const trainer = buildTrainer(workload, definitions, inputs);
  const epochSeconds = trainEpochs(trainer, source, epochs, seed);
  const seconds = sum(epochSeconds);
  const updates = epochs * batchesPerEpoch;
  const trainAccuracy = tf.tidy(() =>
    trainer.model.predict(inputs).greater(0).toFloat().equal(targets).toFloat().mean().dataSync()[0],
  );
  return {
    updates_per_second: updates / seconds,
    microseconds_per_update: (seconds / updates) * 1e6,
    train_accuracy: trainAccuracy,
    train_accuracy_is_comparable: epochs === workload.training.epochs,
    seconds,
    updates,
    epochs,
    seed_used: trainer.seed,
  };
}

function stepFlops(workload) {
  const batchSize = workload.training.batchSize;
  let fanIn = workload.model.inputs;
  let total = 0;
  workload.model.layers.forEach((layer, index) => {
    // forward and dW on every layer, dX on every layer but the first
    total += (index === 0 ? 4 : 6) * batchSize * fanIn * layer.units;
    fanIn = layer.units;
  });
  return total;
}

function runWide(workload, definitions, options) {
  const { inputs, labels } = makeRandomData(workload.dataset.random);
  const { batchSize } = workload.training;
  const targets = oneHotTargets(workload.dataset.random.classes);
  const rows = inputs.shape[0];
  const source = batchSource(inputs, labels, targets, rows, batchSize);
  const secondsPerStep = warmUp(workload, definitions, source, options.secondsBudget);
  const affordableSteps = Math.max(1, Math.floor(options.secondsBudget / secondsPerStep));
  const steps = options.steps ?? Math.min(workload.training.steps, affordableSteps);
  const trainer = buildTrainer(workload, definitions, inputs);
  const batches = Math.floor(rows / batchSize);
  // Batches are gathered before the clock starts: W3 measures the step's arithmetic.
  const prepared = Array.from({ length: Math.min(batches, steps) }, (_, batch) => source.take(batch));
  const started = performance.now();
  for (let step = 0; step < steps; step += 1) {
    const batch = prepared[step % prepared.length];
    trainer.step(batch.inputs, batch.targets);
  }
  // The cpu and wasm kernels run synchronously; reading the weights back would also wait
  // for a backend whose kernels do not.
  trainer.model.getWeights().forEach((weight) => weight.dataSync());
  const seconds = (performance.now() - started) / 1000;
  const flops = stepFlops(workload);
  return {
    gflops: (flops * steps) / seconds / 1e9,
    seconds,
    steps,
    seed_used: trainer.seed,
    flops_per_step: flops,
    flop_formula: workload.flopFormula,
  };
}

async function selectBackend(backend) {
  if (backend === 'wasm') {
    // The threaded wasm build needs Web Workers started from blob URLs, which Node's
    // worker_threads refuse, so TensorFlow.js reports no thread support in Node and loads
    // the single-threaded SIMD build.
    wasmBackend.setThreadsCount(cpus().length);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TensorFlow.js backend ${backend} did not start`);
  await tf.ready();
  if (backend === 'cpu') return { threads: 1, simd: false, about: 'pure JavaScript kernels on the main thread' };
  return {
    threads: wasmBackend.getThreadsCount(),
    simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    thread_support_reported: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    about: 'XNNPACK kernels compiled to WebAssembly',
  };
}

function summaryLine(result) {
  const metric = result.metric;
  const parts = [
    `tfjs-${result.backend} ${result.workload} (${result.name}):`,
    `${result[metric].toLocaleString('en-US', { maximumFractionDigits: 1 })} ${metric.replaceAll('_', ' ')}`,
  ];
  if (result.test_accuracy !== undefined) {
    parts.push(`test accuracy ${result.test_accuracy.toFixed(4)} after ${result.epochs} epochs of ${result.train_rows} rows`);
  }
  if (result.train_accuracy !== undefined) {
    parts.push(`train accuracy ${result.train_accuracy.toFixed(4)} after ${result.epochs} epochs`);
  }
  if (result.workload === 'W3') parts.push(`(${result.steps} steps)`);
  return parts.join(' ');
}

async function main() {
  const options = parseArguments();
  const backendDescription = await selectBackend(options.backend);
  const { workload, definitions } = loadWorkload(options.workload);
  const runner = { W1: runFashion, W4: runFashion, W2: runMoons, W3: runWide }[options.workload];
  const figures = runner(workload, definitions, options);
  const result = {
    peer: 'tfjs',
    workload: options.workload,
    name: workload.name,
    metric: workload.metric,
    backend: options.backend,
    config: `tfjs-${options.backend}`,
    config_description: `TensorFlow.js ${options.backend} backend, ${backendDescription.threads} thread(s): ${backendDescription.about}`,
    ...figures,
    seconds_budget: options.secondsBudget,
    tfjs_version: tf.version.tfjs,
    backend_details: backendDescription,
    node_version: process.version,
    cpu: cpus()[0]?.model ?? null,
    // maxRSS is in KiB.
    peak_rss_mib: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${options.json ? JSON.stringify(result) : summaryLine(result)}\n`);
}

await main();
