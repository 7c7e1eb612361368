// The store on a WebDAV server (Nextcloud, ownCloud, a Synology/QNAP NAS, Apache, lighttpd …): plain
// HTTP with PROPFIND, GET, PUT and MKCOL (docs/ARCHITECTURE.md says why no client library). Creates ask
// `If-None-Match: *`; a server that ignores it, lets racing creates through or keeps a torn upload
// loses nothing: every name is its content's hash (or a device's own card), and every file read is
// checked by the replica folder that reads it.
import * as path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { MediumError, StatCache, assertPackedName, assertProbeName, existsByStat, slashed, tagNumber, type FolderChanges, type ListingMark, type Medium, type MediumEntry, type MediumStat, type WriteMode } from '../store/medium';
import { HttpClient, type HttpOptions, type HttpResponse } from './http';

export interface Login {
  readonly user: string;
  readonly password: string;
}

export interface WebDavOptions extends HttpOptions {
  /** How long a listing's sizes and times answer a `stat` of the same file (default 2 s). */
  readonly statCacheMs?: number;
}

const PROPFIND_BODY =
  '<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/></d:prop></d:propfind>';

/**
 * At most this many entries in one listing. A log folder only grows until compaction exists: one PC that
 * alone writes 300 log files every working day reaches it after about 330 working days (a 4-PC practice
 * writes ~66,000 a year all together, docs/SERVERS.md). An answer with more is refused before it is
 * parsed (E2BIG: the folder is reported and skipped), never read for minutes.
 */
export const MAX_LISTING = 100_000;

const xml = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false, processEntities: true, isArray: (name) => name === 'response' || name === 'propstat' });

export class WebDavMedium implements Medium {
  readonly root = undefined;
  protected readonly http: HttpClient;
  protected readonly base: URL;
  protected readonly auth: string | undefined;
  /** Sizes and times from the last listings, by store path (answers `stat` for a moment). */
  protected readonly seen: StatCache;
  /** Folders known to exist (created or listed): not created again. */
  protected readonly folders = new Set<string>(['']);

  constructor(
    address: string,
    login: Login | undefined,
    protected readonly opts: WebDavOptions = {},
  ) {
    const url = new URL(address);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    this.base = url;
    this.auth = login ? 'Basic ' + Buffer.from(`${login.user}:${login.password}`, 'utf8').toString('base64') : undefined;
    this.http = new HttpClient(opts);
    this.seen = new StatCache(opts.statCacheMs ?? 2000);
  }

  get label(): string {
    return this.base.toString();
  }

  protected url(rel: string, folder = false): URL {
    const parts = slashed(rel).split('/').filter(Boolean).map(encodeURIComponent);
    return new URL(parts.join('/') + (folder && parts.length ? '/' : ''), this.base);
  }

