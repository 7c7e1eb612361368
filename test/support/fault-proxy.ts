// A TCP proxy in front of a test server (test/support/servers.ts) for the reliability campaign's
// server schedules: one per PC, so that a fault can hit one PC's connection. It passes HTTP/1.1
// through unchanged and reads just enough of the requests going up (request line, Content-Length)
// to know where a PUT's body begins and ends. On demand it
//   * slows the connection: every chunk, both ways, waits `delayMs` (order kept);
//   * tears uploads: the next PUT is sent up with only part of its body, then the connection is cut
//     both ways (a server that keeps the bytes that arrived — rclone, s3rver — now holds a torn file;
//     the PC sees its request fail);
//   * loses answers: the next PUT goes up whole, the server's answer never reaches the PC (the
//     connection is cut when the answer begins).
// No jest globals: the campaign's plain scripts import it.
import * as net from 'node:net';

export interface ProxyEvent {
  readonly kind: 'torn' | 'lost-answer';
  /** The request's path (the store path is its tail). */
  readonly path: string;
  /** Body bytes sent up before the cut (torn), or the whole body (lost answer). */
  readonly sent: number;
  readonly length: number;
}

export interface FaultProxyOptions {
  /** Which PUTs a tear or a lost answer may hit (default: all). */
  readonly target?: (path: string) => boolean;
  /** Where in the body a tear cuts, as a fraction in [0, 1) (default Math.random). */
  readonly random?: () => number;
  readonly onEvent?: (e: ProxyEvent) => void;
}

export class FaultProxy {
  /** Every chunk waits this long, both ways (0: passed at once). */
  delayMs = 0;
  protected tears = 0;
  protected losses = 0;
  protected readonly sockets = new Set<net.Socket>();
  protected server?: net.Server;
  port = 0;

  constructor(
    protected readonly upstreamPort: number,
    protected readonly opts: FaultProxyOptions = {},
  ) {}

  async start(): Promise<this> {
    const server = net.createServer((client) => this.connection(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  /** Tears the next `n` PUTs the target filter lets through. */
  tear(n: number): void {
    this.tears += n;
  }

  /** Loses the answers to the next `n` PUTs the target filter lets through. */
  loseAnswers(n: number): void {
    this.losses += n;
  }

  /** Back to passing everything at once. */
  clear(): void {
    this.delayMs = 0;
    this.tears = 0;
    this.losses = 0;
  }

  get armed(): boolean {
    return this.tears > 0 || this.losses > 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  protected connection(client: net.Socket): void {
    const up = net.connect(this.upstreamPort, '127.0.0.1');
    this.sockets.add(client);
    this.sockets.add(up);
    let dead = false;
    const cut = () => {
      if (dead) return;
      dead = true;
      client.destroy();
      up.destroy();
      this.sockets.delete(client);
      this.sockets.delete(up);
    };
    client.on('error', cut);
    up.on('error', cut);
    client.on('close', cut);
    up.on('close', cut);
    client.setNoDelay(true);
    up.setNoDelay(true);
    // each direction keeps its order when delayed
    let toUp = Promise.resolve();
    let toClient = Promise.resolve();
    const later = (chain: Promise<void>, f: () => void): Promise<void> =>
      chain.then(() => (this.delayMs > 0 ? new Promise<void>((r) => setTimeout(r, this.delayMs)) : undefined)).then(() => {
        if (!dead) f();
      });
    const sendUp = (b: Buffer, end = false) => {
      toUp = later(toUp, () => (end ? up.end(b) : up.write(b)));
    };
    // the requests going up: head, then `body` bytes; `opaque` after anything not understood (passed as is)
    let head = Buffer.alloc(0);
    let body = 0;
    let opaque = false;
    let current: { path: string; length: number; sent: number; tearAt?: number; loseAnswer: boolean } | undefined;
    let dropAnswer = false;
    client.on('data', (chunk: Buffer) => {
      let rest = chunk;
      while (rest.length > 0 && !dead) {
        if (opaque) return sendUp(rest);
        if (body > 0) {
          const take = Math.min(body, rest.length);
          const part = rest.subarray(0, take);
          rest = rest.subarray(take);
          if (current?.tearAt !== undefined && current.sent + take > current.tearAt) {
            // the cut: what arrived so far goes up, then the connection ends both ways
            const keep = current.tearAt - current.sent;
            const ev: ProxyEvent = { kind: 'torn', path: current.path, sent: current.tearAt, length: current.length };
            sendUp(part.subarray(0, keep), true);
            toUp = toUp.then(() => new Promise<void>((r) => setTimeout(r, 50))).then(() => cut());
            this.opts.onEvent?.(ev);
            return;
          }
          body -= take;
          if (current) current.sent += take;
          sendUp(part);
          if (body === 0 && current?.loseAnswer) dropAnswer = true;
          continue;
        }
        head = Buffer.concat([head, rest]);
        rest = Buffer.alloc(0);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > 64 << 10) {
            opaque = true;
            sendUp(head);
          }
          return;
        }
        const text = head.subarray(0, end).toString('latin1');
        const after = head.subarray(end + 4);
        const headBytes = head.subarray(0, end + 4);
        head = Buffer.alloc(0);
        const [method = '', target = ''] = text.split('\r\n')[0]!.split(' ');
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(text);
        if (/\r\ntransfer-encoding:/i.test(text) || (!cl && /^(PUT|POST)$/.test(method))) opaque = true;
        body = cl ? Number(cl[1]) : 0;
        current = undefined;
        if (method === 'PUT' && body > 0 && (this.opts.target?.(target) ?? true)) {
          if (this.tears > 0) {
            this.tears--;
            current = { path: target, length: body, sent: 0, tearAt: Math.floor((this.opts.random ?? Math.random)() * body), loseAnswer: false };
          } else if (this.losses > 0) {
            this.losses--;
            current = { path: target, length: body, sent: 0, loseAnswer: true };
          }
        }
        sendUp(headBytes);
        if (current?.tearAt === 0) {
          this.opts.onEvent?.({ kind: 'torn', path: current.path, sent: 0, length: current.length });
          toUp = toUp.then(() => up.end()).then(() => new Promise<void>((r) => setTimeout(r, 50))).then(() => cut());
          return;
        }
        rest = after;
      }
    });
    client.on('end', () => (toUp = later(toUp, () => up.end())));
    up.on('data', (chunk: Buffer) => {
      if (dropAnswer && current?.loseAnswer) {
        // the server answered the PUT (so it has the file); the PC never hears it
        this.opts.onEvent?.({ kind: 'lost-answer', path: current.path, sent: current.sent, length: current.length });
        cut();
        return;
      }
      toClient = later(toClient, () => client.write(chunk));
    });
    up.on('end', () => (toClient = later(toClient, () => client.end())));
  }
}
