// Bearer auth (CAVIAR_TOKEN): every route and websocket needs the token but the health
// checks and the API's document and UI; browsers pass it as a `bearer.<token>` subprotocol;
// it never reaches the log. Websockets open only from the server's own pages and the
// origins CAVIAR_ALLOWED_ORIGINS lists.
import t from 'tap';
import WebSocket from 'ws';
import { loadConfig } from '../../src/server/config.js';
import { call, moonsJob, openEvents, startService, waitFor, type Service } from '../fixtures/service.js';

const TOKEN = 'sekrit-7f3a9c2e41b8d6';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

type Upgrade = { opened: true; protocol: string } | { opened: false; status: number; body: unknown };

/** Tries a websocket upgrade and reports whether it opened (then closes it) or the HTTP refusal. */
function upgrade(service: Service, path: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(service.url.replace(/^http/, 'ws') + path, options.protocols, { headers: options.headers ?? {} });
    socket.on('open', () => {
      resolve({ opened: true, protocol: socket.protocol });
      socket.close();
    });
    socket.on('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Not JSON: the text as it is.
        }
        resolve({ opened: false, status: response.statusCode ?? 0, body });
      });
    });
    socket.on('error', (error) => reject(error));
  });
}

const unauthorized = { status: 401, body: { error: { code: 'UNAUTHORIZED', message: String } } };

