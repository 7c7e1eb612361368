// The servers the campaign's server schedules run on (test/support/servers.ts), each PC behind its
// own fault proxy (test/support/fault-proxy.ts), and a way to read what the server holds straight
// from its disk (also while it is stopped or frozen): the oracle's view of "the shared folder".
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { FolderMedium, MediumError, type Medium, type MediumEntry, type MediumStat } from '../../src/services/store/medium';
import { startApache, startLighttpd, startRclone, startS3rver, type S3TestServer, type TestServer } from '../support/servers';

export type ServerCarrier = 'webdav-lighttpd' | 'webdav-apache' | 'webdav-rclone' | 's3';
export const SERVER_CARRIERS: readonly ServerCarrier[] = ['webdav-lighttpd', 'webdav-apache', 'webdav-rclone', 's3'];
export const isServerCarrier = (m: string): m is ServerCarrier => (SERVER_CARRIERS as readonly string[]).includes(m);

export interface CarrierEnv {
  readonly server: TestServer;
  /** The folder field's address of the store through a proxy on `port` (each PC has its own). */
  address(port: number): string;
  /** The server's port (what the proxies forward to). */
  readonly port: number;
  /** The login the host's dialog gives (WebDAV Basic, S3 keys), if the server wants one. */
  readonly login?: { username: string; password: string };
  /** What the server holds, read from its disk. */
  readonly disk: Medium;
  /** How the worker PC's process (test/support/crash-writer.js) connects: straight to the server. */
  readonly writerMedium: object;
}

const PREFIX = 'praxis-campaign';

export async function startCarrier(carrier: ServerCarrier): Promise<CarrierEnv> {
  if (carrier === 's3') {
    const s: S3TestServer = await startS3rver();
    const port = Number(new URL(s.endpoint).port);
    return {
      server: s,
      port,
      address: (p) => `s3+http://127.0.0.1:${p}/${s.bucket}/${PREFIX}?region=${s.region}`,
      login: { username: s.accessKeyId, password: s.secretAccessKey },
      disk: new S3rverDisk(path.join(s.root, s.bucket, PREFIX)),
      writerMedium: { kind: 's3', at: { endpoint: s.endpoint, bucket: s.bucket, prefix: PREFIX, region: s.region }, login: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey } },
    };
  }
  // a Nextcloud-like address on lighttpd, logins on lighttpd and apache, rclone as it comes
  const s =
    carrier === 'webdav-lighttpd'
      ? await startLighttpd({ auth: true, basePath: 'remote.php/dav/files/praxis/Praxisdaten' })
      : carrier === 'webdav-apache'
        ? await startApache({ auth: true })
        : await startRclone({});
  const u = new URL(s.url);
  return {
    server: s,
    port: Number(u.port),
    address: (p) => {
      const v = new URL(s.url);
      v.port = String(p);
      return v.toString();
    },
    ...(s.user !== undefined ? { login: { username: s.user, password: s.password! } } : {}),
    disk: new FolderMedium(s.root),
    writerMedium: { kind: 'webdav', url: s.url, ...(s.user !== undefined ? { login: { user: s.user, password: s.password } } : {}) },
  };
}

/**
 * s3rver's objects on its disk, read as a medium: `<key>._S3rver_object` beside its metadata, folders
 * for the key's prefixes. Read-only: the oracle reads through it, nothing of the store is written.
 */
export class S3rverDisk implements Medium {
  readonly root = undefined;
  constructor(protected readonly dir: string) {}
  get label(): string {
    return `s3rver disk ${this.dir}`;
  }
  protected abs(rel: string): string {
    return path.join(this.dir, rel);
  }
  async list(rel: string): Promise<MediumEntry[]> {
    const out: MediumEntry[] = [];
    for (const d of await fsp.readdir(this.abs(rel), { withFileTypes: true })) {
      if (d.isDirectory()) out.push({ name: d.name, kind: 'dir' });
      else if (d.name.endsWith('._S3rver_object')) out.push({ name: d.name.slice(0, -'._S3rver_object'.length), kind: 'file' });
    }
    return out;
  }
  async stat(rel: string): Promise<MediumStat> {
    const f = this.abs(rel) + '._S3rver_object';
    const st = await fsp.stat(fs.existsSync(f) ? f : this.abs(rel));
    return { kind: st.isDirectory() ? 'dir' : 'file', size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  }
  async read(rel: string, max: number): Promise<Buffer> {
    const b = await fsp.readFile(this.abs(rel) + '._S3rver_object');
    if (b.length > max) throw new MediumError(`${rel} is too large`, 'EFBIG', b.length);
    return b;
  }
  async write(): Promise<void> {
    throw new MediumError('the oracle writes nothing', 'EACCES');
  }
  async exists(rel: string): Promise<boolean> {
    return fs.existsSync(this.abs(rel) + '._S3rver_object') || fs.existsSync(this.abs(rel));
  }
}
