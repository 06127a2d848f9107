// Websockets of events: one job's (the stored history after ?since=, then live events,
// closing with 1000 after the last) and every job's live events. Clients that fall more
// than MAX_BUFFERED_BYTES behind are closed with 1013, to come back with since=.
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { WebSocket } from 'ws';
import { eventText, isFinal, JobEventSchema, keptOn } from '../../jobs/index.js';
import { ErrorSchema, notFound } from '../errors.js';
import { EventsQuery, IdParams } from '../schemas.js';
import type { Services } from '../context.js';

export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Close codes (RFC 6455): normal, going away, try again later. */
export const CLOSE_DONE = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TOO_SLOW = 1013;
const REPLAY_PAGE = 500;

/** Every open event socket, for pings, metrics and shutdown. */
export class SocketRegistry {
  readonly sockets = new Set<WebSocket>();
  private readonly alive = new WeakSet<WebSocket>();
  private timer: NodeJS.Timeout | undefined;
  /** Set by closeAll: how a socket is closed once the server is stopping. */
  private closing: ((socket: WebSocket) => Promise<void>) | undefined;

  add(socket: WebSocket): void {
    if (this.closing !== undefined) {
      void this.closing(socket);
      return;
    }
    this.sockets.add(socket);
    this.alive.add(socket);
    socket.on('pong', () => this.alive.add(socket));
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** Pings every socket each `intervalMs`; one that did not answer the last ping is dropped. */
  startPings(intervalMs: number): void {
    this.timer = setInterval(() => {
      for (const socket of this.sockets) {
        if (!this.alive.has(socket)) {
          socket.terminate();
          continue;
        }
        this.alive.delete(socket);
        socket.ping();
      }
    }, intervalMs);
    this.timer.unref();
  }

  /**
   * Closes every socket, and any that opens meanwhile. A client that does not read never
   * answers the close frame (ws would wait 30 s for it), and the server cannot stop while
   * its socket is open: one that has not closed after `graceMs` is cut off. Resolves once
   * all are closed.
   */
  async closeAll(code: number, reason: string, graceMs: number): Promise<void> {
    clearInterval(this.timer);
    this.closing = (socket) =>
      new Promise((resolve) => {
        const cutOff = setTimeout(() => socket.terminate(), graceMs);
        socket.once('close', () => {
          clearTimeout(cutOff);
          resolve();
        });
        socket.close(code, reason);
      });
    await Promise.all([...this.sockets].map(this.closing));
  }
}

// The hub hands one event object to every subscriber: it is serialized (by the store, as
// it kept it) and encoded once, not once per socket, which is most of the cost of fanning it
// out to hundreds of them.
const BYTES = Symbol('eventBytes');

const encode = (event: object): Buffer => keptOn(event, BYTES, () => Buffer.from(eventText(event)));

// A hand-over of epochs publishes up to a thousand events in one turn of the event loop, and
// ws writes each frame to its socket at once: a system call an event, most of the cost of a
// tiny network's epoch. The socket is corked for the rest of the turn instead, so that the
// turn's frames leave in one write. What was sent in this turn waits in the cork, not for the
// client, so it does not count against the client's backlog. (ws has no cork of its own:
// `_socket` is the net.Socket it writes to.)
const sentThisTurn = new Map<Socket, number>();

function corkedSocket(socket: WebSocket): Socket {
  const raw = (socket as unknown as { _socket: Socket })._socket;
  if (!sentThisTurn.has(raw)) {
    raw.cork();
    sentThisTurn.set(raw, 0);
    process.nextTick(() => {
      sentThisTurn.delete(raw);
      raw.uncork();
    });
  }
  return raw;
}

/** Sends an event unless the client is too far behind, in which case it is closed with `reason`. */
export function sendBounded(socket: WebSocket, event: object, reason: () => string): boolean {
  if (socket.readyState !== socket.OPEN) return false;
  const raw = corkedSocket(socket);
  const sent = sentThisTurn.get(raw) as number;
  if (socket.bufferedAmount - sent > MAX_BUFFERED_BYTES) {
    socket.close(CLOSE_TOO_SLOW, reason());
    return false;
  }
  const bytes = encode(event);
  sentThisTurn.set(raw, sent + bytes.length);
  socket.send(bytes, { binary: false });
  return true;
}

// Replay pages take turns, one page per turn of the event loop however many sockets replay,
// so the server reads its other requests between any two pages. (A setImmediate of each
// replay's own would run a page of every replay in one turn: seconds, with 200 of them.)
const replayQueue: (() => void)[] = [];

function replayTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (replayQueue.push(resolve) === 1) setImmediate(nextReplayTurn);
  });
}

