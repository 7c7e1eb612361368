import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { createHeader } from '../../src/services/crypto/store-crypto';
import type { StoreHeader } from '../../src/services/store/format';
import type { Keyring } from '../../src/services/crypto/keyring';
import { ReplicaFolder } from '../../src/services/store/replica-folder';
import type { Medium } from '../../src/services/store/medium';
import { PracticeReplica } from '../../src/services/store/practice-replica';
import { SharedFolderExchange, type ExchangeOptions } from '../../src/services/store/shared-folder-exchange';
import { OpenPracticeStore } from '../../src/services/store/open-practice-store';
import { tempDir } from './temp';

/** The format's lowest scrypt cost (MIN_KDF_COST): fast enough for tests, accepted by every reader. */
export const TEST_KDF = { N: 1 << 14, r: 8, p: 1 } as const;

export async function newSharedStore(passphrase = 'correct horse battery staple', medium?: Medium): Promise<{ shared: string; header: StoreHeader; key: Buffer; medium?: Medium }> {
  const shared = medium?.label ?? tempDir('cs-shared-');
  const { header, storeKey } = await createHeader(passphrase, TEST_KDF);
  await ReplicaFolder.writeHeader(medium ?? shared, header);
  return { shared, header, key: storeKey, medium };
}

export interface Device {
  name: string;
  id: string;
  localRoot: string;
  replica: PracticeReplica;
  exchange: SharedFolderExchange;
  /** What a host would get: the contract over the replica and its carrier (close ends both in order). */
  store: OpenPracticeStore;
}

export async function openDevice(
  store: { shared: string; header: StoreHeader; key: Buffer | Keyring; medium?: Medium },
  name: string,
  /** `medium`: this device's own connection to the store's server (each PC has its own). */
  opts: { id?: string; localRoot?: string; start?: boolean; sharedRoot?: string; medium?: Medium; exchange?: Partial<ExchangeOptions> } = {},
): Promise<Device> {
  const id = opts.id ?? crypto.randomBytes(16).toString('hex');
  const localRoot = opts.localRoot ?? path.join(tempDir(`cs-${name}-`), 'replica');
  const replica = await PracticeReplica.open({ localRoot, header: store.header, key: store.key, deviceId: id, deviceName: name, userName: 'tester', sealDelayMs: 5 });
  const exchange = new SharedFolderExchange(replica, { sharedRoot: opts.sharedRoot ?? store.shared, medium: opts.medium ?? store.medium, deviceName: name, userName: 'tester', pollMs: 100, heartbeatMs: 500, watch: false, ...opts.exchange });
  if (opts.start) exchange.start();
  return { name, id, localRoot, replica, exchange, store: new OpenPracticeStore(replica, exchange) };
}

/** Seal, push and pull on every device until nothing moves. */
export async function syncAll(devices: Pick<Device, 'replica' | 'exchange'>[], rounds = 2): Promise<void> {
  for (let i = 0; i < rounds; i++)
    for (const d of devices) {
      await d.replica.sealNow();
      await d.exchange.exchange();
    }
}

/**
 * A history made in a local folder (fast, then put on a server as it is): `devices` PCs that each
 * wrote `files` log files of one record each (`text` characters of it), all taken in by every PC.
 */
export async function localHistory(devices: number, files: number, text = 0): Promise<{ local: Awaited<ReturnType<typeof newSharedStore>>; devs: Device[] }> {
  const local = await newSharedStore('Teekanne-Nordstrand-2026');
  const devs: Device[] = [];
  for (let i = 0; i < devices; i++) devs.push(await openDevice(local, `PC${i}`, { exchange: { heartbeatMs: 600_000 } }));
  await Promise.all(
    devs.map(async (d) => {
      for (let n = 0; n < files; n++) {
        await d.replica.put('clients', `c-${d.name}-${n}`, text ? { n, text: 'x'.repeat(text) } : { n });
        await d.replica.sealNow();
      }
    }),
  );
  await syncAll(devs, 2);
  return { local, devs };
}