  protected headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.auth ? { authorization: this.auth } : {}), ...extra };
  }

  /** Set once the program is closing: a listing being read stops at its next slice. */
  protected closing = false;

  /**
   * One PROPFIND, with the limit its answer is read within: the request's time limit counts from the
   * request's start and covers reading the answer too.
   */
  protected async propfind(rel: string, depth: 0 | 1, folder: boolean): Promise<{ res: HttpResponse; limit: ReadLimit }> {
    const limit: ReadLimit = { deadline: Date.now() + (this.opts.timeoutMs ?? 15_000), interrupted: () => this.closing };
    const res = await this.http.send({
      method: 'PROPFIND',
      url: this.url(rel, folder),
      headers: this.headers({ depth: String(depth), 'content-type': 'application/xml; charset=utf-8' }),
      body: Buffer.from(PROPFIND_BODY, 'utf8'),
      maxBytes: 64 << 20,
    });
    return { res, limit };
  }

  async list(rel: string): Promise<MediumEntry[]> {
    return (await this.listing(rel)).entries;
  }

  /**
   * Plain WebDAV cannot list "what is new", but a folder's own tag (getetag and getlastmodified of
   * the collection: a file system folder's change time, Nextcloud's tree tag) says whether anything
   * was added or removed. With the tag of the last listing in the mark, one PROPFIND Depth 0 (a few
   * hundred bytes) answers an unchanged folder; a changed one, or a server that gives no tag for
   * folders (rclone gives none), is listed in full. A tag is not taken while the folder changed within the last
   * 2 s by the server's clock (racy: a change in the same second may leave a second-granular tag as
   * it was), nor from a server that sends no Date.
   */
  async listChanges(rel: string, mark: ListingMark | undefined): Promise<FolderChanges> {
    if (mark?.token !== undefined) {
      const { res, limit } = await this.propfind(rel, 0, true);
      failUnless(res, 'PROPFIND', [207]);
      const self = (await responses(res.body, limit, DEPTH0_ENTRIES))[0];
      if (self?.stat.kind === 'file') throw new MediumError(`PROPFIND: ${rel || 'the address'} is a file, not a folder`, 'ENOTDIR');
      if (self && folderToken(self, res) === mark.token) return { entries: [], complete: false, removed: [], token: mark.token };
    }
    const { entries, token } = await this.listing(rel);
    return { entries, complete: true, removed: undefined, token };
  }

  protected async listing(rel: string): Promise<{ entries: MediumEntry[]; token: string | undefined }> {
    const { res, limit } = await this.propfind(rel, 1, true);
    failUnless(res, 'PROPFIND', [207]);
    const self = decodedPath(this.url(rel, true).pathname);
    const out: MediumEntry[] = [];
    const now = Date.now();
    let selfEntry: Listed | undefined;
    const letGo = slicer(limit);
    for (const r of await responses(res.body, limit)) {
      await letGo(); // a URL per entry: 10,000 of them are some 100 ms
      const p = decodedPath(new URL(r.href, this.base).pathname);
      if (trimSlash(p) === trimSlash(self)) {
        selfEntry = r;
        continue;
      }
      if (!p.startsWith(self)) continue; // not below the folder asked for: never believed
      const name = trimSlash(p.slice(self.length));
      if (!name || name.includes('/')) continue;
      out.push({ name, kind: r.stat.kind, ...(r.stat.kind === 'file' ? { size: r.stat.size, ...(r.tag ? { version: `${r.tag}|${r.stat.size}|${r.modified}` } : {}) } : {}) });
      this.seen.set(path.join(rel, name), r.stat, now);
    }
    if (selfEntry?.stat.kind === 'file') throw new MediumError(`PROPFIND: ${rel || 'the address'} is a file, not a folder`, 'ENOTDIR');
    this.folders.add(rel);
    return { entries: out, token: selfEntry ? folderToken(selfEntry, res) : undefined };
  }

  async stat(rel: string): Promise<MediumStat> {
    const s = this.seen.get(rel);
    if (s) return s;
    const { res, limit } = await this.propfind(rel, 0, false);
    failUnless(res, 'PROPFIND', [207]);
    const first = (await responses(res.body, limit, DEPTH0_ENTRIES))[0];
    if (!first) throw new MediumError('PROPFIND: the server answered without an entry', 'EIO');
    return first.stat;
  }

  async read(rel: string, max: number): Promise<Buffer> {
    const res = await this.http.send({ method: 'GET', url: this.url(rel), headers: this.headers(), maxBytes: max });
    failUnless(res, 'GET', [200]);
    return res.body;
  }

  async write(rel: string, bytes: Uint8Array, mode: WriteMode): Promise<void> {
    const dir = path.dirname(rel) === '.' ? '' : path.dirname(rel);
    if (!this.folders.has(dir)) await this.makeFolders(dir);
    const put = () =>
      this.http.send({
        method: 'PUT',
        url: this.url(rel),
        headers: this.headers({ 'content-type': 'application/octet-stream', ...(mode === 'create' ? { 'if-none-match': '*' } : {}) }),
        body: bytes,
      });
    let res = await put();
    if (res.status === 409 || res.status === 404) {
      // the folder went away since it was known (a server reset, someone tidying up): made again, once
      this.folders.delete(dir);
      await this.makeFolders(dir);
      res = await put();
    }
    // 412: a file of that name is there already. Write-once names are their content's hash, so it is the
    // same file — or a damaged one, which the audit finds and writes again with `replace`.
    if (mode === 'create' && res.status === 412) return;
    failUnless(res, 'PUT', [200, 201, 204]);
    this.seen.delete(rel);
  }

  /** MKCOL one level at a time below the address (never the address itself: a missing one fails). */
  protected async makeFolders(dir: string): Promise<void> {
    let cur = '';
    for (const part of slashed(dir).split('/').filter(Boolean)) {
      cur = cur ? path.join(cur, part) : part;
      if (this.folders.has(cur)) continue;
      const res = await this.http.send({ method: 'MKCOL', url: this.url(cur, true), headers: this.headers() });
      // 405: it exists already; 409 on the first level: the address itself is gone
      if (res.status !== 201 && res.status !== 405) failUnless(res, 'MKCOL', [201]);
      this.folders.add(cur);
    }
  }

  async exists(rel: string): Promise<boolean> {
    return existsByStat(this, rel);
  }

  async removeProbe(rel: string): Promise<void> {
    assertProbeName(rel);
    await this.http.send({ method: 'DELETE', url: this.url(rel), headers: this.headers() });
  }

  async removePacked(rel: string): Promise<void> {
    assertPackedName(rel);
    const res = await this.http.send({ method: 'DELETE', url: this.url(rel), headers: this.headers() });
    if (res.status !== 404) failUnless(res, 'DELETE', [200, 204]);
    this.seen.delete(rel);
  }

  interrupt(): void {
    this.closing = true;
    this.http.interrupt();
  }

  close(): void {
    this.closing = true;
    this.http.close();
  }
}