t.test('with CAVIAR_TOKEN every route but the health checks and the API document needs the bearer token', async (t) => {
  const service = await startService({ env: { CAVIAR_TOKEN: TOKEN } });
  t.teardown(() => service.stop('SIGKILL'));
  t.match(service.log(), /"auth":true/, 'the server says auth is on');

  t.match(await call(service, 'GET', '/v1/jobs'), unauthorized, 'no token: 401 with the error shape');
  t.match(await call(service, 'GET', '/v1/jobs', undefined, bearer('not-the-token')), unauthorized, 'a wrong token: 401');
  t.match(await call(service, 'GET', '/v1/jobs', undefined, bearer(`${TOKEN}x`)), unauthorized, 'the token plus one character: 401');
  t.match(await call(service, 'GET', '/v1/jobs', undefined, { authorization: TOKEN }), unauthorized, 'the token without "Bearer": 401');
  t.match(await call(service, 'GET', '/v1/jobs', undefined, bearer(TOKEN)), { status: 200, body: { jobs: [] } }, 'the right token: 200');
  t.match(await call(service, 'GET', '/metrics'), { status: 401 }, '/metrics is not public');

  t.match(await call(service, 'POST', '/v1/jobs', moonsJob(2)), unauthorized, 'a job without the token is refused');
  t.same((await call(service, 'GET', '/v1/jobs', undefined, bearer(TOKEN))).body.jobs, [], 'and not stored');
  const submitted = await call(service, 'POST', '/v1/jobs', moonsJob(2), bearer(TOKEN));
  t.equal(submitted.status, 202, 'a job with the token is accepted');
  const id = submitted.body.id as string;
  t.match(await call(service, 'GET', `/v1/jobs/${id}`), unauthorized, "a job's view needs the token too");

  t.match(await call(service, 'GET', '/healthz'), { status: 200, body: { status: 'ok' } }, '/healthz is public');
  t.match(await call(service, 'GET', '/readyz'), { status: 200, body: { status: 'ready' } }, '/readyz is public');
  const document = await call(service, 'GET', '/openapi.json');
  t.match(document, { status: 200, body: { openapi: String } }, 'the OpenAPI document is public: it holds no data');
  t.same(document.body.paths['/v1/jobs'].get.security, [{ bearer: [] }], 'and says which operations take the token');
  t.match(await call(service, 'GET', '/docs'), { status: 200, body: /swagger/i }, 'its UI is public, to take the token itself');
  t.match(await call(service, 'GET', '/docs/json'), { status: 200, body: { openapi: String } }, "and so is the document the UI reads");

  t.match(await upgrade(service, `/v1/jobs/${id}/events`), { opened: false, ...unauthorized }, 'a websocket without the token is refused before the upgrade');
  t.match(await upgrade(service, '/v1/events'), { opened: false, status: 401 }, 'so is the socket of every event');
  t.match(
    await upgrade(service, `/v1/jobs/${id}/events`, { protocols: ['caviar', 'bearer.not-the-token'] }),
    { opened: false, status: 401 },
    'a wrong token as subprotocol is refused',
  );
  t.match(
    await upgrade(service, `/v1/jobs/${id}/events`, { protocols: ['caviar', `bearer.${TOKEN}`], headers: { origin: 'http://evil.example' } }),
    { opened: false, status: 403, body: { error: { code: 'FORBIDDEN_ORIGIN' } } },
    'the right token from another origin is refused',
  );
  t.same(
    await upgrade(service, `/v1/jobs/${id}/events`, { protocols: ['caviar', `bearer.${TOKEN}`] }),
    { opened: true, protocol: 'caviar' },
    'the token as a bearer.<token> subprotocol opens it; the server picks "caviar"',
  );
  t.same(await upgrade(service, '/v1/events', { headers: bearer(TOKEN) }), { opened: true, protocol: '' }, 'so does the Authorization header');

  for (const path of [`/v1/jobs/${id}/events`, '/v1/events', '/v1/sweeps/sweep_none/events']) {
    t.match(await call(service, 'GET', path), unauthorized, `a plain GET on ${path} without the token: 401 first`);
    const plain = await call(service, 'GET', path, undefined, bearer(TOKEN));
    t.match(plain, { status: 426, body: { error: { code: 'UPGRADE_REQUIRED', message: /websocket/, path: '/headers/upgrade' } } }, `a plain GET on ${path}: 426`);
    t.equal(plain.headers.get('upgrade'), 'websocket', 'naming the upgrade it needs');
  }

  // The socket works, not only opens: the job's whole history, then a normal close.
  const stream = openEvents(service, `/v1/jobs/${id}/events?since=0`, { protocols: ['caviar', `bearer.${TOKEN}`] });
  t.equal((await stream.closed).code, 1000);
  t.match(stream.events.at(-1), { type: 'done', status: 'succeeded' });

  // Only headers and subprotocols carry it, but a client may still put it in a URL.
  t.match(await call(service, 'GET', `/v1/jobs?access_token=${TOKEN}`), unauthorized, 'a token in the query string is not accepted');
  t.match(await upgrade(service, `/v1/jobs/${id}/events?since=0&token=${TOKEN}`), { opened: false, status: 401 });

  // The server has logged every request above (and the worker's output goes to the same
  // streams): the token is in none of it.
  await waitFor(async () => service.log().includes(`/v1/jobs/${id}/events?since=0&token=`));
  t.match(service.log(), /"url":"\/v1\/jobs\?access_token=\[Redacted\]"/, "the request with the token in its URL was logged, the token redacted");
  t.ok(service.log().includes('"statusCode":401'), 'the refused requests were logged');
  t.notOk(service.log().includes(TOKEN), 'the token never appears in the log');
  t.notOk(service.log().includes(TOKEN.slice(0, 10)), 'nor any part of it');
});

t.test('without CAVIAR_TOKEN everything works unauthenticated', async (t) => {
  const service = await startService();
  t.teardown(() => service.stop('SIGKILL'));
  t.match(service.log(), /"auth":false/);
  const submitted = await call(service, 'POST', '/v1/jobs', moonsJob(2));
  t.equal(submitted.status, 202);
  t.equal((await call(service, 'GET', '/v1/jobs')).status, 200);
  t.equal((await call(service, 'GET', '/metrics')).status, 200);
  t.match(await upgrade(service, '/v1/events'), { opened: true });
  const stream = openEvents(service, `/v1/jobs/${submitted.body.id}/events`);
  t.equal((await stream.closed).code, 1000, 'a websocket needs no token');
  t.match(stream.events.at(-1), { type: 'done', status: 'succeeded' });
  t.match(await call(service, 'GET', '/v1/jobs', undefined, bearer('anything')), { status: 200 }, 'a token sent anyway is ignored');
});

