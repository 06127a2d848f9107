// Trains one parity case with Caviar, for torch_parity.py: reads the case as JSON on
// stdin, writes the parameters before and after training and the inference outputs as
// JSON on stdout. Uses the compiled engine face (npm run build:ts).
import { Model, Trainer } from '../../dist/src/engine/index.js';

const floats = (text) => {
  const bytes = Buffer.from(text, 'base64');
  const values = new Float32Array(bytes.byteLength / 4);
  bytes.copy(Buffer.from(values.buffer));
  return values;
};
const base64 = (values) => Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');

let input = '';
for await (const chunk of process.stdin) input += chunk;
const testCase = JSON.parse(input);
const train = {
  x: floats(testCase.train.x),
  y: floats(testCase.train.y),
  rows: testCase.train.rows,
  features: testCase.train.features,
};
const trainer = Trainer.create(testCase.spec, train);
const initial = trainer.model();
await trainer.run(testCase.spec.training.epochs);
const final = trainer.model();
const { outputs } = await Model.load(final).predict(floats(testCase.evaluate.x), testCase.evaluate.rows);
process.stdout.write(JSON.stringify({ initial: initial.layers, final: final.layers, outputs: base64(outputs) }));