/** The error for a status a caller did not expect, coded as the file system would say it. */
export function failUnless(res: HttpResponse, method: string, ok: readonly number[]): void {
  if (ok.includes(res.status)) return;
  throw statusError(res.status, method);
}

export function statusError(status: number, method: string): MediumError {
  const code =
    status === 401 ? 'EAUTH' : status === 403 ? 'EACCES' : status === 404 || status === 410 ? 'ENOENT' : status === 507 ? 'ENOSPC' : status === 413 ? 'EFBIG' : status === 409 ? 'ENOENT' : status === 423 || status === 429 || status >= 500 ? 'EAGAIN' : 'EIO';
  return new MediumError(`${method}: the server answered ${status}`, code);
}

export interface Listed {
  readonly href: string;
  readonly stat: MediumStat;
  /** The entity tag and the modification time as the server wrote them ('' when it gave none). */
  readonly tag: string;
  readonly modified: string;
}

/**
 * A folder's tag as a listing mark's token: its entity tag and modification time together, or
 * undefined when the server gives no tag or no modification time for folders (rclone: no tag), sends no Date, or the folder changed within 2 s of the
 * answer (a second-granular tag could stay the same over a change made in the same second).
 */
function folderToken(self: Listed, res: HttpResponse): string | undefined {
  const date = Date.parse(String(res.headers.date ?? ''));
  const modified = Date.parse(self.modified);
  if (!self.tag || !Number.isFinite(date) || !Number.isFinite(modified) || date - modified < 2000) return undefined;
  return `${self.tag}|${self.modified}`;
}

/** What ends the reading of a listing before it is done: its time limit, the program closing. */
export interface ReadLimit {
  readonly deadline: number;
  readonly interrupted: () => boolean;
}

/** The longest the event loop is held by reading one listing before it lets the host run (ms). */
const SLICE_MS = 8;
/** Entries parsed at a time (one parser call). */
const BATCH = 16;
/** A Depth 0 answer names the one resource asked about; a few more are tolerated, never thousands. */
const DEPTH0_ENTRIES = 16;
/** Nesting deeper than this is no WebDAV listing (a real one nests 6 deep): refused before any parsing. */
const MAX_DEPTH = 64;

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;

