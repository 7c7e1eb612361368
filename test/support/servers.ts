// Real servers for the tests of the WebDAV and S3 carriers (issue #15): lighttpd + mod_webdav,
// apache2 + mod_dav_fs, `rclone serve webdav` and s3rver, each started on 127.0.0.1 with a free
// port, its own config files and data in a temporary folder, and stopped after. No jest globals
// here: the reliability campaign's and the bench's plain scripts can import it too.
//
// What each server does with the requests the carriers make is written down in docs/SERVERS.md
// ("The servers in the tests") and checked by test/services/servers/servers.spec.ts.
//
// TLS: `tls: true` serves https with a server certificate for 127.0.0.1 (IP SAN) and localhost,
// signed by a test CA made with openssl once per process (`testCa()`). Node reads
// NODE_EXTRA_CA_CERTS only when it starts, so there are two ways to trust it:
//   * a child process: `spawn(process.execPath, [...], { env: { ...process.env, NODE_EXTRA_CA_CERTS: server.caFile } })`
//     — what the product will see on a practice's PC with its own CA;
//   * in this process: give `testCaPem()` to the client directly, `new https.Agent({ ca: testCaPem() })`
//     for node:https, or an undici dispatcher `new Agent({ connect: { ca: testCaPem() } })` for fetch.
// Logins: `auth: true` puts Basic auth in front of everything with user `test` and a password made
// afresh for each server (never printed; the htpasswd file keeps a hash only and is removed by stop()).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TestServer {
  /** Base address of the served folder, ending in `/`, e.g. `http://127.0.0.1:40123/` (with basePath: `…/remote.php/dav/files/test/`). */
  url: string;
  /** The directory on disk that `url` serves (the S3 server: s3rver's own directory, objects are in `<root>/<bucket>/`). */
  root: string;
  /** Set when started with `auth: true`. */
  user?: string;
  password?: string;
  /** Set when started with `tls: true`: the test CA's certificate (PEM file), for NODE_EXTRA_CA_CERTS. */
  caFile?: string;
  /** The server's process group is stopped (SIGSTOP) and continued (SIGCONT): connections are accepted by the kernel, nothing answers. */
  pause(): void;
  resume(): void;
  /** Ends the server's processes; data, port and config are kept for up(). Nothing answers on the port meanwhile. */
  down(): Promise<void>;
  /** Starts it again after down(), on the same port with the same data. */
  up(): Promise<void>;
  /** down() then up(): "the server was restarted". */
  restart(): Promise<void>;
  /** Ends the server for good and removes its temporary folder (data included). Safe to call twice. */
  stop(): Promise<void>;
  /** The last few KB of the server's stdout/stderr and error log, for failure messages. */
  logTail(): string;
  /** `auth: true`: the login gets a new random password (an app password changed on the server) and the server restarts; `password` is the new one. */
  changePassword?(): Promise<void>;
}

