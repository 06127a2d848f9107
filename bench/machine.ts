// What a benchmark figure was measured on, printed beside it and kept in the results file:
// the CPU, the OpenBLAS kernels, the thread settings and the machine's load. Figures from
// two machines, two OpenBLAS kernels or a busy and a quiet run are not comparable, and
// without these beside them nothing says so.
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { blasInfo } from '../src/engine/index.js';

/** The environment variables that set how many threads a run's BLAS and OpenMP use. */
export const THREAD_VARIABLES = ['OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'CAVIAR_CONCURRENCY'] as const;

export interface Machine {
  cpu: string | undefined;
  cores: number;
  node: string;
  /** Caviar's OpenBLAS as this process loaded it: version, core name (its kernels), threads. */
  blas: string;
  /** The kernels alone, e.g. "Cooperlake": what decides GEMM speed. */
  blasCore: string | undefined;
}

export function machine(): Machine {
  const blas = blasInfo();
  return {
    cpu: cpus()[0]?.model.trim(),
    cores: availableParallelism(),
    node: process.version,
    blas,
    blasCore: blasCoreOf(blas),
  };
}

/** "OpenBLAS 0.3.21 (Cooperlake kernels, 2 threads)" -> "Cooperlake". */
export function blasCoreOf(info: string): string | undefined {
  return /\(([^,()]+) kernels/.exec(info)?.[1];
}

/** "OpenBLAS 0.3.21 (Cooperlake kernels, 2 threads: the engine's, ...)" -> "2": the threads that train. */
export function blasThreadsOf(info: string): string | undefined {
  return /, (\d+) threads?\b/.exec(info)?.[1];
}

/** The machine in one line, for a section's heading. */
export function describeMachine(m: Machine): string {
  return `${m.cpu ?? 'unknown CPU'}, ${m.cores} cores, ${m.blas.replace(/, \d+ threads?[^)]*\)/, ')')}`;
}

/** The thread settings a run is given (its environment over this process's), as VAR=value. */
export function threadSettings(env: Record<string, string | undefined> = {}): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of THREAD_VARIABLES) {
    const value = name in env ? env[name] : process.env[name];
    if (value !== undefined) settings[name] = value;
  }
  return settings;
}

export function describeThreads(settings: Record<string, string>): string {
  const entries = Object.entries(settings);
  return entries.length === 0 ? 'thread variables unset' : entries.map(([name, value]) => `${name}=${value}`).join(' ');
}

/** /proc/loadavg: runnable tasks averaged over 1, 5 and 15 minutes. */
export interface Load {
  one: number;
  five: number;
  fifteen: number;
}

export function load(): Load {
  const [one, five, fifteen] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number) as [number, number, number];
  return { one, five, fifteen };
}

/** The load before and after a measurement. */
export interface LoadSpan {
  before: Load;
  after: Load;
}

export function describeLoad(span: LoadSpan | Load, cores = availableParallelism()): string {
  const text = 'before' in span ? `${span.before.one.toFixed(2)}->${span.after.one.toFixed(2)}` : span.one.toFixed(2);
  const highest = 'before' in span ? Math.max(span.before.one, span.after.one) : span.one;
  return `load ${text}${highest > cores ? ' (busy: noisy)' : ''}`;
}

/** Measures `work` with the load before and after it. */
export async function withLoad<T>(work: () => Promise<T>): Promise<{ value: T; load: LoadSpan }> {
  const before = load();
  const value = await work();
  return { value, load: { before, after: load() } };
}

// ---- A process's memory and handles (Linux /proc) ----

/** Resident memory now and at its peak (VmRSS, VmHWM), in MiB; undefined once the process is gone. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
    return { rssMiB: field('VmRSS'), peakMiB: field('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Open file descriptors of a process (sockets, files, pipes): /proc/PID/fd. */
export function openHandlesOf(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** The live children of a process (/proc/PID/task/*\/children). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text !== '') children.push(...text.split(' ').map(Number));
    }
  } catch {
    // The process is gone.
  }
  return children;
}

/** USER_HZ: what /proc/PID/stat counts CPU time in; 100 on every Linux the service runs on. */
const clockTicks = 100;

/** A process's CPU seconds from /proc/PID/stat: its own (utime + stime) and its reaped children's (cutime + cstime). */
function statCpu(pid: number): { own: number; reaped: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    // Fields 14-17 of stat, counted from the state (field 3).
    return { own: ((fields[11] as number) + (fields[12] as number)) / clockTicks, reaped: ((fields[13] as number) + (fields[14] as number)) / clockTicks };
  } catch {
    return { own: 0, reaped: 0 };
  }
}

/**
 * The server's CPU seconds and its workers'. Workers are pooled and outlive their tasks, so
 * theirs is the reaped children's plus the live ones': a difference of two readings counts
 * what every worker did in between, whether it exited meanwhile or not.
 */
export function cpuOf(pid: number): { own: number; children: number } {
  const server = statCpu(pid);
  const live = childrenOf(pid).reduce((sum, child) => sum + statCpu(child).own, 0);
  return { own: server.own, children: server.reaped + live };
}

/** The thread settings a process was started with (/proc/PID/environ); none once it is gone. */
export function startedThreadSettings(pid: number): Record<string, string> {
  let entries: string[] = [];
  try {
    entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    // The process is gone.
  }
  const settings: Record<string, string> = {};
  for (const entry of entries) {
    const name = entry.slice(0, entry.indexOf('='));
    if ((THREAD_VARIABLES as readonly string[]).includes(name)) settings[name] = entry.slice(name.length + 1);
  }
  return settings;
}
