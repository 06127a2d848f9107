import t from 'tap';
import { estimateJobBytes } from '../../src/jobs/admission.js';
import type { JobSpec } from '../../src/jobs/spec.js';

t.test("a job's network estimate holds nine copies of its parameters, each epoch's rollback copy among them", async (t) => {
  const spec: JobSpec = {
    dataset: { builtin: 'moons' },
    model: { layers: [{ units: 256, activation: 'relu' }, { units: 10, activation: 'softmax' }] },
    training: { epochs: 1, batchSize: 1, optimizer: { type: 'adam' } },
  };
  const parameters = (784 + 1) * 256 + (256 + 1) * 10;
  const { network } = estimateJobBytes(spec, { features: 784, rows: 1 });
  // Weights, gradients and Adam's two moments; the copy of weights and moments an epoch
  // keeps to undo itself; a checkpoint and its copy on its way to the server.
  t.ok(network >= 9 * parameters * 4, `${network} bytes for ${parameters} float parameters`);
  t.ok(network < 10 * parameters * 4, 'and not a tenth');
});