t.test('the bearer scheme name is case-insensitive (RFC 7235); the token is not', async (t) => {
  const service = await startService({ env: { CAVIAR_TOKEN: TOKEN } });
  t.teardown(() => service.stop('SIGKILL'));
  for (const scheme of ['bearer', 'BEARER', 'bEaReR'])
    t.match(await call(service, 'GET', '/v1/jobs', undefined, { authorization: `${scheme} ${TOKEN}` }), { status: 200 }, `"${scheme} <token>": 200`);
  t.match(await call(service, 'GET', '/v1/jobs', undefined, { authorization: `Bearer ${TOKEN.toUpperCase()}` }), unauthorized, 'the token in another case: 401');
  t.match(await call(service, 'GET', '/v1/jobs', undefined, { authorization: `Basic ${TOKEN}` }), unauthorized, 'another scheme: 401');
  t.match(await call(service, 'GET', '/v1/jobs', undefined, { authorization: `Bearer${TOKEN}` }), unauthorized, 'no space after the scheme: 401');
  t.same(await upgrade(service, '/v1/events', { headers: { authorization: `bearer ${TOKEN}` } }), { opened: true, protocol: '' }, 'a websocket with "bearer <token>" opens');
});

t.test("a websocket opens from the server's own origins and the configured ones, not from a rebinding page", async (t) => {
  t.throws(() => loadConfig({ CAVIAR_ALLOWED_ORIGINS: 'dash.example.com' }), /CAVIAR_ALLOWED_ORIGINS/, 'an origin needs its scheme');
  t.throws(() => loadConfig({ CAVIAR_ALLOWED_ORIGINS: 'https://dash.example.com/app' }), /CAVIAR_ALLOWED_ORIGINS/, 'an origin has no path');
  t.same(loadConfig({ CAVIAR_ALLOWED_ORIGINS: ' https://Dash.example.com , http://10.0.0.5:8080 ' }).allowedOrigins, ['https://dash.example.com', 'http://10.0.0.5:8080']);
  t.same(loadConfig({}).allowedOrigins, [], 'none but its own by default');

  const service = await startService();
  t.teardown(() => service.stop('SIGKILL'));
  const { port } = new URL(service.url);
  const refused = { opened: false, status: 403, body: { error: { code: 'FORBIDDEN_ORIGIN', message: String } } };
  // A DNS-rebinding page: evil.example resolves to 127.0.0.1, so the browser's Host matches its Origin.
  t.match(
    await upgrade(service, '/v1/events', { headers: { origin: `http://evil.example:${port}`, host: `evil.example:${port}` } }),
    refused,
    'a page of another name whose Host matches its Origin is refused',
  );
  t.match(await upgrade(service, '/v1/events', { headers: { origin: `http://127.0.0.1:${Number(port) + 1}` } }), refused, 'another port of this machine is another origin');
  t.match(await upgrade(service, '/v1/events', { headers: { origin: `https://127.0.0.1:${port}` } }), refused, 'so is another scheme');
  t.match(await upgrade(service, '/v1/events', { headers: { origin: 'null' } }), refused, 'an opaque origin is refused');
  for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`, `http://LOCALHOST:${port}`])
    t.match(await upgrade(service, '/v1/events', { headers: { origin, host: new URL(origin).host } }), { opened: true }, `the server's own page at ${origin} opens it`);
  t.match(await upgrade(service, '/v1/events'), { opened: true }, 'a client that sends no Origin (not a browser) opens it');

  const configured = await startService({ env: { CAVIAR_HOST: '127.0.0.2', CAVIAR_ALLOWED_ORIGINS: 'https://dash.example.com,http://10.0.0.5:8080' } });
  t.teardown(() => configured.stop('SIGKILL'));
  const other = new URL(configured.url).port;
  for (const origin of ['https://dash.example.com', 'http://10.0.0.5:8080', `http://127.0.0.2:${other}`, `http://localhost:${other}`])
    t.match(await upgrade(configured, '/v1/events', { headers: { origin } }), { opened: true }, `${origin} opens it`);
  for (const origin of ['http://dash.example.com', 'https://dash.example.com:8443', `http://evil.example:${other}`])
    t.match(await upgrade(configured, '/v1/events', { headers: { origin, host: new URL(origin).host } }), refused, `${origin} is refused`);
});
