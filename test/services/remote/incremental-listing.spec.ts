// Incremental listing of the log folders (log-listings.ts) on real servers: what each medium gives
// (S3 StartAfter; a WebDAV folder's tag, or a complete listing where the server gives none), and what
// the carrier still sees — a removed own file, a name below the last one, a planted name at a high
// number — at the latest at the next complete listing (every audit period).
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import type { Medium } from '../../../src/services/store/medium';
import { Paths, segmentName } from '../../../src/services/store/format';
import { startServerWithMedia, type ServerKind, type ServerWithMedia } from '../../support/server-media';
import { newSharedStore, openDevice, syncAll } from '../../support/store-fixture';
import { waitFor } from '../../support/temp';

jest.setTimeout(90_000);

/** What an unchanged folder costs: 'tag' (one PROPFIND Depth 0), 'after' (S3: the names after the last one), 'complete'. */
const KINDS: { name: ServerKind; mode: 'tag' | 'after' | 'complete' }[] = [
  { name: 'lighttpd', mode: 'tag' },
  { name: 'apache2', mode: 'tag' },
  { name: 'rclone', mode: 'complete' },
  { name: 's3rver', mode: 'after' },
];

const hex = (n: number) => crypto.randomBytes(n).toString('hex');
const names = (es: { name: string }[]) => es.map((e) => e.name).sort();

describe.each(KINDS)('$name', (kind) => {
  let env: ServerWithMedia;
  const media: Medium[] = [];
  const connect = () => {
    const m = env.connect();
    media.push(m);
    return m;
  };
  beforeAll(async () => {
    env = await startServerWithMedia(kind.name);
  });
  afterAll(async () => {
    for (const m of media.splice(0)) m.close?.();
    await env?.server.stop();
  });

  test(`listChanges: complete without a mark; then ${kind.mode === 'tag' ? "an unchanged folder's tag, a changed folder in full" : kind.mode === 'after' ? 'only the names after the mark' : 'in full (no tag for folders)'}`, async () => {
    const m = connect();
    const dir = Paths.logDir(hex(16));
    const file = (seq: number) => segmentName(seq, hex(32));
    const first = [file(1), file(2), file(3)];
    for (const n of first) await m.write(path.join(dir, n), Buffer.from(n), 'create');
    const all = await m.listChanges!(dir, undefined);
    expect(all).toMatchObject({ complete: true });
    expect(names(all.entries)).toEqual(first.sort());
    const mark = () => ({ after: first[2], token: all.token });
    if (kind.mode === 'tag') {
      // believed once the folder is 2 s unchanged by the server's clock (the racy window)
      let token = all.token;
      await waitFor(async () => (token = (await m.listChanges!(dir, { after: undefined, token: 'none' })).token) !== undefined, 10_000, 'a tag outside the racy window');
      const same = await m.listChanges!(dir, { after: first[2], token });
      expect(same).toEqual({ entries: [], complete: false, removed: [], token });
      const fourth = file(4);
      await m.write(path.join(dir, fourth), Buffer.from('4'), 'create');
      const changed = await m.listChanges!(dir, { after: first[2], token });
      expect(changed.complete).toBe(true);
      expect(names(changed.entries)).toEqual([...first, fourth].sort());
    } else if (kind.mode === 'after') {
      const fourth = file(4);
      await m.write(path.join(dir, fourth), Buffer.from('4'), 'create');
      const next = await m.listChanges!(dir, mark());
      expect(next).toMatchObject({ complete: false, removed: undefined });
      expect(names(next.entries)).toEqual([fourth]);
    } else {
      expect(all.token).toBeUndefined();
      expect(await m.listChanges!(dir, mark())).toMatchObject({ complete: true });
    }
  });

  if (kind.mode === 'complete') return;

  test('the carrier: a new file arrives in the next round; a planted name at a high number does not hide it; an own file removed from the server is seen by the next complete listing and written again', async () => {
    const store = await newSharedStore('Teekanne-Nordstrand-2026', connect());
    // complete listings every 1.5 s here (the audit period; 60 s by default)
    const a = await openDevice(store, 'Empfang', { medium: connect(), exchange: { auditMs: 1500, repairGraceMs: 0 } });
    const b = await openDevice(store, 'Therapie 1', { medium: connect(), exchange: { auditMs: 1500, repairGraceMs: 0 } });
    for (let i = 0; i < 3; i++) {
      await a.replica.put('clients', `c${i}`, { i });
      await a.replica.sealNow();
    }
    await syncAll([a, b], 2);
    expect((await b.replica.list('clients')).length).toBe(3);

    // a planted name far above the chain does not blind the incremental listing to what comes next
    const direct = connect();
    await direct.write(Paths.segment(a.id, 999_999, hex(32)), Buffer.from('planted'), 'create');
    await syncAll([b], 1);
    await a.replica.put('clients', 'c3', { i: 3 });
    await syncAll([a], 1);
    await b.exchange.exchange();
    expect(await b.replica.get('clients', 'c3')).toBeDefined();

    // an own file removed from the server (a rollback): seen by a complete listing, written again
    const own = a.replica.ownLogFiles()[0]!;
    const rel = Paths.segment(a.id, own.seq, own.hash);
    const bytes = await direct.read(rel, 1 << 20);
    const root = kind.name === 's3rver' ? undefined : env.server.root;
    const remove = async () => {
      if (root) await import('node:fs/promises').then((fs) => fs.rm(path.join(root, rel)));
      else await (direct as unknown as { client: { send(c: unknown): Promise<unknown> }; key(r: string): string }).client.send(new (await import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: 'practice', Key: (direct as unknown as { key(r: string): string }).key(rel) }));
    };
    await remove();
    await waitFor(async () => (await a.exchange.exchange(), await direct.exists(rel)), 15_000, 'the removed own file written again');
    expect((await direct.read(rel, 1 << 20)).equals(bytes)).toBe(true);

    // a new PC (no marks yet) lists completely and gets everything
    const fresh = await openDevice(store, 'Therapie 2', { medium: connect(), exchange: { auditMs: 1500 } });
    await waitFor(async () => (await fresh.exchange.exchange(), (await fresh.replica.list('clients')).length === 4), 15_000, 'a new PC has everything');
    await fresh.store.close();
    await a.store.close();
    await b.store.close();
  });
});
