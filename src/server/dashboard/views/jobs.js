// The home page (#/): jobs with their live status, filtered and a page at a time; sweeps;
// datasets; a form that submits a job or a sweep spec (prefilled from examples/*.json), and a
// CSV dataset upload. The filters live in the address (#/?status=failed&name=moons&trials=1
// &limit=20), so that a reload or a shared link shows the same list.
import { followEvents, get, post, request } from '../api.js';
import { STATUSES, badge, confirmButton, h, text, trialCount } from '../dom.js';

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '–');

/** Jobs a page, unless the address names a limit. */
const PAGE = 50;

/** The list's filters from the address: a status, a part of the name, whether trials show. */
function filtersFromAddress() {
  const query = new URLSearchParams(location.hash.replace(/^#\/?\??/, ''));
  const limit = Number(query.get('limit'));
  return {
    status: STATUSES.includes(query.get('status')) ? query.get('status') : '',
    name: query.get('name') ?? '',
    trials: query.get('trials') === '1',
    limit: Number.isInteger(limit) && limit >= 1 && limit <= 1000 ? limit : PAGE,
  };
}

export async function jobsView(root, _id, { scope, showConnection }) {
  const jobsBody = h('tbody');
  const sweepsBody = h('tbody');
  const datasetsBody = h('tbody');
  /** The row of each listed job, to update in place as its events arrive. */
  const rows = new Map();
  const filters = filtersFromAddress();
  /** The cursors of the pages before this one: [] on the newest page. */
  const cursors = [];
  let cursor;
  let nextCursor;

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

  const statusFilter = h(
    'select',
    { id: 'filter-status', onchange: () => refilter({ status: statusFilter.value }) },
    h('option', { value: '' }, 'any status'),
    ...STATUSES.map((status) => h('option', { value: status }, status)),
  );
  statusFilter.value = filters.status;
  let nameTimer;
  const nameFilter = h('input', {
    id: 'filter-name',
    type: 'search',
    placeholder: 'name contains…',
    value: filters.name,
    oninput: () => {
      clearTimeout(nameTimer);
      nameTimer = setTimeout(() => refilter({ name: nameFilter.value.trim() }), 300);
    },
  });
  scope.add(() => clearTimeout(nameTimer));
  const showTrials = h('input', { id: 'show-trials', type: 'checkbox', checked: filters.trials, onchange: () => refilter({ trials: showTrials.checked }) });
  const newer = h('button', { id: 'newer', type: 'button', onclick: () => void turn(cursors.pop(), false) }, '← Newer');
  const older = h('button', { id: 'older', type: 'button', onclick: () => void turn(nextCursor, true) }, 'Older →');
  const pageElement = h('span', { id: 'jobs-page', class: 'hint' });
  const pager = h('div', { class: 'pager' }, newer, pageElement, older);
  const listError = h('p', { id: 'jobs-error', class: 'message error', role: 'status' });
  const showListError = (error) => (listError.textContent = `Could not list the jobs: ${error.message}`);

  const jobsQuery = () => {
    const query = new URLSearchParams({ limit: String(filters.limit) });
    if (filters.status) query.set('status', filters.status);
    if (filters.name) query.set('name', filters.name);
    if (!filters.trials) query.set('sweep', 'none');
    if (cursor) query.set('cursor', cursor);
    return query;
  };

  // Only the newest answer is shown: a filter changed while a page was on its way.
  let generation = 0;
  const loadJobs = async () => {
    const mine = ++generation;
    const page = await get(`/v1/jobs?${jobsQuery()}`);
    if (mine !== generation || scope.disposed) return;
    nextCursor = page.nextCursor;
    listError.textContent = '';
    rows.clear();
    const empty = cursors.length === 0 && !filters.status && !filters.name ? 'No jobs yet: submit one below.' : 'No jobs match.';
    jobsBody.replaceChildren(...(page.jobs.length ? page.jobs.map(jobRow) : [h('tr', {}, h('td', { colspan: 6 }, empty))]));
    newer.disabled = cursors.length === 0;
    older.disabled = nextCursor === undefined;
    pageElement.textContent = `page ${cursors.length + 1}`;
    pager.hidden = newer.disabled && older.disabled;
  };

  const loadOthers = async () => {
    const [{ sweeps }, { datasets }] = await Promise.all([get('/v1/sweeps'), get('/v1/datasets')]);
    if (scope.disposed) return;
    sweepsBody.replaceChildren(
      ...(sweeps.length ? [] : [h('tr', {}, h('td', { colspan: 5 }, 'No sweeps yet: submit a spec with a "base" below.'))]),
      ...sweeps.map((sweep) =>
        h(
          'tr',
          { dataset: { sweepId: sweep.id } },
          h('td', {}, h('a', { href: `#/sweeps/${encodeURIComponent(sweep.id)}` }, sweep.id)),
          h('td', {}, text(sweep.name)),
          h('td', {}, badge(sweep.status)),
          h('td', { class: 'trials' }, trialCount(sweep.trials, sweep.plannedTrials)),
          h('td', {}, when(sweep.createdAt)),
        ),
      ),
    );
    datasetsBody.replaceChildren(
      ...(datasets.length ? [] : [h('tr', {}, h('td', { colspan: 7 }, 'No datasets yet: upload a CSV below.'))]),
      ...datasets.flatMap(datasetRow),
    );
  };

  const datasetRow = (dataset) => {
    const remove = confirmButton({
      id: `delete-${dataset.id}`,
      label: 'Delete',
      question: `Delete ${dataset.name}? `,
      yes: 'Yes, delete it',
      no: 'Keep it',
      action: async () => {
        try {
          await request('DELETE', `/v1/datasets/${encodeURIComponent(dataset.id)}`);
          await loadOthers();
        } catch (error) {
          remove.element.replaceChildren(h('span', { class: 'error' }, error.message));
        }
      },
    });
    // A CSV's columns (their types, gaps and categories) are read when asked for.
    const columns = h('tr', { class: 'dataset-columns', dataset: { columnsOf: dataset.id }, hidden: true }, h('td', { colspan: 7 }));
    const toggle = h(
      'button',
      {
        type: 'button',
        id: `columns-${dataset.id}`,
        onclick: async () => {
          columns.hidden = !columns.hidden;
          if (columns.hidden || columns.dataset.loaded) return;
          const cell = columns.firstChild;
          try {
            const view = await get(`/v1/datasets/${encodeURIComponent(dataset.id)}`);
            cell.replaceChildren(view.columns ? columnsTable(view.columns) : h('p', { class: 'hint' }, 'No column types: this dataset is not a CSV, or was stored before column types existed.'));
            columns.dataset.loaded = 'yes';
          } catch (error) {
            cell.replaceChildren(h('span', { class: 'error' }, error.message));
          }
        },
      },
      'Columns',
    );
    return [
      h(
        'tr',
        { dataset: { datasetId: dataset.id } },
        h('td', {}, dataset.id),
        h('td', {}, text(dataset.name)),
        h('td', { class: 'metric' }, text(dataset.rows)),
        h('td', { class: 'metric' }, text(dataset.features)),
        h('td', {}, dataset.classes === undefined ? `${text(dataset.outputs)} outputs` : `${dataset.classes} classes`),
        h('td', {}, when(dataset.createdAt)),
        h('td', {}, toggle, ' ', remove.element),
      ),
      columns,
    ];
  };

  /** A filter changed: back to the newest page, and into the address. */
  const refilter = (change) => {
    Object.assign(filters, change);
    cursors.length = 0;
    cursor = undefined;
    const query = new URLSearchParams();
    if (filters.status) query.set('status', filters.status);
    if (filters.name) query.set('name', filters.name);
    if (filters.trials) query.set('trials', '1');
    if (filters.limit !== PAGE) query.set('limit', String(filters.limit));
    // replaceState: the address changes without a hashchange, which would build the page anew.
    history.replaceState(null, '', query.size ? `#/?${query}` : '#/');
    return loadJobs().catch(showListError);
  };
  const turn = (to, forward) => {
    // Until the page comes: a second click would turn from the same page again.
    newer.disabled = older.disabled = true;
    if (forward) cursors.push(cursor);
    cursor = to;
    return loadJobs().catch(showListError);
  };
  await Promise.all([loadJobs(), loadOthers()]);

  // A job we do not list (just submitted, by anyone; a new sweep's trial) may belong on the
  // newest page, and a job's end may end its sweep: read the lists again, at most once a
  // second whatever the burst of events (a sweep's trials start and end all the time).
  let reloadTimer;
  const reloadSoon = () => {
    if (reloadTimer !== undefined) return;
    reloadTimer = setTimeout(() => {
      reloadTimer = undefined;
      if (cursors.length === 0) void loadJobs().catch(showListError);
      void loadOthers().catch(() => {});
    }, 1000);
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
      if (entry === undefined) return void (event.type !== 'epoch' && reloadSoon());
      if (event.type === 'status' || event.type === 'done') entry.status.replaceChildren(badge(event.status));
      if (event.type === 'epoch') entry.epochs.textContent = `${event.epoch} / ${entry.total}`;
      if (event.type === 'done') reloadSoon();
    },
  });
  scope.add(() => feed.close());

  root.append(
    h('h1', {}, 'Jobs'),
    h('div', { class: 'filters', id: 'jobs-filters' }, statusFilter, nameFilter, h('label', {}, showTrials, ' show sweep trials')),
    h('table', { id: 'jobs' }, h('thead', {}, h('tr', {}, ...['job', 'name', 'status', 'epochs', 'sweep', 'created'].map((title) => h('th', {}, title)))), jobsBody),
    pager,
    listError,
    h('h1', {}, 'Sweeps'),
    h('table', { id: 'sweeps' }, h('thead', {}, h('tr', {}, ...['sweep', 'name', 'status', 'trials', 'created'].map((title) => h('th', {}, title)))), sweepsBody),
    h('h1', {}, 'Datasets'),
    h('table', { id: 'datasets' }, h('thead', {}, h('tr', {}, ...['dataset', 'name', 'rows', 'features', 'labels', 'uploaded', ''].map((title) => h('th', {}, title)))), datasetsBody),
    await submitForm(),
    uploadForm(() => void loadOthers().catch(() => {})),
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

/**
 * A CSV's columns as the service read them: each one's type, its missing cells, its most
 * frequent categories and why the type was chosen (a job spec's `columns` may change it).
 */
function columnsTable(columns) {
  const CATEGORIES_SHOWN = 6;
  const categories = (list) =>
    list === undefined
      ? ''
      : list
          .slice(0, CATEGORIES_SHOWN)
          .map((category) => `${category.value} (${category.count})`)
          .join(', ') + (list.length > CATEGORIES_SHOWN ? `, and ${list.length - CATEGORIES_SHOWN} more` : '');
  return h(
    'table',
    { class: 'columns' },
    h('thead', {}, h('tr', {}, ...['column', 'type', 'missing', 'categories', 'why'].map((title) => h('th', {}, title)))),
    h(
      'tbody',
      {},
      ...columns.map((column) =>
        h(
          'tr',
          { dataset: { column: column.name, type: column.type } },
          h('td', {}, column.name),
          h('td', {}, column.type),
          h('td', { class: 'metric' }, String(column.missing)),
          h('td', {}, categories(column.categories)),
          h('td', { class: 'hint' }, column.reason),
        ),
      ),
    ),
  );
}

/** `onUploaded` runs after each upload (the datasets list reads itself again). */
function uploadForm(onUploaded) {
  const file = h('input', { type: 'file', id: 'dataset-file', accept: '.csv,text/csv', required: true });
  const name = h('input', { id: 'dataset-name', placeholder: 'name (default: the file name)' });
  const label = h('input', { id: 'dataset-label', placeholder: 'label column (default: the last)' });
  const result = h('p', { id: 'upload-result', class: 'message', role: 'status' });
  const uploadedColumns = h('div', { id: 'upload-columns' });

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
      uploadedColumns.replaceChildren(...(dataset.columns ? [columnsTable(dataset.columns)] : []));
      onUploaded();
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
      uploadedColumns.replaceChildren();
    }
  };

  return h(
    'form',
    { id: 'upload-form', class: 'panel', onsubmit: upload },
    h('h2', {}, 'Upload a CSV dataset'),
    h('p', { class: 'hint' }, 'A header row and a label column; the other columns may hold numbers, text, yes/no and empty cells (POST /v1/datasets).'),
    file,
    name,
    label,
    h('button', { type: 'submit', id: 'upload-dataset' }, 'Upload'),
    result,
    uploadedColumns,
  );
}
