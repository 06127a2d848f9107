// One job (#/jobs/ID), "panda" style: its curves live from the job's event socket, the
// controls to babysit it (pause, resume, cancel, a new learning rate from the next epoch),
// and the bias/variance verdict with its advice once it ends.
import { followEvents, get, patch, post, request } from '../api.js';
import { Chart, exponentialAverage, positiveOrNull } from '../charts.js';
import { FINISHED, badge, confirmButton, h, number, percent, text } from '../dom.js';

const BETA = 0.9;

/**
 * What to try when a job fails, by its error's code (src/engine/errors.ts and the service's
 * own: the worker's and the scheduler's). A code not listed gets the last line alone.
 */
const FAILURE_ADVICE = {
  DIVERGED: [
    'lower the learning rate (training.optimizer.learningRate): a tenth of it is a good first try',
    'normalize the inputs ("normalize": "standard") and use "init": "he" (relu) or "xavier" (tanh)',
    'add a learning-rate decay (training.lrDecay), or Adam instead of plain gradient descent',
  ],
  INVALID_DATA: ['check the dataset: no NaN or Infinity, no class beyond the output layer\'s units, at least one row'],
  SHAPE_MISMATCH: ["make the last layer's units match the dataset: one per class (or 1 with a sigmoid for two classes), one per output for regression"],
  INVALID_SPEC: ['fix the field the message names and submit the spec again'],
  DATASET_NOT_FOUND: ['upload the dataset again, or name one that exists (GET /v1/datasets)'],
  WORKER_CRASHED: ['the training process died: when out of memory, use a smaller batch or fewer units, or set CAVIAR_JOB_MEMORY_MB to match the machine'],
  WORKER_STALLED: ['the training process stopped answering: the server log says more; submit the spec again'],
  TIMEOUT: ['the task took too long: the server log says more; submit the spec again'],
  CHECKPOINT_CORRUPT: ["the job's checkpoint was damaged in the store after it was written (a disk fault, or an edit of the database): submit the spec again, and check the disk"],
  STORAGE_FULL: ["the disk under the server's data filled up: free space (GET /readyz says how much is free), then submit the spec again"],
  INTERNAL: ['this is a bug in Caviar: please report it with the spec'],
};
const GENERAL_ADVICE = 'the server log (the job\'s id) has the details';

