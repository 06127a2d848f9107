// One job (#/jobs/ID), "panda" style: its curves live from the job's event socket, the
// controls to babysit it (pause, resume, cancel, a new learning rate from the next epoch),
// and the bias/variance verdict with its advice once it ends.
import { followEvents, get, patch, post, request } from '../api.js';
import { Chart, exponentialAverage, positiveOrNull } from '../charts.js';
import { FINISHED, badge, h, number, percent, text } from '../dom.js';

const BETA = 0.9;

export async function jobView(root, id, { scope, showConnection }) {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  const job = await get(path);
  const totalEpochs = job.spec.training?.epochs ?? '?';
  let status = job.status;

  const statusElement = h('span', { id: 'job-status' });
  const epochElement = h('span', { id: 'job-epoch' }, `epoch ${job.epochsDone} / ${totalEpochs}`);
  const lrElement = h('span', { id: 'job-lr' });
  const pendingElement = h('span', { id: 'job-pending-lr', class: 'hint' });
  const message = h('p', { id: 'control-result', class: 'message', role: 'status' });

  const act = async (action) => {
    message.className = 'message';
    try {
      await post(`${path}/${action}`);
      // The status itself is shown from the events, which come in order; a reply could be
      // older than an event already shown.
      message.textContent = `${action}: sent`;
    } catch (error) {
      message.className = 'message error';
      message.textContent = `${action}: ${error.message}`;
    }
  };
  const pause = h('button', { id: 'pause', type: 'button', onclick: () => act('pause') }, 'Pause');
  const resume = h('button', { id: 'resume', type: 'button', onclick: () => act('resume') }, 'Resume');
  const cancel = h('button', { id: 'cancel', type: 'button', class: 'danger', onclick: () => act('cancel') }, 'Cancel');
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
    cancel.disabled = ended;
    learningRate.disabled = ended;
    setLearningRate.disabled = ended;
  };
  showStatus(status);
  if (job.pendingLearningRate !== undefined) pendingElement.textContent = `next epoch: ${number(job.pendingLearningRate)}`;

  const chartsElement = h('div', { class: 'charts' }, h('p', { class: 'hint waiting' }, 'Waiting for the first epoch…'));
  const resultElement = h('section', { id: 'result' });

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
    h('div', { class: 'controls panel' }, pause, resume, cancel, learningRateForm, message),
    chartsElement,
    resultElement,
    h('details', {}, h('summary', {}, 'Spec'), h('pre', {}, JSON.stringify(job.spec, null, 2))),
  );

  // The charts appear with the first epoch: it says whether there is an accuracy (a
  // classifier) and how many layers have gradient norms.
  let curves;
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
      if (event.type === 'epoch') onEpoch(event);
      else if (event.type === 'status') showStatus(event.status);
      else if (event.type === 'done') {
        showStatus(event.status);
        showResult(resultElement, id, event);
      }
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
      error ? h('p', { class: 'error', id: 'job-error' }, `${error.code}: ${error.message}`) : null,
      parts.length
        ? h(
            'table',
            { class: 'result' },
            h('thead', {}, h('tr', {}, h('th', {}, 'part'), h('th', {}, 'cost'), h('th', {}, 'accuracy'))),
            h('tbody', {}, ...parts.map((part) => h('tr', {}, h('td', {}, part), h('td', {}, number(result[part].loss)), h('td', {}, percent(result[part].accuracy))))),
          )
        : null,
      diagnosis
        ? h(
            'div',
            { class: 'diagnosis panel', id: 'diagnosis' },
            h('p', {}, 'Verdict: ', h('strong', { id: 'verdict' }, diagnosis.verdict)),
            h(
              'p',
              { class: 'hint' },
              `avoidable bias (train error − human-level error) ${number(diagnosis.avoidableBias)}`,
              diagnosis.variance === undefined ? '' : `; variance (dev error − train error) ${number(diagnosis.variance)}`,
              `; a gap counts as high above ${number(diagnosis.threshold)}`,
            ),
            h('ul', { id: 'advice' }, ...diagnosis.advice.map((line) => h('li', {}, line))),
          )
        : null,
      done.status === 'succeeded' ? h('button', { type: 'button', id: 'download-model', onclick: () => download(id) }, 'Download the model') : null,
    ),
  );
}

/** The model route needs the token, which a plain link cannot send: fetch it, then save it. */
async function download(id) {
  const model = await request('GET', `/v1/jobs/${encodeURIComponent(id)}/model`);
  const url = URL.createObjectURL(new Blob([JSON.stringify(model)], { type: 'application/json' }));
  h('a', { href: url, download: `${id}.model.json` }).click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
