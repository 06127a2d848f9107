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

/** The status as a badge whose class colours it. */
export const badge = (status) => h('span', { class: `badge ${status}`, dataset: { status } }, status);

export const FINISHED = new Set(['succeeded', 'failed', 'cancelled', 'stopped']);