export async function jobView(root, id, { scope, showConnection }) {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  const job = await get(path);
  const totalEpochs = job.spec.training?.epochs ?? '?';
  let status = job.status;
  /** Status events seen: a control's reply older than one of them is stale. */
  let statusEvents = 0;

  const statusElement = h('span', { id: 'job-status' });
  const epochElement = h('span', { id: 'job-epoch' }, `epoch ${job.epochsDone} / ${totalEpochs}`);
  // The spec's rate until an epoch reports the one it trained with.
  const lrElement = h('span', { id: 'job-lr' }, number(job.spec.training?.optimizer?.learningRate));
  const pendingElement = h('span', { id: 'job-pending-lr', class: 'hint' });
  const message = h('p', { id: 'control-result', class: 'message', role: 'status' });

  // The reply is {id, status}: the status reached (200), or pausing/cancelling (202) while
  // the running job gets there at its next mini-batch; its events then say when it has. A
  // status event that came while we waited is newer than the reply.
  const WHEN = { pausing: "stops at the next mini-batch and keeps its last epoch's checkpoint", cancelling: 'stops at the next mini-batch' };
  const act = async (action) => {
    message.className = 'message';
    message.textContent = `${action}: sending…`;
    const seen = statusEvents;
    try {
      const reply = await post(`${path}/${action}`);
      if (statusEvents === seen) showStatus(reply.status);
      message.textContent = WHEN[reply.status] ? `${action}: the job ${WHEN[reply.status]}` : `${action}: done`;
    } catch (error) {
      message.className = 'message error';
      message.textContent = `${action}: ${error.message}`;
    }
  };
  const pause = h('button', { id: 'pause', type: 'button', onclick: () => act('pause') }, 'Pause');
  const resume = h('button', { id: 'resume', type: 'button', onclick: () => act('resume') }, 'Resume');
  const cancel = confirmButton({
    id: 'cancel',
    label: 'Cancel',
    question: 'Really cancel? It ends without a model. ',
    yes: 'Yes, cancel it',
    no: 'Keep it running',
    action: () => act('cancel'),
  });
  // A sweep's trial goes with its sweep (DELETE on a trial answers JOB_IN_SWEEP).
  const remove = job.sweepId
    ? undefined
    : confirmButton({
        id: 'delete',
        label: 'Delete',
        question: 'Delete this job, its events and its model? ',
        yes: 'Yes, delete it',
        no: 'Keep it',
        action: async () => {
          try {
            await request('DELETE', path);
            location.hash = '#/';
          } catch (error) {
            message.className = 'message error';
            message.textContent = `delete: ${error.message}`;
          }
        },
      });
  const learningRate = h('input', { id: 'learning-rate', type: 'number', step: 'any', min: '0', required: true, placeholder: 'new learning rate' });
  const setLearningRate = h('button', { id: 'set-learning-rate', type: 'submit' }, 'Set learning rate');
  const learningRateForm = h(
    'form',
    {
      class: 'inline',
      onsubmit: async (event) => {
        event.preventDefault();
        message.className = 'message';
        try {
          const view = await patch(path, { learningRate: Number(learningRate.value) });
          pendingElement.textContent = `next epoch: ${number(view.pendingLearningRate ?? Number(learningRate.value))}`;
          message.textContent = 'learning rate: applies from the next epoch';
        } catch (error) {
          message.className = 'message error';
          message.textContent = `learning rate: ${error.message}`;
        }
      },
    },
    learningRate,
    setLearningRate,
  );

  const showStatus = (next) => {
    status = next;
    statusElement.replaceChildren(badge(status));
    statusElement.dataset.status = status;
    const ended = FINISHED.has(status);
    pause.disabled = !(status === 'running' || status === 'queued');
    resume.disabled = status !== 'paused';
    cancel.button.disabled = ended || status === 'cancelling';
    if (cancel.button.disabled) cancel.reset();
    learningRate.disabled = ended || status === 'cancelling';
    setLearningRate.disabled = learningRate.disabled;
    // A job that has ended can only be deleted: its other controls go, with what they said.
    for (const control of [pause, resume, cancel.element, learningRateForm]) control.hidden = ended;
    if (remove) remove.element.hidden = !ended;
    if (ended) {
      if (!message.classList.contains('error')) message.textContent = '';
      showNoEpochs();
    }
    // A trial that has ended has nothing left to control (its sweep deletes it).
    controls.hidden = ended && remove === undefined && !message.textContent;
  };
  const controls = h('div', { class: 'controls panel' }, pause, resume, cancel.element, learningRateForm, remove?.element, message);

  const chartsElement = h('div', { class: 'charts' });
  const resultElement = h('section', { id: 'result' });
  let curves;
  /**
   * Before the first epoch: a job on its way waits for it; one that ended without one says
   * so. (One that ended after some has its epochs on the way, replayed by the socket.)
   */
  const showNoEpochs = () => {
    if (curves !== undefined) return;
    if (!FINISHED.has(status)) chartsElement.replaceChildren(h('p', { class: 'hint waiting' }, 'Waiting for the first epoch…'));
    else if (job.epochsDone === 0) chartsElement.replaceChildren(h('p', { class: 'hint no-epochs' }, 'No epoch was completed.'));
    else chartsElement.replaceChildren();
  };
  showNoEpochs();
  showStatus(status);
  if (job.pendingLearningRate !== undefined) pendingElement.textContent = `next epoch: ${number(job.pendingLearningRate)}`;
  if (FINISHED.has(job.status)) showResult(resultElement, id, job);

  root.append(
    h(
      'div',
      { class: 'title' },
      h('h1', {}, text(job.name ?? job.spec.name ?? 'job'), ' ', h('small', {}, job.id)),
      statusElement,
      epochElement,
      h('span', {}, 'lr ', lrElement),
      pendingElement,
      job.sweepId ? h('a', { href: `#/sweeps/${encodeURIComponent(job.sweepId)}` }, `trial of ${job.sweepId}`) : null,
    ),
    controls,
    chartsElement,
    resultElement,
    h('details', {}, h('summary', {}, 'Spec'), h('pre', {}, JSON.stringify(job.spec, null, 2))),
  );

  // The charts appear with the first epoch: it says whether there is an accuracy (a
  // classifier) and how many layers have gradient norms.
  const smoothed = exponentialAverage(BETA);
  const createCharts = (first) => {
    chartsElement.replaceChildren();
    const box = () => chartsElement.appendChild(h('div', { class: 'chart-box' }));
    curves = {
      cost: new Chart('cost', box(), {
        title: 'Cost',
        yLabel: 'cost',
        series: [
          { label: 'train', color: '#9ecae1', width: 1 },
          { label: 'dev', color: '#d62728' },
          { label: `train, smoothed (EWA β=${BETA}, bias-corrected)`, color: '#08519c', width: 2.5 },
        ],
      }),
      accuracy:
        first.train.accuracy === undefined
          ? undefined
          : new Chart('accuracy', box(), {
              title: 'Accuracy',
              yLabel: 'accuracy',
              series: [
                { label: 'train', color: '#1f77b4' },
                { label: 'dev', color: '#d62728' },
              ],
            }),
      lr: new Chart('lr', box(), { title: 'Learning rate', yLabel: 'lr', yLog: true, series: [{ label: 'lr', color: '#2ca02c' }] }),
      gradients: new Chart('gradients', box(), {
        title: 'Gradient norm per layer (log scale)',
        yLabel: '‖dW‖',
        yLog: true,
        series: first.layers.map((_, index) => ({ label: `layer ${index + 1}` })),
      }),
    };
    for (const chart of Object.values(curves)) if (chart) scope.add(() => chart.destroy());
  };

  const onEpoch = (event) => {
    if (curves === undefined) createCharts(event);
    curves.cost.push(event.epoch, event.train.loss, event.dev?.loss, smoothed(event.train.loss));
    curves.accuracy?.push(event.epoch, event.train.accuracy, event.dev?.accuracy);
    curves.lr.push(event.epoch, event.lr);
    curves.gradients.push(event.epoch, ...event.layers.map((layer) => positiveOrNull(layer.gradNorm)));
    epochElement.textContent = `epoch ${event.epoch} / ${totalEpochs}`;
    lrElement.textContent = number(event.lr);
    pendingElement.textContent = '';
  };

  const socket = followEvents(`${path}/events`, {
    onState: showConnection,
    onEvent: (event) => {
      if (event.type === 'epoch') return onEpoch(event);
      statusEvents += 1;
      showStatus(event.status);
      if (event.type === 'done') showResult(resultElement, id, event);
    },
  });
  scope.add(() => socket.close());
}

