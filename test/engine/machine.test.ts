// The machine as the engine reads it: the OpenBLAS kernels it names for a CPU, and that
// OpenBLAS, loaded after, trains on them unless the user named their own.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { blasKernelsFor } from '../../src/engine/machine.js';

const cpu = (vendor: string, flags: string) => `processor\t: 0\nvendor_id\t: ${vendor}\ncpu family\t: 6\nflags\t\t: ${flags}\n\nprocessor\t: 1\n`;
const sse = 'fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt';
const avx2 = `${sse} avx f16c fma avx2 bmi2`;
const avx512 = `${avx2} avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni`;

t.test('kernels by what the CPU can do', async (t) => {
  t.equal(blasKernelsFor(cpu('GenuineIntel', `${avx512} avx512_bf16 avx512_fp16 amx_tile`)), 'SkylakeX', 'an Intel CPU with AVX-512 (Emerald Rapids)');
  t.equal(blasKernelsFor(cpu('AuthenticAMD', `${avx512} avx512_bf16`)), 'SkylakeX', 'an AMD CPU with AVX-512 (Zen 4)');
  t.equal(blasKernelsFor(cpu('AuthenticAMD', avx2)), 'Zen', 'an AMD CPU with AVX2 and no AVX-512');
  t.equal(blasKernelsFor(cpu('HygonGenuine', avx2)), 'Zen', 'a Hygon CPU with AVX2');
  t.equal(blasKernelsFor(cpu('GenuineIntel', avx2)), 'Haswell', 'an Intel CPU with AVX2 and no AVX-512');
  t.equal(blasKernelsFor(cpu('GenuineIntel', `${avx2} avx512f avx512cd avx512er avx512pf`)), 'Haswell', 'AVX-512 without BW and VL (Knights Landing)');
  t.equal(blasKernelsFor(cpu('GenuineIntel', `${sse} avx`)), undefined, 'AVX without AVX2 keeps OpenBLAS its own pick');
  t.equal(blasKernelsFor(cpu('GenuineIntel', `${sse} avx avx2`)), undefined, 'AVX2 without FMA too');
  t.equal(blasKernelsFor(''), undefined, 'no cpuinfo at all');
});

const engine = fileURLToPath(new URL('../../dist/src/engine/index.js', import.meta.url));
/** blasInfo() of an engine loaded in a new process with this environment. */
const loadedBlas = (env: NodeJS.ProcessEnv) =>
  execFileSync(process.execPath, ['--input-type=module', '-e', `process.stdout.write((await import(${JSON.stringify(engine)})).blasInfo())`], {
    env,
    encoding: 'utf8',
  });

t.test('OpenBLAS trains on the kernels named for this CPU', { skip: process.platform !== 'linux' || process.arch !== 'x64' }, async (t) => {
  const { OPENBLAS_CORETYPE: _own, ...unset } = process.env;
  const named = blasKernelsFor(readFileSync('/proc/cpuinfo', 'utf8'));
  const info = loadedBlas(unset);
  if (named === undefined) t.notMatch(info, /OPENBLAS_CORETYPE/, 'nothing named on a CPU without AVX2');
  else t.match(info, new RegExp(`\\(${named} kernels.*; OPENBLAS_CORETYPE=${named}, named from the CPU's features$`), info);
  t.match(loadedBlas({ ...unset, OPENBLAS_CORETYPE: 'Sandybridge' }), /^OpenBLAS .*\(Sandybridge kernels, [^;]*$/, "the user's own OPENBLAS_CORETYPE wins");
});