export interface S3TestServer extends TestServer {
  /** The endpoint (`http://127.0.0.1:<port>`, no trailing slash, path-style: pass `forcePathStyle: true`). */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface WebDavOptions {
  /** Basic auth in front of everything (user `test`, a fresh random password). */
  auth?: boolean;
  /** https with the test CA (see testCa()). */
  tls?: boolean;
  /** Serve the folder under a path, like Nextcloud's `remote.php/dav/files/<user>/` (no leading slash). */
  basePath?: string;
}

const READY_TIMEOUT_MS = 10_000;
const TEST_USER = 'test';

// ---------------------------------------------------------------------------------------------
// The test CA

let ca: { dir: string; caFile: string; certFile: string; keyFile: string } | undefined;

/** The test CA and a server certificate for 127.0.0.1 / localhost signed by it, made once per process with openssl. */
export function testCa(): { caFile: string; certFile: string; keyFile: string } {
  if (ca) return ca;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-test-ca-'));
  cleanupDirs.add(dir);
  removeWhenGone(dir);
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '7', '-subj', '/CN=cloud-storage test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(path.join(dir, 'server.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem',
    '-days', '7', '-extfile', 'server.ext');
  // apache's workers (www-data) read the certificate and key when run as root: the folder must be passable
  fs.chmodSync(dir, 0o755);
  for (const f of ['server.key', 'server.pem', 'ca.pem']) fs.chmodSync(path.join(dir, f), 0o644);
  ca = { dir, caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key') };
  return ca;
}

/** The test CA's certificate as PEM, for `new https.Agent({ ca })` or an undici `Agent({ connect: { ca } })`. */
export function testCaPem(): string {
  return fs.readFileSync(testCa().caFile, 'utf8');
}

/** The `Authorization` header value for a server started with `auth: true` (undefined without). */
export function basicAuth(server: Pick<TestServer, 'user' | 'password'>): string | undefined {
  if (server.user === undefined || server.password === undefined) return undefined;
  return 'Basic ' + Buffer.from(`${server.user}:${server.password}`).toString('base64');
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Processes: each server is its own process group (so pause() stops apache's workers too), with a
// watchdog that kills the group if this process dies without running its exit handler (SIGKILL).

const liveGroups = new Set<number>();
const cleanupDirs = new Set<string>();
process.on('exit', () => {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  for (const d of cleanupDirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      /* best effort at exit */
    }
  }
});

/** The threads of a process group's processes with their state letter (R, S, T, …), from /proc. */
function groupMembers(pgid: number): Array<{ pid: number; state: string }> {
  const out: Array<{ pid: number; state: string }> = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so split after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) !== pgid) continue;
    // every thread: a group stop reaches each thread on its own
    let tasks: string[] = [];
    try {
      tasks = fs.readdirSync(`/proc/${name}/task`);
    } catch {
      /* gone */
    }
    for (const t of tasks) {
      try {
        const ts = fs.readFileSync(`/proc/${name}/task/${t}/stat`, 'utf8');
        out.push({ pid: Number(t), state: ts.slice(ts.lastIndexOf(')') + 2).split(' ')[0] });
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

/**
 * A folder removed once this process has ended, however it ended: jest runs test files in a
 * sandbox whose process 'exit' listeners do not run, so a small shell waits for this process instead.
 */
function removeWhenGone(dir: string): void {
  spawn('sh', ['-c', 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; rm -rf "$1"', String(process.pid), dir], {
    detached: true,
    stdio: 'ignore',
  }).unref();
}

function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* already gone */
  }
}

class Proc {
  private child: ChildProcess | undefined;
  private watchdog: ChildProcess | undefined;
  private out = '';
  private exited: Promise<void> = Promise.resolve();
  exitInfo: string | undefined;

  constructor(
    private readonly cmd: string,
    private readonly args: string[],
    private readonly opts: { cwd: string; env?: NodeJS.ProcessEnv; logFiles?: string[] },
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.exitInfo === undefined;
  }