function nextReplayTurn(): void {
  replayQueue.shift()?.();
  if (replayQueue.length > 0) setImmediate(nextReplayTurn);
}

export interface History<Event extends { seq: number }> {
  /** Send the events with seq > since. */
  since: number;
  read(after: number, limit: number): Promise<Event[]>;
  subscribe(listener: (event: Event) => void): () => void;
  /** The event after which the socket closes with 1000. */
  isLast(event: Event): boolean;
  lastReason: string;
  /** The seq of the last event once the history has ended (undefined while it may grow): a
   * client that has it already is closed after the replay rather than left waiting. */
  finalSeq?(): Promise<number | undefined>;
}

/**
 * Sends a stored history after `since`, then live events, in seq order with none twice:
 * it listens before it reads, holds what arrives during the replay, and skips seqs sent.
 */
export function followHistory<Event extends { seq: number }>(socket: WebSocket, log: FastifyBaseLogger, history: History<Event>): void {
  let last = history.since;
  let replaying = true;
  let held: Event[] = [];
  const deliver = (event: Event) => {
    if (event.seq <= last || !sendBounded(socket, event, () => `too far behind: reconnect with since=${last}`)) return;
    last = event.seq;
    if (history.isLast(event)) socket.close(CLOSE_DONE, history.lastReason);
  };
  const unsubscribe = history.subscribe((event) => (replaying ? held.push(event) : deliver(event)));
  socket.on('close', unsubscribe);
  socket.on('error', (error) => log.warn({ err: error }, 'event socket error'));
  const replay = async () => {
    for (;;) {
      await replayTurn();
      if (socket.readyState !== socket.OPEN) break;
      const page = await history.read(last, REPLAY_PAGE);
      for (const event of page) deliver(event);
      if (page.length < REPLAY_PAGE || socket.readyState !== socket.OPEN) break;
    }
    replaying = false;
    for (const event of held) deliver(event);
    held = [];
    const final = await history.finalSeq?.();
    if (final !== undefined && last >= final && socket.readyState === socket.OPEN) socket.close(CLOSE_DONE, history.lastReason);
  };
  replay().catch((error: unknown) => {
    log.error({ err: error }, 'event replay failed');
    socket.close(1011, 'internal error');
  });
}

export const eventRoutes: FastifyPluginAsync<Services & { sockets: SocketRegistry }> = async (plain, { store, hub, sockets }) => {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/v1/jobs/:id/events',
    {
      websocket: true,
      schema: {
        summary: "a job's events (websocket): the history after since, then live ones",
        operationId: 'followJobEvents',
        tags: ['jobs'],
        params: IdParams,
        querystring: EventsQuery,
        response: { 101: JobEventSchema, 404: ErrorSchema },
      },
      // Refused with a plain HTTP 404 before the upgrade.
      preValidation: async (request) => {
        const { id } = request.params as { id: string };
        if ((await store.getJob(id)) === undefined) throw notFound('job', id);
      },
    },
    (socket, request) => {
      const { id } = request.params;
      sockets.add(socket);
      followHistory(socket, request.log, {
        since: request.query.since,
        read: (after, limit) => store.eventsAfter(id, after, limit),
        subscribe: (listener) => hub.subscribe(id, listener),
        isLast: (event) => event.type === 'done',
        lastReason: 'job finished',
        finalSeq: async () => {
          const job = await store.getJob(id);
          // A job that has ended has its done event as its last.
          return job !== undefined && isFinal(job.status) ? job.lastSeq : undefined;
        },
      });
    },
  );

  app.get(
    '/v1/events',
    {
      websocket: true,
      schema: { summary: "every job's events as they happen (websocket)", operationId: 'followEvents', tags: ['jobs'], response: { 101: JobEventSchema } },
    },
    (socket, request) => {
      sockets.add(socket);
      const unsubscribe = hub.subscribe('*', (event) => void sendBounded(socket, event, () => 'too far behind: reconnect, and replay jobs with since='));
      socket.on('close', unsubscribe);
      socket.on('error', (error) => request.log.warn({ err: error }, 'event socket error'));
    },
  );
};
