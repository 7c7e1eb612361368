// The store in an S3 bucket (AWS or an S3-compatible provider: Scaleway, Exoscale, OVHcloud, IONOS,
// MinIO, a NAS's S3 service). Keys are `<prefix>/<store path>`; "folders" are key prefixes. Creates
// ask `If-None-Match: *` (providers that ignore it lose nothing: names are content hashes and every
// read is checked). Each request has a time limit over the whole exchange; the SDK retries what S3
// calls passing (429, 503 SlowDown, dropped connections) with back-off, a bounded number of times.
import * as https from 'node:https';
import * as path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { MediumError, StatCache, assertPackedName, assertProbeName, existsByStat, slashed, tagNumber, type FolderChanges, type ListingMark, type Medium, type MediumEntry, type MediumStat, type WriteMode } from '../store/medium';
import { caBundle } from './http';
import { MAX_LISTING, statusError } from './webdav-medium';

export interface S3Location {
  /** The service's address, e.g. https://s3.fr-par.scw.cloud (path-style requests). */
  readonly endpoint: string;
  readonly bucket: string;
  /** The store's key prefix inside the bucket, without slashes at either end ('' for the bucket's root). */
  readonly prefix: string;
  readonly region: string;
}

export interface S3Login {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface S3Options {
  /** The longest one request may take, start to last byte (default 15 s); with the SDK's retries at most twice that. */
  readonly timeoutMs?: number;
  /** Attempts in all (default 4). */
  readonly attempts?: number;
  /** The longest wait between attempts, also when the server asks for more with Retry-After (default 8 s). */
  readonly maxBackoffMs?: number;
  /** Extra certificate authorities (PEM). */
  readonly ca?: string;
  readonly statCacheMs?: number;
}

export class S3Medium implements Medium {
  readonly root = undefined;
  protected readonly client: S3Client;
  protected readonly seen: StatCache;
  /** Listing without a delimiter (a provider whose grouped listing is broken). */
  protected flat = false;

  constructor(
    protected readonly at: S3Location,
    login: S3Login,
    protected readonly opts: S3Options = {},
  ) {
    this.seen = new StatCache(opts.statCacheMs ?? 2000);
    this.client = new S3Client({
      endpoint: at.endpoint,
      region: at.region,
      forcePathStyle: true,
      credentials: { accessKeyId: login.accessKeyId, secretAccessKey: login.secretAccessKey },
      maxAttempts: opts.attempts ?? 4,
      retryStrategy: new BoundedRetry(opts.attempts ?? 4, opts.maxBackoffMs ?? 8000),
      requestHandler: {
        connectionTimeout: Math.min(5000, opts.timeoutMs ?? 15_000),
        requestTimeout: opts.timeoutMs ?? 15_000,
        throwOnRequestTimeout: true,
        ...(opts.ca ? { httpsAgent: new https.Agent({ keepAlive: true, ca: caBundle(opts.ca) }) } : {}),
      },
    });
  }

  get label(): string {
    return s3Address(this.at);
  }

  protected key(rel: string): string {
    const r = slashed(rel).split('/').filter(Boolean).join('/');
    return this.at.prefix ? (r ? `${this.at.prefix}/${r}` : this.at.prefix) : r;
  }