/** The final metrics (one inference pass over each part) and the bias/variance diagnosis. */
function showResult(element, id, done) {
  const { result, error } = done;
  const parts = result ? ['train', 'dev', 'test'].filter((part) => result[part] !== undefined) : [];
  const diagnosis = result?.diagnosis;
  // Through h(), which leaves out the parts a result lacks (a failed job has no metrics).
  element.replaceChildren(
    h(
      'div',
      {},
      h('h2', {}, `Result: ${done.status}`),
      done.status === 'stopped' ? h('p', { class: 'hint', id: 'stopped-note' }, "The sweep's stopping rule ended this trial: it was behind the others at the same epoch.") : null,
      error
        ? h(
            'div',
            { class: 'failure panel', id: 'failure' },
            h('p', { class: 'error', id: 'job-error' }, h('strong', { id: 'job-error-code' }, error.code), `: ${error.message}`),
            h('p', {}, 'What to try:'),
            h('ul', { id: 'failure-advice' }, ...[...(FAILURE_ADVICE[error.code] ?? []), GENERAL_ADVICE].map((line) => h('li', {}, line))),
          )
        : null,
      parts.length ? resultTable(result, parts) : null,
      parts.some((part) => result[part].perClass) ? byClass(result, parts) : null,
      diagnosis
        ? h(
            'div',
            { class: 'diagnosis panel', id: 'diagnosis' },
            h('p', {}, 'Verdict: ', h('strong', { id: 'verdict' }, diagnosis.verdict)),
            h('p', { class: 'hint' }, gaps(diagnosis)),
            h('p', {}, 'What to try:'),
            h('ul', { id: 'advice' }, ...diagnosis.advice.map((line) => h('li', {}, line))),
            diagnosis.notes?.length ? h('ul', { class: 'hint notes', id: 'diagnosis-notes' }, ...diagnosis.notes.map((note) => h('li', {}, `Note: ${note}`))) : null,
          )
        : null,
      done.status === 'succeeded' ? h('button', { type: 'button', id: 'download-model', onclick: () => download(id) }, 'Download the model') : null,
    ),
  );
}

