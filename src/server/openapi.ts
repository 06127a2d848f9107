// The OpenAPI 3.1 document (/openapi.json) as @fastify/swagger makes it from the routes'
// own schemas, with what those schemas do not say: which operations take the bearer token,
// how a websocket route is opened, and JSON Schema 2020-12 (OpenAPI 3.1's dialect) where
// TypeBox writes draft 7.
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import type { FastifySchema } from 'fastify';
import { Type, type TObject, type TSchema } from '@sinclair/typebox';
import { ErrorSchema } from './errors.js';

export const SECURITY_SCHEME = 'bearer';

/** The subprotocols of an event socket, as the auth hook reads them. */
export interface Subprotocols {
  /** The one the server picks. */
  server: string;
  /** Followed by the token, offered by browsers (which cannot set a websocket's headers). */
  bearerPrefix: string;
}

const TAGS = [
  { name: 'jobs', description: 'Training jobs: submit, follow, control, and the trained model' },
  { name: 'sweeps', description: 'Hyperparameter sweeps: trials of a base job over a search space, ranked' },
  { name: 'datasets', description: 'Uploaded datasets, for jobs to name' },
  { name: 'gradcheck', description: "Checks of a network's backpropagation" },
  { name: 'operations', description: 'Health checks and Prometheus metrics' },
];

/**
 * A schema with an `$id` (Job, JobEvent, Error, ...) as a reference to its component. The
 * generator makes components of the `$id` schemas it finds inside others, not of a route's
 * whole body or reply, so it is put inside an `allOf` that as2020 unwraps.
 */
function shared(schema: TSchema): object {
  return typeof schema.$id === 'string' ? { allOf: [schema] } : schema;
}

/** A response with its description (the generator's own key for it). */
const described = (schema: TSchema, description: string) => ({ ...shared(schema), 'x-response-description': description });

/** A query parameter with a default is the client's to leave out, though the handler always has it. */
function optionalDefaults(query: TObject): TObject {
  const required = (query.required ?? []).filter((name) => (query.properties[name] as TSchema | undefined)?.default === undefined);
  return { ...query, required };
}

function websocketDescription({ server, bearerPrefix }: Subprotocols): string {
  return [
    'A websocket (RFC 6455): send this GET with `Connection: Upgrade` and `Upgrade: websocket`; after the 101 the server sends',
    "one JSON message per event (the 101 response's schema) and reads nothing from the client.",
    `The server picks the subprotocol \`${server}\` when it is offered. A browser cannot set an Authorization header on a websocket,`,
    `so it passes the token as the subprotocol \`${bearerPrefix}<token>\` beside it: \`new WebSocket(url, ["${server}", "${bearerPrefix}" + token])\`.`,
    "The token, the Origin (when sent, this server's) and the route are checked before the upgrade and refused with plain HTTP",
    'errors; a GET without the upgrade answers 426.',
  ].join(' ');
}

/** Per route: the security it needs, the errors every route may answer, and a websocket's upgrade. */
function documentRoute(subprotocols: Subprotocols): NonNullable<FastifyDynamicSwaggerOptions['transform']> {
  return ({ schema, url, route }) => {
    const open = route.config?.public === true;
    const websocket = (route as { websocket?: boolean }).websocket === true;
    const declared = (schema.response ?? {}) as Record<string, TSchema>;
    const responses: Record<string, unknown> = Object.fromEntries(Object.entries(declared).map(([status, reply]) => [status, shared(reply)]));
    if (!open) responses[401] = described(ErrorSchema, 'no valid token (the server was started with CAVIAR_TOKEN)');
    responses.default = described(ErrorSchema, 'an error the server did not expect (500); its log has the details');
    const document: FastifySchema = {
      ...schema,
      security: open ? [] : [{ [SECURITY_SCHEME]: [] }],
      response: responses,
      ...(schema.body === undefined ? {} : { body: shared(schema.body as TSchema) }),
      ...(schema.querystring === undefined ? {} : { querystring: optionalDefaults(schema.querystring as TObject) }),
    };
    if (websocket) {
      const messages = declared[101];
      if (messages === undefined) throw new Error(`websocket route ${url} declares no messages (its schema's response 101)`);
      responses[101] = described(messages, 'Switching Protocols: the socket is open; each message is one of these');
      responses[403] = described(ErrorSchema, 'an upgrade from a page of another origin');
      responses[426] = described(ErrorSchema, 'a GET without the websocket upgrade');
      Object.assign(document, {
        // @fastify/websocket hides its routes from the document; these are part of the API.
        hide: false,
        description: [schema.description, websocketDescription(subprotocols)].filter(Boolean).join('\n\n'),
        headers: Type.Object({
          'sec-websocket-protocol': Type.Optional(
            Type.String({ description: `\`${subprotocols.server}\`, and \`${subprotocols.bearerPrefix}<token>\` from a browser (comma-separated)` }),
          ),
        }),
      });
    }
    return { schema: document, url };
  };
}

/**
 * The document as OpenAPI 3.1 writes it: TypeBox writes a tuple as draft 7 does (`items` a
 * list, `additionalItems` for the rest), JSON Schema 2020-12 as `prefixItems` and `items`;
 * and `shared`'s wrapper around a lone reference is the reference.
 */
function as2020(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(as2020);
  if (typeof node !== 'object' || node === null) return node;
  const { items, additionalItems, ...rest } = node as Record<string, unknown>;
  const converted = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, as2020(value)]));
  const [only, ...others] = Array.isArray(converted.allOf) ? (converted.allOf as object[]) : [];
  if (Object.keys(node).join() === 'allOf' && others.length === 0 && Object.keys(only ?? {}).join() === '$ref') return only;
  if (Array.isArray(items)) return { ...converted, prefixItems: as2020(items), ...(additionalItems === undefined ? {} : { items: as2020(additionalItems) }) };
  return { ...converted, ...(items === undefined ? {} : { items: as2020(items) }) };
}

export function openApiOptions(subprotocols: Subprotocols): FastifyDynamicSwaggerOptions {
  return {
    // Shared schemas appear in the document under their own names (JobSpec, Job, ...).
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => (typeof json.$id === 'string' ? json.$id : `schema${index}`) },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Caviar',
        version: '1',
        description: 'Training service for fully-connected neural networks',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: '/', description: 'the server that serves this document' }],
      tags: TAGS,
      components: {
        securitySchemes: {
          [SECURITY_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            description: 'The CAVIAR_TOKEN the server was started with, as `Authorization: Bearer <token>`; a server started without one asks for none.',
          },
        },
      },
    },
    transform: documentRoute(subprotocols),
    transformObject: (document) => ('openapiObject' in document ? (as2020(document.openapiObject) as typeof document.openapiObject) : document.swaggerObject),
  };
}
