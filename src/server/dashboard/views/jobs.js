// The home page (#/): jobs with their live status, sweeps, a form that submits a job or a
// sweep spec (prefilled from examples/*.json), and a CSV dataset upload.
import { followEvents, get, post, request } from '../api.js';
import { badge, h, text } from '../dom.js';

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '–');

export async function jobsView(root, _id, { scope, showConnection }) {
  const jobsBody = h('tbody');
  const sweepsBody = h('tbody');
  /** The row of each listed job, to update in place as its events arrive. */
  const rows = new Map();

  const jobRow = (job) => {
    const epochs = h('td', { class: 'epochs' }, `${job.epochsDone} / ${job.spec.training?.epochs ?? '?'}`);
    const status = h('td', {}, badge(job.status));
    const row = h(
      'tr',
      { dataset: { jobId: job.id } },
      h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(job.id)}` }, job.id)),
      h('td', {}, text(job.name ?? job.spec.name)),
      status,
      epochs,
      h('td', {}, job.sweepId ? h('a', { href: `#/sweeps/${encodeURIComponent(job.sweepId)}` }, job.sweepId) : '–'),
      h('td', {}, when(job.createdAt)),
    );
    rows.set(job.id, { row, status, epochs, total: job.spec.training?.epochs ?? '?' });
    return row;
  };

  const load = async () => {
    const [{ jobs }, { sweeps }] = await Promise.all([get('/v1/jobs?limit=100'), get('/v1/sweeps')]);
    rows.clear();
    jobsBody.replaceChildren(...(jobs.length ? jobs.map(jobRow) : [h('tr', {}, h('td', { colspan: 6 }, 'No jobs yet: submit one below.'))]));
    sweepsBody.replaceChildren(
      ...(sweeps.length ? [] : [h('tr', {}, h('td', { colspan: 5 }, 'No sweeps yet: submit a spec with a "base" below.'))]),
      ...sweeps.map((sweep) =>
        h(
          'tr',
          { dataset: { sweepId: sweep.id } },
          h('td', {}, h('a', { href: `#/sweeps/${encodeURIComponent(sweep.id)}` }, sweep.id)),
          h('td', {}, text(sweep.name)),
          h('td', {}, badge(sweep.status)),
          h('td', {}, text(sweep.trials)),
          h('td', {}, when(sweep.createdAt)),
        ),
      ),
    );
  };
  await load();

  // A job we do not list yet (just submitted, by anyone) means the list is stale: reload it,
  // at most once per burst of events.
  let reloadTimer;
  const reloadSoon = () => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => void load().catch(() => {}), 250);
  };
  scope.add(() => clearTimeout(reloadTimer));

  // Every job's live events. This socket has no ?since= (it is a live feed), so after a
  // reconnect the list is read again instead of replayed.
  const feed = followEvents('/v1/events', {
    resume: false,
    seqOf: () => undefined,
    onState: showConnection,
    onReconnect: reloadSoon,
    onEvent: (event) => {
      const entry = rows.get(event.jobId);
      if (entry === undefined) return void (event.jobId && reloadSoon());
      if (event.type === 'status' || event.type === 'done') entry.status.replaceChildren(badge(event.status));
      if (event.type === 'epoch') entry.epochs.textContent = `${event.epoch} / ${entry.total}`;
      if (event.type === 'done' && event.status === 'succeeded') reloadSoon(); // sweeps may have ended too
    },
  });
  scope.add(() => feed.close());

  root.append(
    h('h1', {}, 'Jobs'),
    h('table', { id: 'jobs' }, h('thead', {}, h('tr', {}, ...['job', 'name', 'status', 'epochs', 'sweep', 'created'].map((title) => h('th', {}, title)))), jobsBody),
    h('h1', {}, 'Sweeps'),
    h('table', { id: 'sweeps' }, h('thead', {}, h('tr', {}, ...['sweep', 'name', 'status', 'trials', 'created'].map((title) => h('th', {}, title)))), sweepsBody),
    await submitForm(),
    uploadForm(),
  );
}

/** The spec in the form, parsed; a spec with a `base` is a sweep. */
const specArea = () => document.getElementById('spec');