/**
 * The entries of a 207 Multi-Status answer, each with what its successful propstat says. Read in
 * slices: a scanner finds the `<response>` elements of the root (comments, CDATA, processing
 * instructions and quoted attribute values skipped, nesting bounded), and the parser reads a few at a
 * time; after at most SLICE_MS the event loop is let go (a 10,000-entry folder no longer holds the host
 * for seconds). The limit is checked between slices: the whole listing, request and reading, stays
 * within the request's time limit. A DOCTYPE before the root is skipped, never read (no entity of it is
 * ever expanded); more than `maxEntries` entries fail with E2BIG before they are parsed.
 */
export async function responses(body: Buffer, limit?: ReadLimit, maxEntries = MAX_LISTING + 1): Promise<Listed[]> {
  const notXml = () => new MediumError('PROPFIND: the answer is not XML', 'EIO');
  const notListing = () => new MediumError('PROPFIND: the answer is not a WebDAV listing', 'EIO');
  const out: Listed[] = [];
  const letGo = slicer(limit);
  const found: [number, number][] = [];
  const parseFound = async () => {
    for (let i = 0; i < found.length; i += BATCH) {
      const text = found
        .slice(i, i + BATCH)
        .map(([a, b]) => body.toString('utf8', a, b))
        .join('');
      let doc: unknown;
      try {
        doc = xml.parse(`<multistatus>${text}</multistatus>`);
      } catch {
        throw notXml();
      }
      const rs = (doc as { multistatus?: { response?: unknown[] } } | undefined)?.multistatus?.response;
      if (Array.isArray(rs)) for (const r of rs) pushListed(out, r);
      await letGo();
    }
    found.length = 0;
  };

  // the prolog: declaration, comments, processing instructions, a DOCTYPE (skipped), white space
  let pos = 0;
  let rootName: string | undefined;
  let depth = 0;
  let responseAt = -1;
  let count = 0;
  let steps = 0;
  for (;;) {
    const lt = body.indexOf(LT, pos);
    if (lt < 0) break;
    const next = body[lt + 1];
    if (next === BANG) {
      if (body.toString('latin1', lt, lt + 4) === '<!--') pos = after(body, lt + 4, '-->');
      else if (body.toString('latin1', lt, lt + 9) === '<![CDATA[') pos = after(body, lt + 9, ']]>');
      else if (depth === 0 && rootName === undefined) pos = afterDoctype(body, lt + 2);
      else throw notXml();
      if (pos < 0) throw notXml();
    } else if (next === QUESTION) {
      pos = after(body, lt + 2, '?>');
      if (pos < 0) throw notXml();
    } else {
      const end = tagEnd(body, lt + 1);
      if (end < 0) throw notXml();
      const closing = next === SLASH;
      const selfClosing = !closing && body[end - 1] === SLASH;
      const name = localName(body, closing ? lt + 2 : lt + 1, end);
      pos = end + 1;
      if (closing) {
        depth--;
        if (depth < 0) throw notXml();
        if (depth === 1 && responseAt >= 0) {
          found.push([responseAt, pos]);
          responseAt = -1;
          if (found.length >= BATCH * 4) await parseFound();
        }
        if (depth === 0) break; // the root's end: what follows is not read
      } else {
        if (rootName === undefined) {
          rootName = name;
          if (name !== 'multistatus') throw notListing();
        } else if (depth === 1 && name === 'response') {
          if (++count > maxEntries) throw new MediumError(`PROPFIND: the server lists more than ${maxEntries - 1} entries in one folder`, 'E2BIG');
          if (selfClosing) continue;
          responseAt = lt;
        }
        if (!selfClosing) depth++;
        if (depth > MAX_DEPTH) throw notXml();
        if (selfClosing && depth === 0) break;
      }
    }
    if (++steps % 1024 === 0) await letGo();
  }
  if (rootName === undefined) throw body.toString('utf8').trim() ? notXml() : notListing();
  if (depth !== 0) throw notXml();
  await parseFound();
  return out;
}

