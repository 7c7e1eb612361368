// The store on a WebDAV server (Nextcloud, ownCloud, a Synology/QNAP NAS, Apache, lighttpd …): plain
// HTTP with PROPFIND, GET, PUT and MKCOL (docs/ARCHITECTURE.md says why no client library). Creates ask
// `If-None-Match: *`; a server that ignores it, lets racing creates through or keeps a torn upload
// loses nothing: every name is its content's hash (or a device's own card), and every file read is
// checked by the replica folder that reads it.
import * as path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { MediumError, assertProbeName, existsByStat, slashed, tagNumber, type FolderChanges, type ListingMark, type Medium, type MediumEntry, type MediumStat, type WriteMode } from '../store/medium';
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

/** At most this many entries are taken from one listing (a store folder holds far fewer; a hostile one is cut). */
const MAX_LISTING = 200_000;

const xml = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false, processEntities: true, isArray: (name) => name === 'response' || name === 'propstat' });

export class WebDavMedium implements Medium {
  readonly root = undefined;
  protected readonly http: HttpClient;
  protected readonly base: URL;
  protected readonly auth: string | undefined;
  /** Sizes and times from the last listings, by store path (answers `stat` for a moment). */
  protected readonly seen = new Map<string, { stat: MediumStat; at: number }>();
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

  protected async propfind(rel: string, depth: 0 | 1, folder: boolean): Promise<HttpResponse> {
    return this.http.send({
      method: 'PROPFIND',
      url: this.url(rel, folder),
      headers: this.headers({ depth: String(depth), 'content-type': 'application/xml; charset=utf-8' }),
      body: Buffer.from(PROPFIND_BODY, 'utf8'),
      maxBytes: 64 << 20,
    });
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
      const res = await this.propfind(rel, 0, true);
      failUnless(res, 'PROPFIND', [207]);
      const self = responses(res.body)[0];
      if (self?.stat.kind === 'file') throw new MediumError(`PROPFIND: ${rel || 'the address'} is a file, not a folder`, 'ENOTDIR');
      if (self && folderToken(self, res) === mark.token) return { entries: [], complete: false, removed: [], token: mark.token };
    }
    const { entries, token } = await this.listing(rel);
    return { entries, complete: true, removed: undefined, token };
  }

  protected async listing(rel: string): Promise<{ entries: MediumEntry[]; token: string | undefined }> {
    const res = await this.propfind(rel, 1, true);
    failUnless(res, 'PROPFIND', [207]);
    const self = decodedPath(this.url(rel, true).pathname);
    const out: MediumEntry[] = [];
    const now = Date.now();
    let selfEntry: Listed | undefined;
    for (const r of responses(res.body)) {
      const p = decodedPath(new URL(r.href, this.base).pathname);
      if (trimSlash(p) === trimSlash(self)) {
        selfEntry = r;
        continue;
      }
      if (!p.startsWith(self)) continue; // not below the folder asked for: never believed
      const name = trimSlash(p.slice(self.length));
      if (!name || name.includes('/')) continue;
      out.push({ name, kind: r.stat.kind, ...(r.stat.kind === 'file' ? { size: r.stat.size } : {}) });
      this.seen.set(path.join(rel, name), { stat: r.stat, at: now });
      if (out.length >= MAX_LISTING) break;
    }
    if (selfEntry?.stat.kind === 'file') throw new MediumError(`PROPFIND: ${rel || 'the address'} is a file, not a folder`, 'ENOTDIR');
    this.folders.add(rel);
    return { entries: out, token: selfEntry && out.length < MAX_LISTING ? folderToken(selfEntry, res) : undefined };
  }

  async stat(rel: string): Promise<MediumStat> {
    const s = this.seen.get(rel);
    if (s && Date.now() - s.at < (this.opts.statCacheMs ?? 2000)) return s.stat;
    const res = await this.propfind(rel, 0, false);
    failUnless(res, 'PROPFIND', [207]);
    const first = responses(res.body)[0];
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

  interrupt(): void {
    this.http.interrupt();
  }

  close(): void {
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
    status === 401 ? 'EAUTH' : status === 403 ? 'EACCES' : status === 404 || status === 410 ? 'ENOENT' : status === 507 || status === 413 ? 'ENOSPC' : status === 409 ? 'ENOENT' : status === 423 || status === 429 || status >= 500 ? 'EAGAIN' : 'EIO';
  return new MediumError(`${method}: the server answered ${status}`, code);
}

interface Listed {
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

/** The entries of a 207 Multi-Status answer, each with what its successful propstat says. */
function responses(body: Buffer): Listed[] {
  let doc: unknown;
  try {
    doc = xml.parse(body.toString('utf8'));
  } catch {
    throw new MediumError('PROPFIND: the answer is not XML', 'EIO');
  }
  const rs = (doc as { multistatus?: { response?: unknown[] } } | undefined)?.multistatus?.response;
  if (!Array.isArray(rs)) throw new MediumError('PROPFIND: the answer is not a WebDAV listing', 'EIO');
  const out: Listed[] = [];
  for (const r of rs as { href?: unknown; propstat?: { status?: unknown; prop?: Record<string, unknown> }[] }[]) {
    if (typeof r?.href !== 'string') continue;
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
  return out;
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
