// A small HTTP proxy in front of a test server (plain http on 127.0.0.1, which the plugin accepts for
// this machine only), whose behaviour a test switches: pass everything, hold requests that match a
// rule without ever answering (a server that hangs after the first steps), or answer with a status.
import * as http from 'node:http';

export type Rule = (req: http.IncomingMessage) => 'pass' | 'hold' | number | { status: number; body?: string; headers?: Record<string, string> };

export interface Proxy {
  /** The proxy's address for a path of the target (same path, the proxy's host). */
  url: string;
  rule: Rule;
  /** Milliseconds every passed request waits before it is forwarded (a server across the internet). */
  delayMs?: number;
  /** Every request seen: method and path. */
  seen: string[];
  close(): Promise<void>;
}

export async function startProxy(target: string, rule: Rule = () => 'pass'): Promise<Proxy> {
  const t = new URL(target);
  const held = new Set<http.ServerResponse>();
  const p: Proxy = { url: '', rule, seen: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    p.seen.push(`${req.method} ${req.url}`);
    const what = p.rule(req);
    if (what === 'hold') {
      held.add(res);
      req.resume();
      res.on('close', () => held.delete(res));
      return;
    }
    if (typeof what === 'object') {
      req.resume();
      res.writeHead(what.status, { ...(what.body ? { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(what.body)) } : {}), ...what.headers });
      res.end(what.body);
      return;
    }
    if (typeof what === 'number') {
      req.resume();
      res.writeHead(what, what === 503 ? { 'retry-after': '120' } : {});
      res.end();
      return;
    }
    const forward = () => {
      const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => {
        res.destroy();
      });
      req.pipe(up);
    };
    if (p.delayMs) {
      req.pause();
      setTimeout(forward, p.delayMs);
    } else forward();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  p.url = `http://127.0.0.1:${port}${t.pathname}`;
  p.close = () =>
    new Promise<void>((r) => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      server.close(() => r());
    });
  return p;
}
