// This device's cloud configuration: which shared folder, which store. No secret ever lives here.
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { inject, injectable } from 'inversify';
import { z } from 'zod';
import { HostEnvironment } from '../../host-api';
import { errnoOf } from '../common/errors';
import { writeDurable } from '../common/durable-fs';
import { PRIVATE_MODES } from '../common/private-fs';

export const CloudConfigSchema = z
  .object({
    version: z.literal(1),
    folder: z.string().min(1).max(4096),
    storeId: z.string().regex(/^[0-9a-f]{32}$/),
    configuredAt: z.string().max(40),
  })
  .strict();
export type CloudConfig = z.infer<typeof CloudConfigSchema>;

export type ConfigReading = { kind: 'none' } | { kind: 'ok'; config: CloudConfig } | { kind: 'unreadable'; reason: string };

/** The plugin's own folder inside the host's app-data folder. */
export function pluginDataDir(env: HostEnvironment): string {
  return path.join(env.appDataDir, 'cloud-storage');
}

@injectable()
export class CloudConfigStore {
  constructor(@inject(HostEnvironment) protected readonly env: HostEnvironment) {}

  get file(): string {
    return path.join(pluginDataDir(this.env), 'config.json');
  }

  async read(): Promise<ConfigReading> {
    let raw: string;
    try {
      raw = await fsp.readFile(this.file, 'utf8');
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return { kind: 'none' };
      return { kind: 'unreadable', reason: errnoOf(e) ?? 'read error' };
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return { kind: 'unreadable', reason: 'not JSON' };
    }
    const r = CloudConfigSchema.safeParse(json);
    if (!r.success) return { kind: 'unreadable', reason: `field ${r.error.issues[0]?.path.join('.') || '(root)'}: ${r.error.issues[0]?.message}` };
    return { kind: 'ok', config: r.data };
  }

  async write(config: CloudConfig): Promise<void> {
    await writeDurable(this.file, JSON.stringify(CloudConfigSchema.parse(config), null, 2) + '\n', undefined, PRIVATE_MODES);
  }

  /** Forgets this device's configuration; the shared folder and the local replica stay as they are. */
  async remove(): Promise<void> {
    await fsp.rm(this.file, { force: true });
  }
}
