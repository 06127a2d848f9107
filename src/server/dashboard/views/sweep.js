// One sweep (#/sweeps/ID), "caviar" style: its trials ranked by the metric, the metric
// against each sampled hyperparameter on the scale it was sampled on, and the curves of the
// best few trials side by side. Refreshed as the sweep's events arrive.
import { followEvents, get } from '../api.js';
import { COLORS, Chart } from '../charts.js';
import { badge, h, number, text } from '../dom.js';

/** The trials whose curves are drawn together. */
const BEST_FEW = 3;

/**
 * How a hyperparameter is plotted, from its distribution (search-space.ts): a log axis for
 * logUniform; for oneMinusLogUniform (a beta near 1) the axis shows 1 - value on a log scale,
 * where its samples are spread evenly; categories for choices and grids of non-numbers.
 */
function axisFor(pointer, distribution, trials) {
  const raw = trials.map((trial) => trial.values[pointer]);
  if ('logUniform' in distribution) return { label: pointer, log: true, x: (value) => value };
  if ('oneMinusLogUniform' in distribution) return { label: `1 − ${pointer}`, log: true, x: (value) => 1 - value };
  if (raw.every((value) => typeof value === 'number')) return { label: pointer, log: false, x: (value) => value };
  const categories = [...new Set(raw.map(String))];
  return { label: pointer, log: false, categories, x: (value) => categories.indexOf(String(value)) };
}

export async function sweepView(root, id, { scope, showConnection }) {
  const path = `/v1/sweeps/${encodeURIComponent(id)}`;
  const header = h('div', { class: 'title' });
  const table = h('table', { id: 'trials' });
  const scatters = h('div', { class: 'charts' });
  const bestCurves = h('div', { class: 'charts' });
  root.append(header, h('h2', {}, 'Trials, best first'), table, h('h2', {}, 'Metric against each hyperparameter'), scatters, h('h2', {}, `The best ${BEST_FEW} trials`), bestCurves);

  const charts = [];
  const clearCharts = () => charts.splice(0).forEach((chart) => chart.destroy());
  scope.add(clearCharts);

  const render = async () => {
    const sweep = await get(path);
    if (scope.disposed) return; // The page moved on while we waited.
    const { spec, trials } = sweep;
    const pointers = Object.keys(spec.space ?? {});
    const scored = trials.filter((trial) => typeof trial.metric === 'number');
    header.replaceChildren(
      h('h1', {}, text(sweep.name ?? 'sweep'), ' ', h('small', {}, sweep.id)),
      h('span', { id: 'sweep-status', dataset: { status: sweep.status } }, badge(sweep.status)),
      h('span', {}, `${spec.strategy}, ${trials.length} trials, ${spec.mode === 'min' ? 'minimizing' : 'maximizing'} ${spec.metric}`),
      sweep.best ? h('a', { href: `#/jobs/${encodeURIComponent(sweep.best.jobId)}` }, `best: trial ${sweep.best.trial}`) : null,
    );

    table.replaceChildren(
      h('thead', {}, h('tr', {}, ...['rank', 'trial', 'round', 'status', spec.metric, 'best epoch', 'epochs', ...pointers].map((title) => h('th', {}, title)))),
      h(
        'tbody',
        {},
        ...trials.map((trial, index) =>
          h(
            'tr',
            { dataset: { trial: trial.trial, jobId: trial.jobId } },
            h('td', {}, typeof trial.metric === 'number' ? String(index + 1) : '–'),
            h('td', {}, h('a', { href: `#/jobs/${encodeURIComponent(trial.jobId)}` }, String(trial.trial))),
            h('td', {}, String(trial.round)),
            h('td', {}, badge(trial.status)),
            h('td', { class: 'metric' }, number(trial.metric)),
            h('td', {}, text(trial.bestEpoch)),
            h('td', {}, String(trial.epochs)),
            ...pointers.map((pointer) => h('td', {}, typeof trial.values[pointer] === 'number' ? number(trial.values[pointer]) : text(trial.values[pointer]))),
          ),
        ),
      ),
    );

    clearCharts();
    scatters.replaceChildren();
    for (const pointer of pointers) {
      const axis = axisFor(pointer, spec.space[pointer], scored);
      // uPlot draws x in ascending order: sort the points by their x.
      const points = scored.map((trial) => [axis.x(trial.values[pointer]), trial.metric]).sort((a, b) => a[0] - b[0]);
      const chart = new Chart(`scatter:${pointer}`, scatters.appendChild(h('div', { class: 'chart-box' })), {
        title: `${spec.metric} against ${axis.label}${axis.log ? ' (log)' : ''}`,
        xLabel: axis.label,
        yLabel: spec.metric,
        xLog: axis.log,
        categories: axis.categories,
        scatter: true,
        series: [{ label: spec.metric, color: '#1f77b4' }],
      });
      chart.set([points.map((point) => point[0]), points.map((point) => point[1])]);
      charts.push(chart);
    }

    // The best few trials' metric per epoch, from each one's stored epochs.
    bestCurves.replaceChildren();
    const best = scored.slice(0, BEST_FEW);
    if (best.length === 0) return;
    const metrics = await Promise.all(best.map((trial) => get(`/v1/jobs/${encodeURIComponent(trial.jobId)}/metrics`)));
    if (scope.disposed) return;
    const [part, name] = spec.metric.split('.');
    const epochs = [...new Set(metrics.flatMap((m) => m.epochs.map((epoch) => epoch.epoch)))].sort((a, b) => a - b);
    const columns = metrics.map((m) => {
      const byEpoch = new Map(m.epochs.map((epoch) => [epoch.epoch, epoch[part]?.[name] ?? null]));
      return epochs.map((epoch) => byEpoch.get(epoch) ?? null);
    });
    const curves = new Chart('best', bestCurves.appendChild(h('div', { class: 'chart-box wide' })), {
      title: `${spec.metric} per epoch, best ${best.length}`,
      yLabel: spec.metric,
      series: best.map((trial, index) => ({ label: `trial ${trial.trial}`, color: COLORS[index] })),
    });
    curves.set([epochs, ...columns]);
    charts.push(curves);
  };

  // Re-read the ranking when the sweep reports a change, at most a few times a second. The
  // trials' own job events (no sweepId) come through too; they need no re-read.
  let timer;
  let running = Promise.resolve();
  const refreshSoon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => (running = running.then(render).catch(() => {})), 300);
  };
  scope.add(() => clearTimeout(timer));

  await render();
  const socket = followEvents(`${path}/events`, {
    onState: showConnection,
    seqOf: (event) => ('sweepId' in event ? event.seq : undefined),
    onEvent: (event) => {
      if ('sweepId' in event) refreshSoon();
    },
  });
  scope.add(() => socket.close());
}
