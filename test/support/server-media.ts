// One way for the specs that run on each kind of server to start it and connect to it, directly or
// through a proxy in front of it (a proxy's URL keeps the server's path): lighttpd, apache2 and rclone
// (WebDAV) and s3rver (S3). The servers themselves are test/support/servers.ts.
import * as path from 'node:path';
import { FolderMedium, type Medium } from '../../src/services/store/medium';
import { WebDavMedium, type Login, type WebDavOptions as WebDavMediumOptions } from '../../src/services/remote/webdav-medium';
import { S3Medium, type S3Login, type S3Options } from '../../src/services/remote/s3-medium';
import { startApache, startLighttpd, startRclone, startS3rver, type TestServer, type WebDavOptions } from './servers';
import { walk } from './temp';

export type ServerKind = 'lighttpd' | 'apache2' | 'rclone' | 's3rver';

export interface ServerWithMedia {
  readonly kind: ServerKind;
  readonly server: TestServer;
  /** What a proxy in front of it forwards to. */
  readonly target: string;
  /** The login it asks for (WebDAV with `auth`; S3 always), undefined when it asks none. */
  readonly login: Login | S3Login | undefined;
  /** A connection of its own: to the server, or through `via` (a proxy's URL). */
  connect(via?: string, opts?: WebDavMediumOptions & S3Options): Medium;
  /** The address a person types for it (through `via`); S3 under the prefix `praxis`. */
  address(via?: string): string;
}

export async function startServerWithMedia(kind: ServerKind, opts: WebDavOptions = {}): Promise<ServerWithMedia> {
  if (kind === 's3rver') {
    const s = await startS3rver();
    const login: S3Login = { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey };
    return {
      kind,
      server: s,
      target: s.url,
      login,
      connect: (via, o) => new S3Medium({ endpoint: (via ?? s.endpoint).replace(/\/$/, ''), bucket: s.bucket, prefix: 'praxis', region: s.region }, login, o),
      address: (via) => `s3+http://${new URL(via ?? s.endpoint).host}/${s.bucket}/praxis?region=${s.region}`,
    };
  }
  const server = await (kind === 'lighttpd' ? startLighttpd(opts) : kind === 'apache2' ? startApache(opts) : startRclone(opts));
  const login: Login | undefined = server.user ? { user: server.user, password: server.password! } : undefined;
  return { kind, server, target: server.url, login, connect: (via, o) => new WebDavMedium(via ?? server.url, login, o), address: (via) => via ?? server.url };
}

/**
 * Puts a store made in a local folder (fast) onto a server as it is: the header first, then every
 * other file, 16 at a time. Returns the files' paths below the store (the header not among them).
 */
export async function uploadStore(to: Medium, folder: string): Promise<string[]> {
  const from = new FolderMedium(folder);
  const files = walk(folder).filter((f) => !f.endsWith('practice-store.json'));
  await to.write('practice-store.json', await from.read('practice-store.json', 1 << 20), 'create');
  // the first file of each folder alone (its folders made one at a time: apache answers racing MKCOLs 403), then the rest
  const seen = new Set<string>();
  const rest: string[] = [];
  for (const rel of files) {
    if (seen.has(path.dirname(rel))) rest.push(rel);
    else {
      seen.add(path.dirname(rel));
      await to.write(rel, await from.read(rel, 64 << 20), 'create');
    }
  }
  for (let i = 0; i < rest.length; i += 16) await Promise.all(rest.slice(i, i + 16).map(async (rel) => to.write(rel, await from.read(rel, 64 << 20), 'create')));
  return files;
}
