// Control across hosts: cancel, pause, a sweep's stop and a new learning rate for a job that
// runs on another host go out on one Redis channel that every worker host listens to; the
// host running the job applies it, the others ignore it. Jobs that wait change in the
// store directly, from any API server.
import { Redis } from 'ioredis';
import { redisOptions, type QueueSettings } from './queue.js';
import type { Cluster, ControlMessage } from './scheduler.js';

const ACTIONS: ReadonlySet<string> = new Set(['cancel', 'pause', 'stop', 'learningRate']);

function parse(text: string): ControlMessage | undefined {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null) return undefined;
  const { jobId, action, learningRate, change } = message as Record<string, unknown>;
  if (typeof jobId !== 'string' || typeof action !== 'string' || !ACTIONS.has(action)) return undefined;
  if (action === 'learningRate')
    return typeof learningRate === 'number' && typeof change === 'number' && Number.isSafeInteger(change)
      ? { jobId, action, learningRate, change }
      : undefined;
  return { jobId, action: action as 'cancel' | 'pause' | 'stop' };
}

/** Sends control requests (from API servers) and, where a host trains, receives them. */
export class ControlChannel implements Cluster {
  private readonly publisher: Redis;
  private subscriber: Redis | undefined;
  private readonly channel: string;

  constructor(
    private readonly settings: QueueSettings,
    private readonly log: { error(object: object, message: string): void; warn(object: object, message: string): void },
  ) {
    this.channel = `${settings.prefix}:control`;
    // A request while Redis is down fails at once: the API answers 500 instead of hanging.
    this.publisher = new Redis({ ...redisOptions(settings.redisUrl), enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.publisher.on('error', (error) => log.error({ err: error }, 'control channel connection error'));
  }

  async control(message: ControlMessage): Promise<void> {
    const hosts = await this.publisher.publish(this.channel, JSON.stringify(message));
    // No subscriber at all: no worker host is connected, so no host runs the job now.
    if (hosts === 0) this.log.warn({ message }, 'a control request reached no worker host');
  }

  /** Hands each request to `apply`; resolves once subscribed. A subscription lost with Redis is renewed when it returns. */
  async listen(apply: (message: ControlMessage) => void): Promise<void> {
    const subscriber = new Redis({ ...redisOptions(this.settings.redisUrl), maxRetriesPerRequest: null });
    this.subscriber = subscriber;
    subscriber.on('error', (error) => this.log.error({ err: error }, 'control subscription error'));
    subscriber.on('message', (_channel: string, text: string) => {
      const message = parse(text);
      if (message === undefined) this.log.warn({ text }, 'a control request that is not one was ignored');
      else apply(message);
    });
    await subscriber.subscribe(this.channel);
  }

  async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber?.disconnect();
  }
}
