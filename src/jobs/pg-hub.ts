// The event hub of an API server past one machine: the events this process commits go to
// its listeners at once, as on one machine; those that other processes commit (a worker
// host's epochs, another API server's changes) arrive as PostgreSQL notices, after their
// commit, and are read from the store. Each job's and sweep's events reach the listeners
// in seq order and once each; a poll every few seconds is the safety net for a lost notice.
import { EventHub } from './hub.js';
import type { JobEvent } from './events.js';
import type { PostgresStore, StoreChange } from './postgres-store.js';
import type { SweepEvent } from './sweep-spec.js';

/** Events read from the store at a time. */
const PAGE = 500;
/** Jobs and sweeps whose last seq the hub remembers; the oldest are forgotten past it. */
const REMEMBERED = 100_000;

type Kind = StoreChange['kind'];
type AnyEvent = JobEvent | SweepEvent;

/** What the hub has sent of one job's or sweep's events. */
interface Sent {
  kind: Kind;
  id: string;
  /** The last seq sent; -1 before the first. */
  last: number;
  /** It has ended (its done event was sent): the poll leaves it alone. */
  ended: boolean;
  /** Deliveries of this key run one after another. */
  busy?: Promise<void>;
}

export interface PgHubOptions {
  pollMs: number;
  log: { error(object: object, message: string): void; warn(object: object, message: string): void };
  /** Told of each event this process commits, before its listeners. */
  onCommitted?: (event: JobEvent) => void;
}

export class PgHub extends EventHub {
  private readonly sent = new Map<string, Sent>();
  private stopListening: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  private constructor(
    private readonly store: PostgresStore,
    private readonly options: PgHubOptions,
  ) {
    super();
  }

  /** Listens to the store's notices; resolves once listening. */
  static async open(store: PostgresStore, options: PgHubOptions): Promise<PgHub> {
    const hub = new PgHub(store, options);
    hub.stopListening = await store.listen(
      (change) => hub.offer(change.kind, change.id, change.seq),
      () => void hub.poll(),
      (error) => options.log.warn({ err: error }, 'the event notices connection failed; listening again'),
    );
    const tick = () => {
      hub.timer = setTimeout(() => void hub.poll().finally(tick), options.pollMs);
      hub.timer.unref();
    };
    tick();
    return hub;
  }

  /** An event this process committed. */
  override publish(event: JobEvent): void {
    this.options.onCommitted?.(event);
    this.offer('job', event.jobId, event.seq, event);
  }

  override publishSweep(event: SweepEvent): void {
    this.offer('sweep', event.sweepId, event.seq, event);
  }

  private state(kind: Kind, id: string): Sent {
    const key = `${kind}:${id}`;
    let sent = this.sent.get(key);
    if (sent === undefined) {
      sent = { kind, id, last: -1, ended: false };
      this.sent.set(key, sent);
      if (this.sent.size > REMEMBERED) this.forget();
    }
    return sent;
  }

  /** Forgets the oldest tenth of what it remembers, ended ones first. */
  private forget(): void {
    let drop = Math.floor(REMEMBERED / 10);
    for (const pass of [true, false])
      for (const [key, sent] of this.sent) {
        if (drop === 0) return;
        if (sent.busy !== undefined || (pass && !sent.ended)) continue;
        this.sent.delete(key);
        drop -= 1;
      }
  }

  /**
   * An event of seq `seq` exists (with the event itself when this process committed it):
   * sends what the listeners have not had, reading it from the store when it was committed
   * elsewhere or when an earlier one is missing.
   */
  private offer(kind: Kind, id: string, seq: number, event?: AnyEvent): void {
    const sent = this.state(kind, id);
    if (sent.busy === undefined && this.sendIfNext(sent, seq, event)) return;
    const step = async () => {
      if (this.sendIfNext(sent, seq, event)) return;
      // Known from a notice alone: its event is the one at seq (nothing before it is owed).
      await this.catchUp(sent, sent.last < 0 ? seq - 1 : sent.last);
    };
    const next = (sent.busy ?? Promise.resolve()).then(step).catch((error: unknown) => this.options.log.error({ err: error, [kind]: id }, 'could not read events to send'));
    sent.busy = next;
    void next.then(() => {
      if (sent.busy === next) sent.busy = undefined;
    });
  }

  /** Sends `event` when it is the next one (or there was none before it here); true when nothing more is owed up to `seq`. */
  private sendIfNext(sent: Sent, seq: number, event: AnyEvent | undefined): boolean {
    if (seq <= sent.last) return true;
    if (event === undefined || (sent.last >= 0 && seq !== sent.last + 1)) return false;
    this.send(sent, event);
    return true;
  }

  private send(sent: Sent, event: AnyEvent): void {
    sent.last = event.seq;
    if (event.type === 'done') sent.ended = true;
    if (sent.kind === 'job') super.publish(event as JobEvent);
    else super.publishSweep(event as SweepEvent);
  }

  private async catchUp(sent: Sent, after: number): Promise<void> {
    let from = after;
    for (;;) {
      const page: AnyEvent[] =
        sent.kind === 'job' ? await this.store.eventsAfter(sent.id, from, PAGE) : await this.store.sweepEventsAfter(sent.id, from, PAGE);
      for (const event of page) if (event.seq > sent.last) this.send(sent, event);
      if (page.length < PAGE) return;
      from = sent.last;
    }
  }

  /**
   * Reads what lost notices would have said, for every job and sweep that has sent an event
   * here and not ended: one whose first notice here was lost is not seen before its next.
   */
  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const kind of ['job', 'sweep'] as const) {
        const ids: string[] = [];
        for (const sent of this.sent.values()) if (sent.kind === kind && !sent.ended && sent.last >= 0) ids.push(sent.id);
        if (ids.length === 0) continue;
        for (const [id, seq] of await this.store.lastSeqs(kind, ids)) {
          const sent = this.sent.get(`${kind}:${id}`);
          if (sent !== undefined && seq > sent.last) this.offer(kind, id, seq);
        }
      }
    } catch (error) {
      this.options.log.warn({ err: error }, 'could not poll for events');
    } finally {
      this.polling = false;
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.stopListening?.();
  }
}
