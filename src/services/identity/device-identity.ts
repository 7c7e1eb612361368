// One writer per device identity (invariant 7, docs/STORE-FORMAT.md): a copied app-data folder gets a fresh identity.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inject, injectable } from 'inversify';
import { z } from 'zod';
import { HostEnvironment } from '../../host-api';
import { writeDurable } from '../common/durable-fs';
import { PRIVATE_MODES, makeDirs } from '../common/private-fs';
import { pluginDataDir } from '../config/cloud-config';

const IdentitySchema = z.object({
  deviceId: z.string().regex(/^[0-9a-f]{32}$/),
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string().max(40),
  replaces: z.array(z.string().regex(/^[0-9a-f]{32}$/)).max(100).default([]),
});
export type Identity = z.infer<typeof IdentitySchema>;

/** What ties an identity to one machine and one folder; a copy elsewhere does not match. */
export const MachineFingerprint = Symbol.for('cloud-storage.MachineFingerprint');
export type MachineFingerprint = () => string;
export function defaultMachineFingerprint(): string {
  let machineId = '';
  for (const f of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      machineId = fs.readFileSync(f, 'utf8').trim();
      break;
    } catch {
      // not on this platform
    }
  }
  return `${os.hostname()}\n${machineId}`;
}

@injectable()
export class DeviceIdentity {
  protected current?: Identity;

  constructor(
    @inject(HostEnvironment) protected readonly env: HostEnvironment,
    @inject(MachineFingerprint) protected readonly machine: MachineFingerprint,
  ) {}

  protected fingerprint(): string {
    let dir = pluginDataDir(this.env);
    try {
      dir = fs.realpathSync(dir);
    } catch {
      // not created yet
    }
    return crypto.createHash('sha256').update(`${this.machine()}\n${dir}`).digest('hex');
  }

  /** This device's id; a new one when the app-data folder was copied from another machine or place. */
  async get(): Promise<Identity> {
    if (this.current) return this.current;
    const file = path.join(pluginDataDir(this.env), 'identity.json');
    await makeDirs(pluginDataDir(this.env), PRIVATE_MODES);
    const fp = this.fingerprint();
    let old: Identity | undefined;
    try {
      old = IdentitySchema.parse(JSON.parse(await fs.promises.readFile(file, 'utf8')));
    } catch {
      old = undefined;
    }
    if (old && old.fingerprint === fp) return (this.current = old);
    const fresh: Identity = {
      deviceId: crypto.randomBytes(16).toString('hex'),
      fingerprint: fp,
      createdAt: new Date().toISOString(),
      replaces: old ? [...old.replaces, old.deviceId].slice(-100) : [],
    };
    await writeDurable(file, JSON.stringify(fresh, null, 2) + '\n', undefined, PRIVATE_MODES);
    return (this.current = fresh);
  }
}