  /** Runs one command with a time limit over the whole request; S3's errors become coded ones. */
  protected async run<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await fn(AbortSignal.timeout((this.opts.timeoutMs ?? 15_000) * 2));
    } catch (e) {
      throw s3Error(e, what);
    }
  }

  async list(rel: string): Promise<MediumEntry[]> {
    const out = await this.listing(rel, !this.flat);
    // A provider whose grouped listing misses keys two levels down (s3rver does) answers nothing where
    // keys lie below: found once, this connection then lists ungrouped and groups the keys itself.
    if (out.length === 0 && !this.flat && (await this.hasBelow(rel))) {
      this.flat = true;
      return this.listing(rel, false);
    }
    return out;
  }

  /**
   * A folder of files (no sub-folders in the store format): a grouped listing lists the keys directly
   * in it on every provider (the flaw `list` checks for is about keys further down), so an empty answer
   * is not asked a second time.
   */
  async listFiles(rel: string): Promise<MediumEntry[]> {
    return this.listing(rel, !this.flat);
  }

  /**
   * With a mark, only the keys after its name (ListObjectsV2 `StartAfter`: S3 lists keys in byte
   * order): what a round costs stays the same however long a device's history is. S3 cannot say what
   * was removed: a removal is seen by the next complete listing (the caller's schedule).
   */
  async listChanges(rel: string, mark: ListingMark | undefined): Promise<FolderChanges> {
    if (mark?.after === undefined) return { entries: await this.list(rel), complete: true, removed: undefined, token: undefined };
    const entries = await this.listing(rel, !this.flat, mark.after);
    return { entries, complete: false, removed: undefined, token: undefined };
  }

  /** One folder's entries; `grouped`: the server folds deeper keys into prefixes (else they are folded here); `after`: only names after it. */
  protected async listing(rel: string, grouped: boolean, after?: string): Promise<MediumEntry[]> {
    const prefix = this.key(rel) ? `${this.key(rel)}/` : '';
    const out: MediumEntry[] = [];
    const dirs = new Set<string>();
    const now = Date.now();
    let token: string | undefined;
    do {
      const page = await this.run('LIST', (abortSignal) =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.at.bucket, Prefix: prefix, ContinuationToken: token, ...(grouped ? { Delimiter: '/' } : {}), ...(after !== undefined && !token ? { StartAfter: prefix + after } : {}) }), { abortSignal }),
      );
      for (const p of page.CommonPrefixes ?? []) dirs.add((p.Prefix ?? '').slice(prefix.length).replace(/\/$/, ''));
      for (const o of page.Contents ?? []) {
        const name = (o.Key ?? '').slice(prefix.length);
        if (name.includes('/')) dirs.add(name.slice(0, name.indexOf('/')));
        if (!name || name.includes('/')) continue;
        const mtimeMs = o.LastModified?.getTime() ?? 0;
        out.push({ name, kind: 'file', size: o.Size ?? 0, ...(o.ETag ? { version: `${o.ETag}|${o.Size ?? 0}|${mtimeMs}` } : {}) });
        this.seen.set(path.join(rel, name), { kind: 'file', size: o.Size ?? 0, mtimeMs, ctimeMs: tagNumber(o.ETag) ?? mtimeMs }, now);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      // the same bound as on WebDAV: the folder is reported and skipped, never taken in part
      if (out.length + dirs.size > MAX_LISTING) throw new MediumError(`LIST: the server lists more than ${MAX_LISTING} entries in one folder`, 'E2BIG');
    } while (token);
    for (const d of dirs) if (d && !d.includes('/')) out.push({ name: d, kind: 'dir' });
    return out;
  }

  async stat(rel: string): Promise<MediumStat> {
    const s = this.seen.get(rel);
    if (s) return s;
    try {
      const h = await this.run('HEAD', (abortSignal) => this.client.send(new HeadObjectCommand({ Bucket: this.at.bucket, Key: this.key(rel) }), { abortSignal }));
      const mtimeMs = h.LastModified?.getTime() ?? 0;
      return { kind: 'file', size: h.ContentLength ?? 0, mtimeMs, ctimeMs: tagNumber(h.ETag) ?? mtimeMs };
    } catch (e) {
      // no object of that name: a "folder" when keys lie below it
      if ((e as { code?: string }).code === 'ENOENT' && (await this.hasBelow(rel))) return { kind: 'dir', size: 0, mtimeMs: 0, ctimeMs: 0 };
      throw e;
    }
  }

  protected async hasBelow(rel: string): Promise<boolean> {
    const prefix = this.key(rel) ? `${this.key(rel)}/` : '';
    const page = await this.run('LIST', (abortSignal) => this.client.send(new ListObjectsV2Command({ Bucket: this.at.bucket, Prefix: prefix, MaxKeys: 1 }), { abortSignal }));
    return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
  }

  async read(rel: string, max: number): Promise<Buffer> {
    return this.run('GET', async (abortSignal) => {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.at.bucket, Key: this.key(rel) }), { abortSignal });
      const body = r.Body as (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
      if ((r.ContentLength ?? 0) > max) {
        body?.destroy?.();
        throw new MediumError('GET: the file is too large', 'EFBIG', r.ContentLength);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of (body ?? []) as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > max) {
          body?.destroy?.();
          throw new MediumError('GET: the file is too large', 'EFBIG', size);
        }
        chunks.push(c);
      }
      return Buffer.concat(chunks);
    });
  }

  async write(rel: string, bytes: Uint8Array, mode: WriteMode): Promise<void> {
    try {
      await this.run('PUT', (abortSignal) =>
        this.client.send(new PutObjectCommand({ Bucket: this.at.bucket, Key: this.key(rel), Body: bytes, ContentLength: bytes.byteLength, ...(mode === 'create' ? { IfNoneMatch: '*' } : {}) }), { abortSignal }),
      );
    } catch (e) {
      // 412: an object of that name is there already — the same write-once file (or a damaged one the audit replaces)
      if (mode === 'create' && (e as { status?: number }).status === 412) return;
      throw e;
    }
    this.seen.delete(rel);
  }

  async exists(rel: string): Promise<boolean> {
    if (rel === '') {
      await this.run('HEAD', (abortSignal) => this.client.send(new HeadBucketCommand({ Bucket: this.at.bucket }), { abortSignal }));
      return true;
    }
    return existsByStat(this, rel);
  }

  async removeProbe(rel: string): Promise<void> {
    assertProbeName(rel);
    await this.run('DELETE', (abortSignal) => this.client.send(new DeleteObjectCommand({ Bucket: this.at.bucket, Key: this.key(rel) }), { abortSignal }));
  }

  async removePacked(rel: string): Promise<void> {
    assertPackedName(rel);
    await this.run('DELETE', (abortSignal) => this.client.send(new DeleteObjectCommand({ Bucket: this.at.bucket, Key: this.key(rel) }), { abortSignal }));
    this.seen.delete(rel);
  }

  close(): void {
    this.client.destroy();
  }
}

