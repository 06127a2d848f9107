// The part of autocannon's programmatic API that bench/service.ts and bench/concurrency.ts
// use (the package ships no types).
declare module 'autocannon' {
  namespace autocannon {
    interface Options {
      url: string;
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      pipelining?: number;
      /** Requests a second over all connections, instead of as fast as the server answers. */
      overallRate?: number;
      /** Seconds a request may take before it counts as a timeout. */
      timeout?: number;
      /** The requests each connection sends in turn; onResponse is told of every response. */
      requests?: { onResponse?: (status: number, body: string) => void }[];
    }
    interface Histogram {
      average: number;
      p50: number;
      p90: number;
      p99: number;
      max: number;
    }
    interface Result {
      /** Seconds the run took. */
      duration: number;
      requests: Histogram & { total: number; sent: number };
      latency: Histogram;
      errors: number;
      timeouts: number;
      resets: number;
      non2xx: number;
      statusCodeStats: Record<string, { count: number }>;
    }
  }
  /** The running instance: stop() ends the run early, and the callback gets what it measured. */
  function autocannon(options: autocannon.Options, callback: (error: Error | null, result: autocannon.Result) => void): { stop(): void };
  export default autocannon;
}