  start(): void {
    this.exitInfo = undefined;
    const child = spawn(this.cmd, this.args, {
      cwd: this.opts.cwd,
      env: this.opts.env ?? process.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (b: Buffer) => {
      this.out = (this.out + b.toString('utf8')).slice(-8000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.on('error', (e) => {
        this.exitInfo = `could not start ${this.cmd}: ${e.message}`;
        resolve();
      });
      child.on('exit', (code, signal) => {
        this.exitInfo = `${path.basename(this.cmd)} exited (${signal ?? `code ${code}`})`;
        if (child.pid) liveGroups.delete(child.pid);
        resolve();
      });
    });
    if (child.pid) {
      liveGroups.add(child.pid);
      // kills the group should this process end without stop() (SIGKILL, a jest sandbox's exit)
      this.watchdog = spawn('sh', ['-c', 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill -KILL -- "-$1" 2>/dev/null', String(process.pid), String(child.pid)], {
        detached: true,
        stdio: 'ignore',
      });
      this.watchdog.unref();
    }
  }

  pause(): void {
    const pgid = this.child?.pid;
    if (!pgid || !this.running) return;
    killGroup(pgid, 'SIGSTOP');
    // Returns once every process of the group is seen stopped (apache forks workers on its own):
    // a test that pauses and then sends a request must not be answered.
    const end = Date.now() + 1000;
    for (;;) {
      const running = groupMembers(pgid).filter((m) => m.state !== 'T' && m.state !== 't' && m.state !== 'Z');
      if (running.length === 0) return;
      if (Date.now() > end) throw new Error(`could not pause ${this.cmd}: ${running.map((m) => `${m.pid} ${m.state}`).join(', ')} still running`);
      killGroup(pgid, 'SIGSTOP');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
  }
  resume(): void {
    if (this.child?.pid && this.running) killGroup(this.child.pid, 'SIGCONT');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    const pgid = child.pid;
    if (this.running) {
      killGroup(pgid, 'SIGCONT'); // a paused server handles SIGTERM only once continued
      killGroup(pgid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = await Promise.race([
        this.exited.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5000))),
      ]);
      clearTimeout(timer);
      if (!killed) killGroup(pgid, 'SIGKILL');
      await this.exited;
    }
    killGroup(pgid, 'SIGKILL'); // apache's workers, should one outlive its parent
    liveGroups.delete(pgid);
    if (this.watchdog?.pid) killGroup(this.watchdog.pid, 'SIGKILL');
    this.watchdog = undefined;
  }

  tail(): string {
    let s = this.out;
    for (const f of this.opts.logFiles ?? []) {
      try {
        s += `\n--- ${path.basename(f)}:\n` + fs.readFileSync(f, 'utf8').slice(-4000);
      } catch {
        /* not written yet */
      }
    }
    return s.trim().slice(-6000);
  }
}

const q = (s: string) => JSON.stringify(s);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Any HTTP answer (401 and 404 included) from `url` means the server is up. */
function answers(url: string, caPem: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, { method: 'OPTIONS', timeout: 1000, ...(caPem ? { ca: caPem } : {}), agent: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function waitReady(name: string, proc: Proc, url: string, caPem: string | undefined): Promise<void> {
  const end = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (proc.exitInfo) throw new Error(`${name} did not start: ${proc.exitInfo}\n${proc.tail()}`);
    if (await answers(url, caPem)) return;
    if (Date.now() > end) {
      await proc.stop();
      throw new Error(`${name} did not answer on ${url} within ${READY_TIMEOUT_MS / 1000} s\n${proc.tail()}`);
    }
    await sleep(50);
  }
}

interface Spec {
  name: string;
  dir: string;
  root: string;
  url: (port: number) => string;
  /** Writes the config for this port and returns the process to run. */
  proc: (port: number) => Proc;
  caPem?: string;
  user?: string;
  password?: string;
  /** The htpasswd file (`auth: true`), rewritten by changePassword(). */
  loginFile?: string;
  caFile?: string;
}

/** Picks a port, starts, waits; a port taken in between (the only race of freePort) is tried again with another. */
async function launch(spec: Spec): Promise<TestServer> {
  let port = 0;
  let proc: Proc | undefined;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    proc = spec.proc(port);
    proc.start();
    try {
      await waitReady(spec.name, proc, spec.url(port), spec.caPem);
      break;
    } catch (e) {
      await proc.stop();
      if (attempt >= 3 || !/in use|bind|EADDRINUSE/i.test(String((e as Error).message))) {
        fs.rmSync(spec.dir, { recursive: true, force: true });
        cleanupDirs.delete(spec.dir);
        throw e;
      }
    }
  }
  let current: Proc = proc;
  let stopped = false;
  const server: TestServer = {
    url: spec.url(port),
    root: spec.root,
    ...(spec.user !== undefined ? { user: spec.user, password: spec.password } : {}),
    ...(spec.caFile ? { caFile: spec.caFile } : {}),
    pause: () => current.pause(),
    resume: () => current.resume(),
    down: () => current.stop(),
    ...(spec.loginFile
      ? {
          changePassword: async () => {
            const next = newPassword();
            fs.writeFileSync(spec.loginFile!, htpasswdLine(TEST_USER, next), { mode: 0o644 });
            server.password = next;
            await server.restart();
          },
        }
      : {}),
    up: async () => {
      if (stopped) throw new Error(`${spec.name} was stopped for good`);
      if (current.running) return;
      current = spec.proc(port);
      current.start();
      await waitReady(spec.name, current, spec.url(port), spec.caPem);
    },
    restart: async () => {
      await server.down();
      await server.up();
    },
    stop: async () => {
      stopped = true;
      await current.stop();
      fs.rmSync(spec.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      cleanupDirs.delete(spec.dir);
    },
    logTail: () => current.tail(),
  };
  return server;
}

function workDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanupDirs.add(dir);
  removeWhenGone(dir);
  return dir;
}

function normBase(basePath: string | undefined): string {
  const p = (basePath ?? '').replace(/^\/+|\/+$/g, '');
  return p ? p + '/' : '';
}

function newPassword(): string {
  return crypto.randomBytes(18).toString('base64url');
}

/** `{SHA}` htpasswd line: understood by apache, lighttpd and rclone alike; a hash only, never the password. */
function htpasswdLine(user: string, password: string): string {
  return `${user}:{SHA}${crypto.createHash('sha1').update(password).digest('base64')}\n`;
}

function newLogin(dir: string): { user: string; password: string; file: string } {
  const password = newPassword();
  const file = path.join(dir, 'htpasswd');
  fs.writeFileSync(file, htpasswdLine(TEST_USER, password), { mode: 0o644 });
  return { user: TEST_USER, password, file };
}

// ---------------------------------------------------------------------------------------------
// lighttpd + mod_webdav

/** lighttpd with mod_webdav (locks and properties in a temporary sqlite file), foreground, own config. */
export async function startLighttpd(opts: WebDavOptions = {}): Promise<TestServer> {
  const dir = workDir('cs-lighttpd-');
  const base = normBase(opts.basePath);
  const docroot = path.join(dir, 'docroot');
  const root = path.resolve(docroot, base);
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(path.join(dir, 'upload'));
  const login = opts.auth ? newLogin(dir) : undefined;
  const tls = opts.tls ? testCa() : undefined;
  const errorLog = path.join(dir, 'error.log');
  return launch({
    name: 'lighttpd',
    dir,
    root,
    url: (port) => `${tls ? 'https' : 'http'}://127.0.0.1:${port}/${base}`,
    proc: (port) => {
      const conf = [
        `server.document-root = ${q(docroot)}`,
        `server.bind = "127.0.0.1"`,
        `server.port = ${port}`,
        `server.errorlog = ${q(errorLog)}`,
        `server.upload-dirs = ( ${q(path.join(dir, 'upload'))} )`,
        `server.modules += ( ${login ? '"mod_auth", "mod_authn_file", ' : ''}"mod_webdav"${tls ? ', "mod_openssl"' : ''} )`,
        `webdav.activate = "enable"`,
        `webdav.is-readonly = "disable"`,
        `webdav.sqlite-db-name = ${q(path.join(dir, 'webdav.sqlite'))}`,
        ...(login
          ? [
              `auth.backend = "htpasswd"`,
              `auth.backend.htpasswd.userfile = ${q(login.file)}`,
              `auth.require = ( "/" => ( "method" => "basic", "realm" => "cloud-storage test", "require" => "valid-user" ) )`,
            ]
          : []),
        ...(tls ? [`ssl.engine = "enable"`, `ssl.pemfile = ${q(tls.certFile)}`, `ssl.privkey = ${q(tls.keyFile)}`] : []),
      ].join('\n');
      fs.writeFileSync(path.join(dir, 'lighttpd.conf'), conf + '\n');
      return new Proc('lighttpd', ['-D', '-f', path.join(dir, 'lighttpd.conf')], { cwd: dir, logFiles: [errorLog] });
    },
    caPem: tls ? testCaPem() : undefined,
    user: login?.user,
    password: login?.password,
    loginFile: login?.file,
    caFile: tls?.caFile,
  });
}

// ---------------------------------------------------------------------------------------------
// apache2 + mod_dav_fs

const APACHE_MODULES = '/usr/lib/apache2/modules';

/** apache2 with mod_dav + mod_dav_fs (own DavLockDB), foreground (-DFOREGROUND), own config, PidFile, ErrorLog and Mutex dir. */
export async function startApache(opts: WebDavOptions = {}): Promise<TestServer> {
  const dir = workDir('cs-apache-');
  const base = normBase(opts.basePath);
  const docroot = path.join(dir, 'docroot');
  const root = path.resolve(docroot, base);
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(path.join(dir, 'lock'));
  fs.mkdirSync(path.join(dir, 'run'));
  const login = opts.auth ? newLogin(dir) : undefined;
  const tls = opts.tls ? testCa() : undefined;
  const errorLog = path.join(dir, 'error.log');
  // As root, apache serves from www-data (it refuses to serve as root): it must reach and write the data and the lock DB.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    fs.chmodSync(dir, 0o755);
    const ids = execFileSync('id', ['-u', 'www-data']).toString().trim() + ':' + execFileSync('id', ['-g', 'www-data']).toString().trim();
    const [uid, gid] = ids.split(':').map(Number);
    for (let d = root; ; d = path.dirname(d)) {
      fs.chownSync(d, uid, gid);
      if (d === docroot) break;
    }
    fs.chownSync(path.join(dir, 'lock'), uid, gid);
  }
  const mods = ['mpm_event', 'authz_core', 'authn_core', 'dav', 'dav_fs'];
  if (login) mods.push('auth_basic', 'authn_file', 'authz_user');
  if (tls) mods.push('socache_shmcb', 'ssl');
  return launch({
    name: 'apache2',
    dir,
    root,
    url: (port) => `${tls ? 'https' : 'http'}://127.0.0.1:${port}/${base}`,
    proc: (port) => {
      const conf = [
        `ServerRoot ${q(dir)}`,
        `ServerName 127.0.0.1`,
        `Listen 127.0.0.1:${port}`,
        `PidFile ${q(path.join(dir, 'run', 'apache2.pid'))}`,
        `ErrorLog ${q(errorLog)}`,
        `LogLevel warn`,
        `Mutex file:${path.join(dir, 'run')} default`,
        ...mods.map((m) => `LoadModule ${m}_module ${APACHE_MODULES}/mod_${m}.so`),
        ...(asRoot ? ['User www-data', 'Group www-data'] : []),
        // small: the machine has 2 cores and other tests run beside
        'StartServers 1',
        'ServerLimit 2',
        'ThreadsPerChild 16',
        'MaxRequestWorkers 32',
        'MinSpareThreads 4',
        'MaxSpareThreads 32',
        `DocumentRoot ${q(docroot)}`,
        `DavLockDB ${q(path.join(dir, 'lock', 'DavLock'))}`,
        ...(tls
          ? ['SSLEngine on', `SSLCertificateFile ${q(tls.certFile)}`, `SSLCertificateKeyFile ${q(tls.keyFile)}`, `SSLSessionCache ${q(`shmcb:${path.join(dir, 'run', 'ssl_scache')}(512000)`)}`]
          : []),
        `<Directory ${q(docroot)}>`,
        '  Dav On',
        ...(login
          ? ['  AuthType Basic', '  AuthName "cloud-storage test"', `  AuthUserFile ${q(login.file)}`, '  Require valid-user']
          : ['  Require all granted']),
        '</Directory>',
      ].join('\n');
      fs.writeFileSync(path.join(dir, 'apache2.conf'), conf + '\n');
      return new Proc('apache2', ['-f', path.join(dir, 'apache2.conf'), '-DFOREGROUND'], {
        cwd: dir,
        // apache2ctl would set these from /etc/apache2/envvars; the binary itself only needs a locale-free env
        env: { ...process.env, APACHE_RUN_DIR: path.join(dir, 'run'), APACHE_LOG_DIR: dir, APACHE_LOCK_DIR: path.join(dir, 'run') },
        logFiles: [errorLog],
      });
    },
    caPem: tls ? testCaPem() : undefined,
    user: login?.user,
    password: login?.password,
    loginFile: login?.file,
    caFile: tls?.caFile,
  });
}

// ---------------------------------------------------------------------------------------------
// rclone serve webdav

export interface RcloneOptions extends WebDavOptions {
  /** More flags for `rclone serve webdav` (e.g. `['--dir-cache-time', '0s']`). */
  extraArgs?: string[];
}

/** `rclone serve webdav <root> --addr 127.0.0.1:<port>` with rclone's defaults (no VFS cache: uploads are written in place). */
export async function startRclone(opts: RcloneOptions = {}): Promise<TestServer> {
  const dir = workDir('cs-rclone-');
  const base = normBase(opts.basePath);
  const root = path.join(dir, 'root');
  fs.mkdirSync(root);
  const login = opts.auth ? newLogin(dir) : undefined;
  const tls = opts.tls ? testCa() : undefined;
  const config = path.join(dir, 'rclone.conf');
  fs.writeFileSync(config, '');
  return launch({
    name: 'rclone',
    dir,
    root,
    url: (port) => `${tls ? 'https' : 'http'}://127.0.0.1:${port}/${base}`,
    proc: (port) =>
      new Proc(
        'rclone',
        [
          'serve', 'webdav', root,
          '--addr', `127.0.0.1:${port}`,
          '--config', config,
          '--cache-dir', path.join(dir, 'cache'),
          ...(base ? ['--baseurl', '/' + base.replace(/\/$/, '')] : []),
          ...(login ? ['--htpasswd', login.file] : []),
          ...(tls ? ['--cert', tls.certFile, '--key', tls.keyFile] : []),
          ...(opts.extraArgs ?? []),
        ],
        { cwd: dir },
      ),
    caPem: tls ? testCaPem() : undefined,
    user: login?.user,
    password: login?.password,
    loginFile: login?.file,
    caFile: tls?.caFile,
  });
}

// ---------------------------------------------------------------------------------------------
// s3rver

/** s3rver (npm) in a child node process, with one bucket; credentials are s3rver's fixed S3RVER/S3RVER. */
export async function startS3rver(opts: { bucket?: string } = {}): Promise<S3TestServer> {
  const dir = workDir('cs-s3rver-');
  const root = path.join(dir, 'data');
  fs.mkdirSync(root);
  const bucket = opts.bucket ?? 'practice';
  const script = path.join(__dirname, 's3rver-child.js');
  const server = await launch({
    name: 's3rver',
    dir,
    root,
    url: (port) => `http://127.0.0.1:${port}/`,
    // s3rver makes its continuation tokens with DES, which Node's OpenSSL 3 offers only from its legacy
    // provider: without it every truncated listing (MaxKeys, more than 1000 keys) answers 500
    proc: (port) => new Proc(process.execPath, ['--openssl-legacy-provider', script, String(port), root, bucket], { cwd: dir }),
  });
  const endpoint = server.url.replace(/\/$/, '');
  return Object.assign(server, { endpoint, bucket, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });
}
