// A closed-loop load generator on node:http with keep-alive sockets: `concurrency` workers, each
// sending its next request as soon as the previous answer has fully arrived. Latency is measured
// from just before the request is written to the end of the response body, i.e. what the caller
// (Slack, Teams) waits for; building and signing the request happens before the clock starts.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface OutgoingRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface Answer {
  status: number;
  body: string;
  ms: number;
}

export interface LoadResult {
  latenciesMs: number[];
  /** How many answers had each status (a non-2xx answer still counts in the latencies). */
  statuses: Record<string, number>;
  /** Connection failures (no answer at all). */
  errors: number;
  wallMs: number;
}

export class HttpTarget {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string, maxSockets: number) {
    const u = new URL(baseUrl);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  send(req: OutgoingRequest, timeoutMs = 30_000): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const r = http.request(
        { host: this.host, port: this.port, path: req.path, method: 'POST', agent: this.agent, headers: { ...req.headers, 'content-length': String(Buffer.byteLength(req.body)) }, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
          res.on('error', reject);
        },
      );
      r.on('timeout', () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      r.on('error', reject);
      r.end(req.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Send `count` requests with `concurrency` in flight; `make(i)` builds request i just before it goes. */
export async function closedLoop(
  target: HttpTarget,
  opts: { count: number; concurrency: number; make: (i: number) => OutgoingRequest; onAnswer?: (i: number, answer: Answer) => void },
): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < opts.count) {
      const i = next++;
      const req = opts.make(i);
      try {
        const answer = await target.send(req);
        latenciesMs.push(answer.ms);
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        opts.onAnswer?.(i, answer);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.count) }, worker));
  return { latenciesMs, statuses, errors, wallMs: performance.now() - started };
}