/**
 * A function to call between pieces of work: once SLICE_MS have passed since the event loop was last let
 * go, it lets it go (setImmediate), and then fails when the limit ran out or the program is closing.
 */
function slicer(limit: ReadLimit | undefined): () => Promise<void> {
  let sliceStart = performance.now();
  return async () => {
    if (performance.now() - sliceStart < SLICE_MS) return;
    await new Promise<void>((r) => setImmediate(r));
    sliceStart = performance.now();
    if (limit?.interrupted()) throw new MediumError('PROPFIND: the program is closing', 'EINTR');
    if (limit && Date.now() > limit.deadline) throw new MediumError('PROPFIND: the answer was not read within the time limit', 'ETIMEDOUT');
  };
}

/** The index just after the first `end` at or after `from`, or -1. */
function after(body: Buffer, from: number, end: string): number {
  const i = body.indexOf(end, from, 'latin1');
  return i < 0 ? -1 : i + end.length;
}

/** The index just after a `<!DOCTYPE …>` whose name begins at `from` (an internal subset in brackets, quotes respected), or -1. */
function afterDoctype(body: Buffer, from: number): number {
  let quote = 0;
  let brackets = 0;
  for (let i = from; i < body.length; i++) {
    const c = body[i]!;
    if (quote) {
      if (c === quote) quote = 0;
    } else if (c === 0x22 || c === 0x27) quote = c;
    else if (c === 0x5b) brackets++;
    else if (c === 0x5d) brackets--;
    else if (c === GT && brackets <= 0) return i + 1;
  }
  return -1;
}

/** The index of the `>` ending the tag begun before `from` (quoted attribute values may hold `>`), or -1. */
function tagEnd(body: Buffer, from: number): number {
  let quote = 0;
  for (let i = from; i < body.length; i++) {
    const c = body[i]!;
    if (quote) {
      if (c === quote) quote = 0;
    } else if (c === 0x22 || c === 0x27) quote = c;
    else if (c === GT) return i;
    else if (c === LT) return -1;
  }
  return -1;
}

/** A tag's name without its namespace prefix. */
function localName(body: Buffer, from: number, end: number): string {
  let i = from;
  while (i < end && body[i] !== 0x20 && body[i] !== 0x09 && body[i] !== 0x0a && body[i] !== 0x0d && body[i] !== SLASH) i++;
  const name = body.toString('utf8', from, i);
  return name.slice(name.lastIndexOf(':') + 1);
}

/** One `<response>` as the parser gave it, with what its successful propstat says (none without an href). */
function pushListed(out: Listed[], raw: unknown): void {
  const r = raw as { href?: unknown; propstat?: { status?: unknown; prop?: Record<string, unknown> }[] } | undefined;
  if (typeof r?.href !== 'string') return;
  const ok = (r.propstat ?? []).filter((p) => typeof p?.status === 'string' && / 200 /.test(p.status + ' ')).map((p) => p.prop ?? {});
  const prop = Object.assign({}, ...ok) as Record<string, unknown>;
  const collection = typeof prop.resourcetype === 'object' && prop.resourcetype !== null && 'collection' in prop.resourcetype;
  const size = Number(prop.getcontentlength ?? 0);
  const mtimeMs = typeof prop.getlastmodified === 'string' ? Date.parse(prop.getlastmodified) : NaN;
  const tag = typeof prop.getetag === 'string' ? prop.getetag : '';
  out.push({
    href: r.href,
    tag,
    modified: typeof prop.getlastmodified === 'string' ? prop.getlastmodified : '',
    stat: {
      kind: collection ? 'dir' : 'file',
      size: Number.isFinite(size) && size >= 0 ? size : 0,
      mtimeMs: Number.isFinite(mtimeMs) ? mtimeMs : 0,
      ctimeMs: tagNumber(tag) ?? (Number.isFinite(mtimeMs) ? mtimeMs : 0),
    },
  });
}

function decodedPath(p: string): string {
  return p
    .split('/')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    })
    .join('/');
}

function trimSlash(p: string): string {
  return p.replace(/\/+$/, '');
}
