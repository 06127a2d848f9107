// The Fastify application: validation, errors, auth, the OpenAPI document, and one plugin
// per resource. index.ts starts it; tests build it the same way.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { pino, type Logger } from 'pino';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import { EngineError, validate } from '../engine/index.js';
import { ApiError, installErrorHandler } from './errors.js';
import type { ServerConfig } from './config.js';
import type { Services } from './context.js';
import { openApiOptions } from './openapi.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { datasetRoutes } from './routes/datasets.js';
import { eventRoutes, SocketRegistry } from './routes/events.js';
import { gradCheckRoutes } from './routes/gradcheck.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { sweepRoutes } from './routes/sweeps.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Open without a token: the health checks a container runtime calls, the API's document and UI, the dashboard's files. */
    public?: boolean;
  }
}

/** The subprotocol the server picks; a browser offers it beside its `bearer.<token>`. */
export const WEBSOCKET_PROTOCOL = 'caviar';
const BEARER_PROTOCOL = 'bearer.';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function offeredProtocols(request: FastifyRequest): string[] {
  return (request.headers['sec-websocket-protocol'] ?? '').split(',').map((protocol) => protocol.trim());
}

/** The token of an `Authorization: Bearer <token>` header, whose scheme name is case-insensitive (RFC 7235). */
function bearerToken(header: string | undefined): string | undefined {
  return header === undefined ? undefined : /^bearer +(\S+)$/i.exec(header)?.[1];
}

/** An origin as a browser serializes it, or undefined for an opaque one ("null") or no URL. */
function serializedOrigin(text: string): string | undefined {
  try {
    const { origin } = new URL(text);
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** Listening on every interface names no host that a page could be served from. */
const EVERY_INTERFACE = new Set(['0.0.0.0', '::']);

/**
 * Whether a page of `origin` may open a websocket: the server's own pages, as this machine
 * reaches it on the port the request came in on (and at the configured host when that names
 * one), and CAVIAR_ALLOWED_ORIGINS. The Host header proves nothing: a DNS-rebinding page,
 * its name resolved to this machine, sends that name as both its Origin and its Host.
 */
function originPolicy(config: ServerConfig): (origin: string, port: number) => boolean {
  const byPort = new Map<number, Set<string>>();
  const own = (port: number) => {
    const hosts = ['127.0.0.1', 'localhost', '[::1]'];
    if (!EVERY_INTERFACE.has(config.host)) hosts.push(config.host.includes(':') ? `[${config.host}]` : config.host);
    const origins = hosts.map((host) => serializedOrigin(`http://${host}:${port}`));
    return new Set([...origins.filter((origin) => origin !== undefined), ...config.allowedOrigins]);
  };
  return (origin, port) => {
    let allowed = byPort.get(port);
    if (allowed === undefined) byPort.set(port, (allowed = own(port)));
    const serialized = serializedOrigin(origin);
    return serialized !== undefined && allowed.has(serialized);
  };
}

/**
 * Bearer auth on every route but the public ones (config.public). Browsers cannot set headers on a
 * websocket, so an upgrade may carry the token as a `bearer.<token>` subprotocol; it is
 * checked, with the Origin, before the upgrade.
 */
function authenticate(request: FastifyRequest, token: string | undefined, originAllowed: ReturnType<typeof originPolicy>): void {
  const upgrade = request.headers.upgrade?.toLowerCase() === 'websocket';
  const { origin } = request.headers;
  if (upgrade && origin !== undefined && !originAllowed(origin, request.socket.localPort ?? 0))
    throw new ApiError('FORBIDDEN_ORIGIN', `a websocket from a page of ${origin}: only the server's own pages and CAVIAR_ALLOWED_ORIGINS may open one`);
  if (token === undefined || request.routeOptions.config.public === true) return;
  const given = bearerToken(request.headers.authorization);
  if (given !== undefined && sameSecret(given, token)) return;
  if (upgrade && offeredProtocols(request).some((p) => p.startsWith(BEARER_PROTOCOL) && sameSecret(p.slice(BEARER_PROTOCOL.length), token))) return;
  throw new ApiError('UNAUTHORIZED', 'a valid token is needed: Authorization: Bearer <token>');
}

async function requireUpgrade(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.ws) return;
  void reply.header('upgrade', 'websocket').header('connection', 'upgrade');
  throw new ApiError('UPGRADE_REQUIRED', `${request.url.split('?')[0]} is a websocket: connect with Upgrade: websocket`, '/headers/upgrade');
}

/** Query parameters whose values are secrets. None is taken from a URL, but clients put them there. */
const SECRET_PARAMETER = /token|ticket|secret|password|api[-_]?key|^auth/i;

/** The URL with the values of its secret-looking query parameters replaced. */
export function redactUrl(url: string): string {
  const query = url.indexOf('?');
  if (query === -1) return url;
  const pairs = url.slice(query + 1).split('&').map((pair) => {
    const name = pair.split('=', 1)[0] as string;
    let decoded = name;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      // Not valid percent-encoding: judged as it is.
    }
    return pair.includes('=') && SECRET_PARAMETER.test(decoded) ? `${name}=[Redacted]` : pair;
  });
  return `${url.slice(0, query + 1)}${pairs.join('&')}`;
}

