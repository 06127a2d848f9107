// Charts on uPlot (served from node_modules, see routes/dashboard.ts), and the smoothing of
// a noisy curve. Each chart keeps its own data arrays: they are what the page draws and what
// tests read (window.caviarDashboard.charts), so a test asserts on data, not on pixels.
import uPlot from '/assets/uplot/uPlot.esm.js';

/** The charts on screen, by name ('cost', 'accuracy', 'lr', 'gradients', 'scatter:<pointer>', ...). */
export const charts = {};

export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

/**
 * The exponentially weighted average with bias correction (COURSE-NOTES.md):
 * v_t = beta v_{t-1} + (1 - beta) theta_t, v_0 = 0, reported as v_t / (1 - beta^t).
 * Without the correction the first values are pulled toward 0 (v_1 is a tenth of theta_1
 * at beta 0.9). It averages roughly the last 1 / (1 - beta) values: 10 epochs at 0.9.
 */
export function exponentialAverage(beta = 0.9) {
  let v = 0;
  let t = 0;
  return (theta) => {
    t += 1;
    v = beta * v + (1 - beta) * theta;
    return v / (1 - beta ** t);
  };
}

/** A log axis cannot show 0 or a negative value (a dead layer's 0 gradient): leave a gap. */
export const positiveOrNull = (value) => (typeof value === 'number' && value > 0 && Number.isFinite(value) ? value : null);

const compact = (value) => (value == null ? '' : Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(1) : String(+value.toPrecision(4)));

/** 1, 2, ... 9 times a power of ten. */
const isRound = (value) => {
  const mantissa = value / 10 ** Math.floor(Math.log10(value));
  return Math.abs(mantissa - Math.round(mantissa)) < 1e-6;
};

export class Chart {
  /**
   * name: the key in `charts`; series: [{label, color?, dash?, width?}] after the x values.
   * options: title, xLabel, yLabel, xLog, yLog (base-10 log scales), scatter (points only),
   * categories (labels for a categorical x: x values are their indices), height.
   */
  constructor(name, container, { title, series, xLabel = 'epoch', yLabel = '', xLog = false, yLog = false, scatter = false, categories, height = 220 }) {
    this.name = name;
    this.element = document.createElement('div');
    this.element.className = 'chart';
    this.element.dataset.chart = name;
    container.append(this.element);
    this.data = [[], ...series.map(() => [])];
    const x = { time: false, ...(xLog ? { distr: 3 } : {}) };
    // A scatter's x range comes with its points (set); uPlot's own ends at the outermost
    // points, which then show as half dots.
    if (scatter || categories) x.range = (_plot, min, max) => this.xRange ?? (categories ? [-0.5, categories.length - 0.5] : [min, max]);
    // A padded log range starts between decades, and uPlot ticks its start (0.01329): only
    // round values (a digit times a power of ten) get a label.
    const xAxis = { label: xLabel, values: (_plot, splits) => splits.map((value) => (xLog && !isRound(value) ? '' : compact(value))) };
    // Epochs are whole: ticks at 1, 2, 5, 10, ... apart, never at 2.5.
    if (xLabel === 'epoch') xAxis.incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
    if (categories) Object.assign(xAxis, { splits: () => categories.map((_, index) => index), values: (_plot, splits) => splits.map((index) => String(categories[index] ?? '')) });
    this.plot = new uPlot(
      {
        title,
        width: this.width(),
        height,
        scales: { x, y: yLog ? { distr: 3 } : {} },
        legend: { live: !scatter },
        axes: [xAxis, { label: yLabel, size: 60, values: (_plot, splits) => splits.map(compact) }],
        series: [
          { label: xLabel, value: (_plot, value) => (categories ? String(categories[value] ?? '') : compact(value)) },
          ...series.map((line, index) => ({
            label: line.label,
            stroke: line.color ?? COLORS[index % COLORS.length],
            width: line.width ?? 1.5,
            dash: line.dash,
            spanGaps: true,
            value: (_plot, value) => compact(value),
            // A scatter draws points and no lines between them (x is sorted, not a sequence).
            ...(scatter ? { paths: () => null, points: { show: true, size: 9, fill: line.color ?? COLORS[index % COLORS.length] } } : {}),
          })),
        ],
      },
      this.data,
      this.element,
    );
    this.resize = new ResizeObserver(() => this.plot.setSize({ width: this.width(), height }));
    this.resize.observe(container);
    charts[name] = this;
    this.mark();
  }

  width() {
    return Math.max(280, (this.element.parentElement?.clientWidth ?? 600) - 8);
  }

  get points() {
    return this.data[0].length;
  }

  /** Adds one x and its y values (null where a series has none). */
  push(x, ...ys) {
    this.data[0].push(x);
    ys.forEach((y, index) => this.data[index + 1].push(y ?? null));
    this.redraw();
  }

  /** Replaces every point: data is [xs, ys1, ys2, ...]; xRange, when given, is the x axis's [min, max]. */
  set(data, xRange) {
    this.xRange = xRange;
    this.data.forEach((column, index) => column.splice(0, column.length, ...(data[index] ?? [])));
    this.redraw();
  }

  /** Many events may arrive in one frame (a replay): draw once per frame. */
  redraw() {
    this.mark();
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = undefined;
      this.plot.setData(this.data);
    });
  }

  mark() {
    this.element.dataset.points = String(this.points);
  }

  destroy() {
    if (this.pending) cancelAnimationFrame(this.pending);
    this.resize.disconnect();
    this.plot.destroy();
    this.element.remove();
    if (charts[this.name] === this) delete charts[this.name];
  }
}