async function submitForm() {
  // The examples are static files of the repository; the list is public like the page itself.
  const { examples } = await fetch('/dashboard/examples.json').then((response) => response.json());
  const area = h('textarea', { id: 'spec', rows: 18, spellcheck: 'false' });
  const result = h('p', { id: 'submit-result', class: 'message', role: 'status' });
  const choose = (name) => {
    const example = examples.find((candidate) => candidate.name === name);
    if (example) area.value = JSON.stringify(example.spec, null, 2);
  };
  const select = h(
    'select',
    { id: 'example', onchange: () => choose(select.value) },
    ...examples.map((example) => h('option', { value: example.name }, example.name)),
  );
  const initial = examples.find((example) => example.name === 'moons-quickstart') ?? examples[0];
  if (initial) {
    select.value = initial.name;
    choose(initial.name);
  }

  const submit = async (event) => {
    event.preventDefault();
    result.className = 'message';
    let spec;
    try {
      spec = JSON.parse(area.value);
    } catch (error) {
      result.className = 'message error';
      result.textContent = `The spec is not JSON: ${error.message}`;
      return;
    }
    const sweep = spec !== null && typeof spec === 'object' && 'base' in spec;
    try {
      result.textContent = 'Submitting…';
      const { id } = await post(sweep ? '/v1/sweeps' : '/v1/jobs', spec);
      location.hash = sweep ? `#/sweeps/${encodeURIComponent(id)}` : `#/jobs/${encodeURIComponent(id)}`;
    } catch (error) {
      result.className = 'message error';
      result.textContent = `Refused: ${error.message}`;
    }
  };

  return h(
    'form',
    { id: 'submit-form', class: 'panel', onsubmit: submit },
    h('h2', {}, 'Submit a job or a sweep'),
    h('p', { class: 'hint' }, 'Start from an example and edit it. A spec with a "base" is a sweep (POST /v1/sweeps); any other a job (POST /v1/jobs).'),
    h('label', {}, 'Example ', select),
    area,
    h('button', { type: 'submit', id: 'submit-spec' }, 'Submit'),
    result,
  );
}

function uploadForm() {
  const file = h('input', { type: 'file', id: 'dataset-file', accept: '.csv,text/csv', required: true });
  const name = h('input', { id: 'dataset-name', placeholder: 'name (default: the file name)' });
  const label = h('input', { id: 'dataset-label', placeholder: 'label column (default: the last)' });
  const result = h('p', { id: 'upload-result', class: 'message', role: 'status' });

  const upload = async (event) => {
    event.preventDefault();
    const chosen = file.files?.[0];
    if (!chosen) return;
    result.className = 'message';
    result.textContent = 'Uploading…';
    const query = new URLSearchParams({ name: name.value.trim() || chosen.name });
    if (label.value.trim()) query.set('label', label.value.trim());
    try {
      const dataset = await request('POST', `/v1/datasets?${query}`, chosen, { contentType: 'text/csv' });
      const shape = `${dataset.rows} rows, ${dataset.features} features, ${dataset.classes === undefined ? `${dataset.outputs} outputs` : `${dataset.classes} classes`}`;
      result.dataset.datasetId = dataset.id;
      // Point the spec in the form at the new dataset, when the form holds a spec.
      try {
        const spec = JSON.parse(specArea().value);
        if ('base' in spec) spec.base.dataset = dataset.id;
        else spec.dataset = dataset.id;
        specArea().value = JSON.stringify(spec, null, 2);
        result.textContent = `Uploaded ${dataset.id} (${shape}); the spec above now trains on it.`;
      } catch {
        result.textContent = `Uploaded ${dataset.id} (${shape}); use "dataset": "${dataset.id}" in a spec.`;
      }
    } catch (error) {
      result.className = 'message error';
      result.textContent = `Upload refused: ${error.message}`;
    }
  };

  return h(
    'form',
    { id: 'upload-form', class: 'panel', onsubmit: upload },
    h('h2', {}, 'Upload a CSV dataset'),
    h('p', { class: 'hint' }, 'A header row, numeric features, and a label column (POST /v1/datasets).'),
    file,
    name,
    label,
    h('button', { type: 'submit', id: 'upload-dataset' }, 'Upload'),
    result,
  );
}
