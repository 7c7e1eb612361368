// A reverse proxy (node:http) in front of a test server: counts requests and bytes, and injects the
// faults no local server shows (a status instead of the server's answer, a slow first byte, a body cut
// short). Everything not faulted is forwarded as it came, headers included (s3rver does not check
// signatures, so a request signed for the proxy's address passes).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

export type Fault =
  /** Answered by the proxy without asking the server. */
  | { readonly kind: 'status'; readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  /** Forwarded; the answer's head is held back this long (a slow first byte). */
  | { readonly kind: 'delay'; readonly ms: number }
  /**
   * Forwarded; only the first `bytes` of the answer's body are passed on. `cut`: the declared length is
   * kept and the connection dropped (the client can tell); `short`: sent chunked and ended cleanly
   * (nothing at the HTTP level tells — only the content's hash).
   */
  | { readonly kind: 'truncate'; readonly bytes: number; readonly how: 'cut' | 'short' };

export interface Counts {
  requests: number;
  /** Request line, headers and body as sent to the server. */
  bytesUp: number;
  /** Status line, headers and body as returned to the client. */
  bytesDown: number;
  readonly byMethod: Record<string, number>;
}

export class HttpProxy {
  counts: Counts = fresh();
  /** Every request, in order (method and path), since the last reset. */
  seen: ProxiedRequest[] = [];
  /** Decides, per request, whether a fault replaces the normal forwarding. */
  fault: ((r: ProxiedRequest) => Fault | undefined) | undefined;
  protected server!: http.Server;
  protected readonly agent = new http.Agent({ keepAlive: true });
  url = '';

  protected constructor(protected readonly target: URL) {}

  /** A proxy on 127.0.0.1 (a free port) for `target` (`http://127.0.0.1:port/…`); `url` keeps target's path. */
  static async start(target: string): Promise<HttpProxy> {
    const p = new HttpProxy(new URL(target));
    p.server = http.createServer((req, res) => void p.handle(req, res));
    p.server.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
    const port = (p.server.address() as AddressInfo).port;
    const u = new URL(target);
    u.host = `127.0.0.1:${port}`;
    p.url = u.toString().replace(/\/$/, target.endsWith('/') ? '/' : '');
    return p;
  }

  reset(): void {
    this.counts = fresh();
    this.seen = [];
  }

  protected async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const r: ProxiedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    this.seen.push(r);
    this.counts.requests++;
    this.counts.byMethod[r.method] = (this.counts.byMethod[r.method] ?? 0) + 1;
    this.counts.bytesUp += `${r.method} ${r.url} HTTP/1.1\r\n`.length + rawSize(req.rawHeaders) + body.length;
    const fault = this.fault?.(r);
    if (fault?.kind === 'status') {
      const text = Buffer.from(fault.body ?? '');
      const headers = { 'content-length': String(text.length), ...(fault.headers ?? {}) };
      res.writeHead(fault.status, headers);
      res.end(text);
      this.counts.bytesDown += 20 + Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0) + text.length;
      return;
    }
    const up = http.request(
      { host: this.target.hostname, port: this.target.port, method: r.method, path: r.url, headers: req.headers, agent: this.agent },
      (answer) => {
        void (async () => {
          const parts: Buffer[] = [];
          for await (const c of answer) parts.push(c as Buffer);
          let out = Buffer.concat(parts);
          if (fault?.kind === 'delay') {
            await new Promise((d) => setTimeout(d, fault.ms));
            if (res.destroyed || req.socket.destroyed) return; // the client gave up meanwhile
          }
          const headers = { ...answer.headers };
          delete headers['transfer-encoding'];
          delete headers['connection'];
          delete headers['keep-alive'];
          if (fault?.kind === 'truncate' && out.length > fault.bytes) {
            if (fault.how === 'cut') {
              headers['content-length'] = String(out.length);
              res.writeHead(answer.statusCode ?? 502, headers);
              res.write(out.subarray(0, fault.bytes), () => res.socket?.destroy());
              this.counts.bytesDown += fault.bytes;
              return;
            }
            delete headers['content-length'];
            out = out.subarray(0, fault.bytes);
          } else headers['content-length'] = String(out.length);
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(out);
          this.counts.bytesDown += `HTTP/1.1 ${answer.statusCode} \r\n`.length + rawSize(answer.rawHeaders) + out.length;
        })().catch(() => res.destroy());
      },
    );
    up.on('error', () => res.destroy());
    up.end(body);
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function fresh(): Counts {
  return { requests: 0, bytesUp: 0, bytesDown: 0, byMethod: {} };
}

function rawSize(raw: string[]): number {
  let n = 2;
  for (let i = 0; i + 1 < raw.length; i += 2) n += raw[i]!.length + raw[i + 1]!.length + 4;
  return n;
}
