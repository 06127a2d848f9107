import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes } from '../../src/engine/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Every file's text under a folder of the repository, with the given endings. */
function sources(folder: string, endings: RegExp): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => endings.test(name))
    .map((name) => readFileSync(join(root, folder, name), 'utf8'));
}

t.test('the C++ engine and its binding throw only codes the TypeScript face lists, and every listed code is thrown somewhere', async (t) => {
  const native = sources('native', /\.(h|cc)$/)
    .flatMap((text) => [...text.matchAll(/constexpr const char\s*\*\s*k\w+\s*=\s*"([A-Z][A-Z_]+)"/g)].map((match) => match[1] as string));
  t.ok(native.length >= 6, `${native.length} codes found in native/`);
  for (const code of native) t.ok(ErrorCodes.includes(code as (typeof ErrorCodes)[number]), `${code} (C++) is listed in src/engine/errors.ts`);
  const typescript = sources('src/engine', /\.ts$/).flatMap((text) => [...text.matchAll(/EngineError\('([A-Z_]+)'/g)].map((match) => match[1] as string));
  for (const code of ErrorCodes) t.ok(native.includes(code) || typescript.includes(code), `${code} is thrown by C++ or by src/engine`);
});