/** Each part's cost and accuracy, with its F1 and ROC AUC (a classifier) or its errors (a regression). */
function resultTable(result, parts) {
  const columns = [
    ['cost', (metrics) => number(metrics.loss)],
    ['accuracy', (metrics) => percent(metrics.accuracy)],
    ['macro F1', (metrics) => number(metrics.macroF1)],
    ['weighted F1', (metrics) => number(metrics.weightedF1)],
    ['ROC AUC', (metrics) => number(metrics.auc)],
    ['RMSE', (metrics) => number(metrics.rmse)],
    ['MAE', (metrics) => number(metrics.mae)],
    ['R²', (metrics) => number(metrics.r2)],
  ];
  const keys = { 'macro F1': 'macroF1', 'weighted F1': 'weightedF1', 'ROC AUC': 'auc', RMSE: 'rmse', MAE: 'mae', 'R²': 'r2' };
  // A column no part has (the F1 of a regression, the AUC of three classes) is left out.
  const shown = columns.filter(([title]) => keys[title] === undefined || parts.some((part) => result[part][keys[title]] !== undefined));
  return h(
    'table',
    { class: 'result', id: 'result-table' },
    h('thead', {}, h('tr', {}, h('th', {}, 'part'), ...shown.map(([title]) => h('th', {}, title)))),
    h('tbody', {}, ...parts.map((part) => h('tr', { dataset: { part } }, h('td', {}, part), ...shown.map(([, cell]) => h('td', {}, cell(result[part])))))),
  );
}

/**
 * A classifier's parts class by class: precision, recall, F1 and support, and the confusion
 * matrix (rows: the true class, columns: the predicted one), each cell shaded by its share of
 * its row. Buttons choose the part; the held-out one (test, else dev) shows first.
 */
function byClass(result, parts) {
  const element = h('section', { id: 'by-class', class: 'panel' });
  const choices = parts.filter((part) => result[part].perClass);
  const show = (part) => {
    const { perClass, confusion } = result[part];
    const names = perClass.map((row) => text(row.class));
    element.dataset.part = part;
    element.replaceChildren(
      h('h3', {}, 'By class ', ...choices.map((choice) => h('button', { type: 'button', class: choice === part ? 'chosen' : null, dataset: { part: choice }, onclick: () => show(choice) }, choice))),
      h(
        'table',
        { class: 'result', id: 'per-class' },
        h('thead', {}, h('tr', {}, ...['class', 'precision', 'recall', 'F1', 'support'].map((title) => h('th', {}, title)))),
        h('tbody', {}, ...perClass.map((row) => h('tr', {}, h('td', {}, text(row.class)), h('td', {}, number(row.precision)), h('td', {}, number(row.recall)), h('td', {}, number(row.f1)), h('td', {}, String(row.support))))),
      ),
      h(
        'table',
        { class: 'confusion', id: 'confusion' },
        h('caption', {}, 'Confusion matrix: rows are the true class, columns the predicted one'),
        h('thead', {}, h('tr', {}, h('th', {}, 'true \\ predicted'), ...names.map((name) => h('th', {}, name)))),
        h(
          'tbody',
          {},
          ...confusion.map((row, index) => {
            const total = row.reduce((sum, count) => sum + count, 0);
            return h(
              'tr',
              {},
              h('th', {}, names[index]),
              ...row.map((count, column) => {
                const share = total === 0 ? 0 : count / total;
                const hue = column === index ? '31, 119, 180' : '214, 39, 40';
                return h('td', { class: 'metric', style: `background: rgba(${hue}, ${(0.7 * share).toFixed(3)})`, title: `${percent(share)} of the ${names[index]} rows` }, String(count));
              }),
            );
          }),
        ),
      ),
    );
  };
  show(choices.includes('test') ? 'test' : choices.includes('dev') ? 'dev' : (choices[0] ?? parts[0]));
  return element;
}

/**
 * The diagnosis's figures in words. Without a human-level error the bias is measured from 0
 * (an upper bound); a dev error below the train error is no variance, not a negative one.
 */
function gaps(diagnosis) {
  const bias = diagnosis.avoidableBiasIsUpperBound
    ? `avoidable bias at most ${number(diagnosis.avoidableBias)} (train error, measured against 0 error)`
    : `avoidable bias (train error − human-level error) ${number(diagnosis.avoidableBias)}`;
  const variance =
    diagnosis.variance === undefined
      ? ''
      : diagnosis.variance < 0
        ? '; no variance (the dev error is below the train error)'
        : `; variance (dev error − train error) ${number(diagnosis.variance)}`;
  return `${bias}${variance}; a gap counts as high above ${number(diagnosis.threshold)}`;
}

/** The model route needs the token, which a plain link cannot send: fetch it, then save it. */
async function download(id) {
  const model = await request('GET', `/v1/jobs/${encodeURIComponent(id)}/model`);
  const url = URL.createObjectURL(new Blob([JSON.stringify(model)], { type: 'application/json' }));
  h('a', { href: url, download: `${id}.model.json` }).click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
