// Small DOM helpers: the views build their markup with these rather than with innerHTML, so
// that names and messages from the service are always text, never markup.

/** h('tr', {class: 'x', onclick}, child, ...): an element; strings become text nodes. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  element.append(...children.flat().filter((child) => child !== undefined && child !== null && child !== false));
  return element;
}

export const text = (value) => (value === undefined || value === null ? '–' : String(value));

/** A number for a table: 4 significant digits, or an exponent for very small and large ones. */
export function number(value, digits = 4) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return text(value);
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e6)) return value.toExponential(2);
  return String(+value.toPrecision(digits));
}

export const percent = (value) => (typeof value === 'number' ? `${(100 * value).toFixed(1)}%` : '–');

/**
 * The status as a badge whose class colours it. `pausing` and `cancelling` are what a
 * running job is until its next mini-batch: shown as on the way.
 */
export const badge = (status) => h('span', { class: `badge ${status}`, dataset: { status } }, ON_THE_WAY.has(status) ? `${status}…` : status);

const ON_THE_WAY = new Set(['pausing', 'cancelling']);

// A job's statuses in the order of a job's life, and the final ones (`stopped`: a sweep's
// trial that its stopping rule ended; not a failure): served from src/jobs/status.ts.
export { FINISHED, STATUSES } from './statuses.js';

/** A sweep's trials: those created so far, and of how many when that is not all of them. */
export const trialCount = (ran, planned) => (planned === undefined || ran === planned ? `${ran} trials` : `${ran} of ${planned} trials`);

/**
 * A button that asks before it acts: a click puts `question` with a yes and a no button in
 * its place; yes runs `action`, no (or `reset`) puts the button back. The buttons' ids are
 * `id`, `id-yes` and `id-no`; the question's `id-confirm`.
 */
export function confirmButton({ id, label, question, yes, no, action }) {
  const button = h('button', { id, type: 'button', class: 'danger', onclick: () => ask(true) }, label);
  const prompt = h(
    'span',
    { id: `${id}-confirm`, class: 'confirm', role: 'alertdialog', hidden: true },
    question,
    h('button', { id: `${id}-yes`, type: 'button', class: 'danger', onclick: () => (ask(false), action()) }, yes),
    h('button', { id: `${id}-no`, type: 'button', onclick: () => ask(false) }, no),
  );
  const ask = (asking) => {
    button.hidden = asking;
    prompt.hidden = !asking;
    if (asking) prompt.querySelector('button:last-child').focus();
  };
  return { element: h('span', { class: 'confirmable' }, button, prompt), button, reset: () => ask(false) };
}
