// Sweep leases past one machine: a sweep's controller runs on the one API server that holds
// its lease, a PostgreSQL session advisory lock taken on a connection of its own. The lock
// lives as long as that session: a server that dies (its connection closes) lets it go at
// once, and another server takes the sweep over. A server whose lease connection breaks
// gives up every sweep it held, since another may hold them by the time it is back.
import pg from 'pg';
import type { SweepOwnership } from './sweeps.js';

/** The first key of the two-key advisory locks: the sweeps' own space (the migration lock is a one-key lock). */
const SWEEP_LOCKS = 7233;
/** A lease connection lost is opened again after this long. */
const RECONNECT_MS = 1000;

export class SweepLeases implements SweepOwnership {
  private client: pg.Client | undefined;
  private readonly held = new Set<string>();
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** Told which sweeps this server no longer holds, when its lease connection broke. */
  onLost: (sweepIds: string[]) => void = () => {};

  private constructor(
    private readonly url: string,
    private readonly log: { warn(object: object, message: string): void },
  ) {}

  static async open(url: string, log: { warn(object: object, message: string): void }): Promise<SweepLeases> {
    const leases = new SweepLeases(url, log);
    await leases.connect();
    return leases;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, keepAlive: true });
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      void client.end().catch(() => undefined);
      const sweepIds = [...this.held];
      this.held.clear();
      if (!this.stopped) {
        this.log.warn({ err: error, sweeps: sweepIds }, 'the sweep lease connection broke: its sweeps are given up, to be taken over');
        this.onLost(sweepIds);
        this.timer = setTimeout(() => void this.reconnect(), RECONNECT_MS);
      }
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    this.client = client;
  }

  private async reconnect(): Promise<void> {
    try {
      await this.connect();
    } catch (error) {
      this.log.warn({ err: error }, 'could not open the sweep lease connection; trying again');
      if (!this.stopped) this.timer = setTimeout(() => void this.reconnect(), RECONNECT_MS);
    }
  }

  /** False when another server holds it, or while the lease connection is down. */
  async acquire(sweepId: string): Promise<boolean> {
    if (this.held.has(sweepId)) return true;
    const client = this.client;
    if (client === undefined) return false;
    // Two sweeps whose ids hash alike share a lock: its holder, whose session may take it
    // again, runs both.
    const { rows } = await client.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS taken', [SWEEP_LOCKS, sweepId]);
    if (rows[0]?.taken !== true) return false;
    this.held.add(sweepId);
    return true;
  }

  async release(sweepId: string): Promise<void> {
    if (!this.held.delete(sweepId)) return;
    await this.client?.query('SELECT pg_advisory_unlock($1, hashtext($2))', [SWEEP_LOCKS, sweepId]).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.client?.end().catch(() => undefined);
  }
}