/** Tokens never reach the log, whichever header or URL carried them. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]'],
    serializers: {
      // Fastify's request fields, with the URL's secrets redacted.
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: redactUrl(request.url),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort,
      }),
    },
  });
}

export async function buildApp(services: Services, sockets = new SocketRegistry()): Promise<FastifyInstance> {
  const { config } = services;
  const app = Fastify({
    loggerInstance: services.log,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
    },
    requestTimeout: 120_000,
    bodyLimit: 1024 * 1024,
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // Bodies are checked as they are (no coercion of "20" to 20, no stripping of unknown
  // fields) and stop at the first error; query strings and params are text, so converted.
  app.setValidatorCompiler(({ schema, httpPart }) => (value: unknown) => {
    const input = httpPart === 'body' ? value : Value.Default(schema as TSchema, Value.Convert(schema as TSchema, value));
    try {
      return { value: validate(schema as TSchema, input) };
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      return { error: [{ instancePath: error.path ?? '/', message: error.message, keyword: 'schema', schemaPath: '', params: {} }] };
    }
  });
  installErrorHandler(app);

  const originAllowed = originPolicy(config);
  app.addHook('onRequest', async (request) => authenticate(request, config.token, originAllowed));

  await app.register(swagger, openApiOptions({ server: WEBSOCKET_PROTOCOL, bearerPrefix: BEARER_PROTOCOL }));
  // The document and its UI hold no data: they open without a token, and the UI takes one
  // for the calls it makes (Authorize, the bearer scheme).
  await app.register(async (docs) => {
    docs.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), public: true };
    });
    await docs.register(swaggerUi, { routePrefix: '/docs' });
    docs.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  });

  await app.register(websocket, {
    options: {
      maxPayload: 64 * 1024,
      handleProtocols: (protocols) => (protocols.has(WEBSOCKET_PROTOCOL) ? WEBSOCKET_PROTOCOL : false),
    },
  });
  // A GET without the upgrade is the client's mistake, answered with the error shape and
  // the Upgrade it needs rather than @fastify/websocket's empty 404; after the auth hook.
  app.addHook('onRoute', (route) => {
    if (route.websocket === true && route.method === 'GET') route.onRequest = [route.onRequest ?? []].flat().concat(requireUpgrade);
  });

  const withSockets = { ...services, sockets };
  await app.register(healthRoutes, withSockets);
  await app.register(jobRoutes, services);
  await app.register(eventRoutes, withSockets);
  await app.register(datasetRoutes, services);
  await app.register(gradCheckRoutes, services);
  await app.register(sweepRoutes, withSockets);
  await app.register(dashboardRoutes);
  sockets.startPings(config.pingMs);
  return app;
}
