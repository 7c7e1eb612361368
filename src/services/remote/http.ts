// One HTTP request to a storage server, as every remote medium makes it: a time limit on the whole
// exchange, a bounded response body, bounded retries with back-off for what a server says is passing
// (423 Locked, 429, 502–504, `Retry-After`) and for dropped connections. Nothing here ever puts a login
// or a full address into an error text: errors name the method, the status or the network code only.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { MediumError } from '../store/medium';

export interface HttpOptions {
  /** The longest a request may take, all its attempts and the pauses between them (default 15 s). */
  readonly timeoutMs?: number;
  /** Attempts in all for a passing failure (default 4). */
  readonly attempts?: number;
  /** The longest wait between attempts, also when a server asks for more with Retry-After (default 8 s). */
  readonly maxBackoffMs?: number;
  /** Extra certificate authorities (PEM) besides the system's and NODE_EXTRA_CA_CERTS. */
  readonly ca?: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface HttpRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array;
  /** A larger response body fails with EFBIG (the request is aborted: never loaded). */
  readonly maxBytes?: number;
}

/** Statuses a server uses for "not now": tried again after a pause. */
const PASSING = new Set([423, 429, 502, 503, 504]);
/**
 * Network errors worth one more attempt (the connection dropped; a server restarting). Not a time-out:
 * a server that hung for the whole limit is not asked again in this round (a frozen server would
 * otherwise hold a round, and a closing store, for attempts × the limit).
 */
const RETRY_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

export class HttpClient {
  protected readonly agent: http.Agent;
  protected readonly tlsAgent: https.Agent;

  constructor(protected readonly opts: HttpOptions = {}) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.tlsAgent = new https.Agent({ keepAlive: true, maxSockets: 4, ...(opts.ca ? { ca: caBundle(opts.ca) } : {}) });
  }

  /**
   * Sends the request, retrying passing failures; resolves with any final status (the caller decides
   * what 404 or 412 means), rejects with a coded error for the network or a body over the bound.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const attempts = this.opts.attempts ?? 4;
    const limit = this.opts.timeoutMs ?? 15_000;
    // The time limit covers the whole request, pauses between attempts included: a server in
    // maintenance (503, Retry-After) holds a round, or a closing program, no longer than a frozen one.
    const deadline = Date.now() + limit;
    let wait = 250;
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse | undefined;
      let failure: unknown;
      try {
        res = await this.once(req, Math.max(1, Math.min(limit, deadline - Date.now())));
        if (!PASSING.has(res.status)) return res;
      } catch (e) {
        if (!RETRY_CODES.has((e as { code?: string }).code ?? '')) throw e;
        failure = e;
      }
      const asked = res ? retryAfterMs(res.headers['retry-after']) : undefined;
      const pause = Math.min(asked ?? wait, this.opts.maxBackoffMs ?? 8000);
      // no attempt left, no time left for the pause and an attempt after it, or the program is closing
      if (attempt >= attempts || Date.now() + pause >= deadline || this.interrupted) {
        if (res) return res;
        throw failure;
      }
      await this.pause(pause);
      wait *= 2;
    }
  }

  protected interrupted = false;
  protected readonly wakers = new Set<() => void>();

  /** The program is closing: pauses between attempts end now and no further attempt is made (a request under way finishes). */
  interrupt(): void {
    this.interrupted = true;
    for (const wake of this.wakers) wake();
    this.wakers.clear();
  }

  protected pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  protected once(req: HttpRequest, timeoutMs: number): Promise<HttpResponse> {
    const tls = req.url.protocol === 'https:';
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        r.destroy();
        reject(e);
      };
      const timer = setTimeout(() => fail(new MediumError(`${req.method}: no answer within ${Math.round(timeoutMs / 1000)} s`, 'ETIMEDOUT')), timeoutMs);
      const r = (tls ? https : http).request(
        req.url,
        {
          method: req.method,
          agent: tls ? this.tlsAgent : this.agent,
          headers: { ...(req.headers ?? {}), ...(req.body ? { 'content-length': String(req.body.byteLength) } : {}) },
        },
        (res) => {
          const declared = Number(res.headers['content-length'] ?? NaN);
          if (req.maxBytes !== undefined && declared > req.maxBytes && (res.statusCode ?? 0) < 300) {
            fail(new MediumError(`${req.method}: the file is too large`, 'EFBIG', declared));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (req.maxBytes !== undefined && size > req.maxBytes) fail(new MediumError(`${req.method}: the file is too large`, 'EFBIG', size));
            else chunks.push(c);
          });
          res.on('error', (e) => fail(coded(e, req.method)));
          res.on('aborted', () => fail(new MediumError(`${req.method}: the connection was cut`, 'ECONNRESET')));
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          });
        },
      );
      r.on('error', (e) => fail(coded(e, req.method)));
      r.end(req.body ? Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength) : undefined);
    });
  }

  close(): void {
    this.interrupt();
    this.agent.destroy();
    this.tlsAgent.destroy();
  }
}

/** A network error with its code kept and its message stripped of addresses (a URL may hold a login). */
function coded(e: Error, method: string): MediumError {
  const code = (e as { code?: string }).code ?? 'EIO';
  return new MediumError(`${method}: ${code}`, code);
}

/** `Retry-After` in seconds or as a date; undefined when absent or unreadable. */
export function retryAfterMs(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  if (/^\d+$/.test(s.trim())) return Number(s.trim()) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The system's roots, NODE_EXTRA_CA_CERTS and `ca`: giving an agent `ca` replaces the defaults, so they are added back. */
export function caBundle(ca: string): string[] {
  return [...tlsRootCertificates(), ca];
}

function tlsRootCertificates(): string[] {
  // the system's roots plus NODE_EXTRA_CA_CERTS are the default; giving `ca` replaces them, so they are added back
  return [...tls.rootCertificates, ...extraCaCerts()];
}

function extraCaCerts(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [fs.readFileSync(file, 'utf8')];
  } catch {
    return [];
  }
}
