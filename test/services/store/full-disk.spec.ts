// A full disk while writing: a clear StorageError in German and English, and nothing acknowledged is lost.
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { StorageError } from '../../../src/host-api/storage';
import { PracticeReplica } from '../../../src/services/store/practice-replica';
import { newSharedStore, openDevice } from '../../support/store-fixture';
import { tempDir } from '../../support/temp';

describe('faults while writing', () => {
  test('a full disk (a real 1 MiB tmpfs) refuses the change clearly; every acknowledged change survives', async () => {
    const mnt = tempDir('cs-tmpfs-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      const store = await newSharedStore();
      const d = await openDevice(store, 'PC1', { localRoot: path.join(mnt, 'replica') });
      const acked: string[] = [];
      let error: StorageError | undefined;
      for (let i = 0; i < 2000 && !error; i++) {
        try {
          await d.replica.put('notes', `n${i}`, { text: 'x'.repeat(2000), i });
          acked.push(`n${i}`);
        } catch (e) {
          error = e as StorageError;
        }
      }
      expect(error).toBeDefined();
      expect(error!.code).toBe('unavailable');
      expect(error!.text.de).toContain('voll');
      expect(error!.text.en).toContain('full');
      await d.store.close();
      // reopen on the still-full disk: reading needs no space
      const again = await PracticeReplica.open({ localRoot: path.join(mnt, 'replica'), header: store.header, key: store.key, deviceId: d.id, deviceName: 'PC1', userName: 'x' });
      expect(again.badFiles).toEqual([]);
      for (const id of acked) expect((await again.get("notes", id))?.data?.i).toBe(Number(id.slice(1)));
      await again.close().catch(() => undefined);
    } finally {
      execFileSync('umount', ['-l', mnt]);
    }
  });
});
