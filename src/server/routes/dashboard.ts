// The browser dashboard (DESIGN.md, `/`): static ES modules and CSS from src/server/dashboard,
// uPlot straight from node_modules, and the example specs that prefill its submit form. No
// build step: the files are served as they are. These routes are open without a token, so
// that the page can load and then ask for one; everything it fetches afterwards is not.
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import { FinalStatusSchema, JOB_STATUSES } from '../../jobs/index.js';

/** The job statuses as an ES module for the page: the browser gets the one list src/jobs has. */
const STATUSES_MODULE = [
  `export const STATUSES = ${JSON.stringify(JOB_STATUSES)};`,
  `export const FINISHED = new Set(${JSON.stringify(FinalStatusSchema.anyOf.map((literal) => literal.const))});`,
  '',
].join('\n');

/**
 * The package root: the nearest folder above this file with a package.json. The same for
 * src/server/routes (tests, tsx) and dist/src/server/routes (the built server, the image),
 * which is why the assets are found from here rather than from this file's own folder.
 */
export function packageRoot(from = fileURLToPath(import.meta.url)): string {
  for (let folder = dirname(from); ; folder = dirname(folder)) {
    if (existsSync(join(folder, 'package.json'))) return folder;
    if (dirname(folder) === folder) throw new Error(`no package.json above ${from}`);
  }
}

export interface DashboardOptions {
  /** The package root; the assets are under src/server/dashboard, uPlot under node_modules. */
  root?: string;
}

export const dashboardRoutes: FastifyPluginAsync<DashboardOptions> = async (app, options) => {
  const root = options.root ?? packageRoot();
  const assets = join(root, 'src', 'server', 'dashboard');
  const uplot = join(root, 'node_modules', 'uplot', 'dist');
  const examples = join(root, 'examples');

  // Every route of this (encapsulated) plugin is public: the auth hook in app.ts skips routes
  // whose config says so. Only these static paths, nothing under /v1.
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config as object), public: true };
  });

  await app.register(fastifyStatic, { root: assets, prefix: '/dashboard/', index: false, schemaHide: true, cacheControl: false });
  // Only the ES module build and its stylesheet are needed; the folder holds nothing private.
  await app.register(fastifyStatic, { root: uplot, prefix: '/assets/uplot/', decorateReply: false, index: false, schemaHide: true, maxAge: '1h' });

  app.get('/', { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html', assets, { cacheControl: false }));
  app.get('/dashboard/statuses.js', { schema: { hide: true } }, (_request, reply) => reply.type('text/javascript').send(STATUSES_MODULE));
  // index.html links the SVG icon; browsers and tools that ask for /favicon.ico get it too.
  app.get('/favicon.ico', { schema: { hide: true } }, (_request, reply) =>
    reply.type('image/svg+xml').sendFile('favicon.svg', assets, { maxAge: '1d' }),
  );

  // The example job and sweep specs of the repository (examples/*.json), to start from.
  app.get('/dashboard/examples.json', { schema: { hide: true } }, async () => {
    const names = existsSync(examples) ? (await readdir(examples)).filter((name) => name.endsWith('.json')).sort() : [];
    const specs = await Promise.all(
      names.map(async (file) => {
        try {
          return { name: file.replace(/\.json$/, ''), spec: JSON.parse(await readFile(join(examples, file), 'utf8')) as unknown };
        } catch {
          return undefined; // A file that is not JSON is not an example.
        }
      }),
    );
    return { examples: specs.filter((example) => example !== undefined) };
  });
};
