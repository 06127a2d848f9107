// The cores and memory this process may use, a container's limits included: what the BLAS
// threads of training and the admission of jobs are sized by.
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';

/**
 * The cores this process may use. Node and OpenBLAS see the machine's, not a container's
 * CPU quota (cgroup v2 cpu.max, or v1 cfs_quota/period): the quota wins when there is one.
 */
export function availableCores(): number {
  const machine = availableParallelism();
  const quota = (): number | undefined => {
    try {
      const [limit, period] = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim().split(/\s+/);
      if (limit !== undefined && limit !== 'max') return Number(limit) / Number(period);
    } catch {
      try {
        const limit = Number(readFileSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us', 'utf8'));
        const period = Number(readFileSync('/sys/fs/cgroup/cpu/cpu.cfs_period_us', 'utf8'));
        if (limit > 0 && period > 0) return limit / period;
      } catch {
        // No cgroup limits to read: the machine's cores are this process's.
      }
    }
    return undefined;
  };
  const cores = quota();
  return cores === undefined || !Number.isFinite(cores) ? machine : Math.max(1, Math.min(machine, Math.ceil(cores)));
}

/** The memory this process may use: the machine's, or a container's cgroup limit when lower. */
export function availableMemory(): number {
  const machine = totalmem();
  try {
    const limit = readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim();
    if (limit !== 'max' && Number(limit) > 0) return Math.min(machine, Number(limit));
  } catch {
    // No cgroup v2 limit to read.
  }
  return machine;
}

/**
 * The OpenBLAS kernels to name for a CPU, from its /proc/cpuinfo, or undefined to leave
 * OpenBLAS its own pick. OpenBLAS picks from the CPU's model number as it loads, and a
 * model newer than its table falls back to Prescott's SSE3 kernels: OpenBLAS 0.3.21 on an
 * Emerald Rapids Xeon runs sgemm 4-5x slower there than on its AVX-512 kernels. Named by
 * what the CPU can do, the pick is the one its table gives every CPU it knows (AVX-512:
 * SkylakeX, whose sgemm Cooperlake shares; AVX2 on AMD or Hygon: Zen; AVX2 elsewhere:
 * Haswell), and a right one on the CPUs it does not know. Older CPUs keep OpenBLAS's pick.
 */
export function blasKernelsFor(cpuinfo: string): string | undefined {
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(cpuinfo)?.[1]?.trim();
  const flags = new Set(field('flags')?.split(/\s+/));
  if (['avx512f', 'avx512bw', 'avx512dq', 'avx512vl', 'avx512cd'].every((flag) => flags.has(flag))) return 'SkylakeX';
  if (!flags.has('avx2') || !flags.has('fma')) return undefined;
  return ['AuthenticAMD', 'HygonGenuine'].includes(field('vendor_id') ?? '') ? 'Zen' : 'Haswell';
}