/**
 * The SDK's retries, with the carriers' rules (http.ts): what S3 calls passing (503 SlowDown, 429,
 * 500/502/504, a dropped connection) and 409 ConditionalRequestConflict (S3 says: retry) are tried
 * again up to `attempts` in all, waiting 250 ms, 500 ms, 1 s … and `Retry-After` where given, never
 * longer than `maxBackoffMs`; a request that ran into its time limit is not repeated (a frozen server
 * would otherwise hold a round, and a closing store, for attempts × the limit — the SDK's own strategy
 * retries time-outs). The SDK's retry interface, implemented here (a few lines) rather than imported
 * from its internal packages.
 */
class BoundedRetry {
  readonly mode = 'standard';

  constructor(
    protected readonly attempts: number,
    protected readonly maxBackoffMs: number,
  ) {}

  async acquireInitialRetryToken(): Promise<RetryToken> {
    return token(0, 0);
  }

  async refreshRetryTokenForRetry(t: RetryToken, info: { error?: unknown; errorType: string; retryAfterHint?: Date }): Promise<RetryToken> {
    const e = info.error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
    const status = e?.$metadata?.httpStatusCode;
    const timedOut = status === undefined && (e?.name === 'TimeoutError' || e?.name === 'AbortError' || /ETIMEDOUT/.test(String((e as { code?: string })?.code)));
    const passing = info.errorType === 'THROTTLING' || info.errorType === 'TRANSIENT' || (status !== undefined && [409, 429, 500, 502, 503, 504].includes(status));
    if (timedOut || !passing || t.getRetryCount() + 1 >= this.attempts) throw info.error;
    const backoff = 250 * 2 ** t.getRetryCount();
    const asked = info.retryAfterHint ? info.retryAfterHint.getTime() - Date.now() : undefined;
    const wait = Math.max(0, Math.min(asked ?? backoff, this.maxBackoffMs));
    await new Promise((r) => setTimeout(r, wait));
    return token(t.getRetryCount() + 1, 0);
  }

  recordSuccess(): void {}
}

interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

function token(count: number, delay: number): RetryToken {
  return { getRetryCount: () => count, getRetryDelay: () => delay };
}

/** The readable notation of an S3 location: `s3+https://endpoint-host/bucket/prefix?region=…`. */
export function s3Address(at: S3Location): string {
  const u = new URL(at.endpoint);
  const scheme = u.protocol === 'http:' ? 's3+http' : 's3+https';
  return `${scheme}://${u.host}/${at.bucket}${at.prefix ? `/${at.prefix}` : ''}/?region=${encodeURIComponent(at.region)}`;
}

/** An S3 or network error as a coded one; the message never holds a key, a secret or an address. */
function s3Error(e: unknown, what: string): Error {
  if (e instanceof MediumError) return e;
  const status = e instanceof S3ServiceException ? e.$metadata.httpStatusCode : (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const name = (e as { name?: string })?.name ?? '';
  if (name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchBucket') return Object.assign(new MediumError(`${what}: not found`, 'ENOENT'), { status: 404 });
  if (name === 'TimeoutError' || name === 'AbortError' || name === 'RequestTimeout') return new MediumError(`${what}: no answer in time`, 'ETIMEDOUT');
  // 409 on S3 is "a conflicting operation, try again" (ConditionalRequestConflict, OperationAborted): busy, never "not there"
  if (status === 409) return Object.assign(new MediumError(`${what}: the server answered 409`, 'EAGAIN'), { status });
  // a provider's quota or a full store (Ceph RGW, MinIO): no room; a body above the provider's limit: too large
  if (/^(QuotaExceeded|XMinioStorageFull|StorageFull|InsufficientStorage)$/.test(name) || status === 507) return Object.assign(new MediumError(`${what}: the provider has no room (${name || status})`, 'ENOSPC'), { status });
  if (name === 'EntityTooLarge' || status === 413) return Object.assign(new MediumError(`${what}: too large for the provider`, 'EFBIG'), { status });
  if (status) return Object.assign(statusError(status === 403 && /SignatureDoesNotMatch|InvalidAccessKeyId/.test(name) ? 401 : status, what), { status });
  // the SDK may wrap a network error ("AWS SDK error wrapper for Error: connect ECONNREFUSED …"), and a
  // kept-alive connection the server closed ("socket hang up") has no code of its own
  const message = String((e as Error)?.message);
  const code = (e as { code?: string })?.code ?? /\b(E[A-Z]{4,}|EAI_AGAIN)\b/.exec(message)?.[1] ?? (/socket hang up/i.test(message) ? 'ECONNRESET' : undefined);
  return new MediumError(`${what}: ${code ?? 'the server could not be reached'}`, code ?? 'EIO');
}
