// The reference host's plugin loader: HOST-API §1, step by step. It uses only the manifest, the
// plugin's `main` and the extension-point symbols — never the plugin's internals.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Container, ContainerModule } from 'inversify';
import * as semver from 'semver';
import {
  FeatureFlags,
  HOST_API_VERSION,
  PluginManifestSchema,
  SettingsPageContribution,
  StartupGuardContribution,
  StorageProviderContribution,
  type PluginManifest,
} from '../src/host-api';

export class PluginLoadError extends Error {
  constructor(
    readonly pluginDir: string,
    readonly reason: 'manifest-missing' | 'manifest-invalid' | 'engine-mismatch' | 'import-failed' | 'no-module' | 'contribution-mismatch',
    message: string,
  ) {
    super(message);
  }
}

export interface LoadedPlugin {
  readonly manifest: PluginManifest;
  readonly container: Container;
  readonly settingsPages: readonly SettingsPageContribution[];
  readonly startupGuards: readonly StartupGuardContribution[];
  readonly storageProviders: readonly StorageProviderContribution[];
  unload(): Promise<void>;
}

export type LoadResult = { kind: 'loaded'; plugin: LoadedPlugin } | { kind: 'skipped'; reason: 'feature-flag-off'; manifest: PluginManifest };

/** Step 1: the manifest, validated; the message names the field. */
export async function readManifest(pluginDir: string): Promise<PluginManifest> {
  const file = path.join(pluginDir, 'plugin.manifest.json');
  let raw: string;
  try {
    raw = await fs.readFile(file, 'utf8');
  } catch {
    throw new PluginLoadError(pluginDir, 'manifest-missing', `plugin.manifest.json is missing in ${pluginDir}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new PluginLoadError(pluginDir, 'manifest-invalid', `plugin.manifest.json is not valid JSON: ${(e as Error).message}`);
  }
  const r = PluginManifestSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new PluginLoadError(pluginDir, 'manifest-invalid', `plugin.manifest.json: field "${i.path.map(String).join('.') || '(root)'}" ${i.message}`);
  }
  return r.data;
}

function isContainerModule(v: unknown): v is ContainerModule {
  return v instanceof ContainerModule || (typeof v === 'object' && v !== null && typeof (v as ContainerModule).load === 'function' && typeof (v as ContainerModule).id === 'number');
}

/**
 * Loads one plugin into a child container of `host`. Nothing is loaded half-way: any failure after
 * the child container was filled unloads it again before the error is thrown.
 */
export async function loadPlugin(pluginDir: string, host: Container, apiVersion = HOST_API_VERSION): Promise<LoadResult> {
  const manifest = await readManifest(pluginDir);
  // Step 2: never import a plugin that is not unlocked for this account.
  const flags = host.get<FeatureFlags>(FeatureFlags);
  if (!flags.isEnabled(manifest.activation.featureFlag)) return { kind: 'skipped', reason: 'feature-flag-off', manifest };
  // Step 3.
  if (!semver.satisfies(apiVersion, manifest.engines.host))
    throw new PluginLoadError(pluginDir, 'engine-mismatch', `plugin "${manifest.id}" needs host API ${manifest.engines.host}, this host implements ${apiVersion}`);
  // Step 4.
  const mainPath = path.resolve(pluginDir, manifest.main);
  if (!mainPath.startsWith(path.resolve(pluginDir) + path.sep))
    throw new PluginLoadError(pluginDir, 'manifest-invalid', `plugin.manifest.json: field "main" points outside the plugin folder`);
  let mod: Record<string, unknown>;
  try {
    // CommonJS hosts (and jest) require(); an ESM host imports by file URL. HOST-API §1 allows both.
    mod = (typeof require === 'function' ? require(mainPath) : await import(pathToFileURL(mainPath).href)) as Record<string, unknown>;
  } catch (e) {
    throw new PluginLoadError(pluginDir, 'import-failed', `plugin "${manifest.id}": importing ${manifest.main} failed: ${(e as Error).message}`);
  }
  const candidate = mod.pluginModule ?? (mod.default as Record<string, unknown> | undefined)?.pluginModule ?? mod.default;
  if (!isContainerModule(candidate)) throw new PluginLoadError(pluginDir, 'no-module', `plugin "${manifest.id}": ${manifest.main} exports no ContainerModule "pluginModule"`);
  // Step 5.
  const container = new Container({ parent: host });
  await container.loadAsync(candidate);
  try {
    // Step 6: collect and match ids one to one.
    const collect = <T extends { id: string }>(sym: symbol): T[] => (container.isCurrentBound(sym) ? container.getAll<T>(sym) : []);
    const settingsPages = collect<SettingsPageContribution>(SettingsPageContribution);
    const startupGuards = collect<StartupGuardContribution>(StartupGuardContribution);
    const storageProviders = collect<StorageProviderContribution>(StorageProviderContribution);
    const check = (point: string, bound: { id: string }[], declared: { id: string }[]) => {
      const b = bound.map((x) => x.id).sort();
      const d = declared.map((x) => x.id).sort();
      const extra = b.filter((x) => !d.includes(x));
      const missing = d.filter((x) => !b.includes(x));
      if (extra.length || missing.length || b.length !== d.length)
        throw new PluginLoadError(
          pluginDir,
          'contribution-mismatch',
          `plugin "${manifest.id}" ${point}: ${extra.length ? `bound but not declared: ${extra.join(', ')}` : ''}${extra.length && missing.length ? '; ' : ''}${missing.length ? `declared but not bound: ${missing.join(', ')}` : ''}${!extra.length && !missing.length ? 'an id is bound twice' : ''}`,
        );
    };
    check('settingsPages', settingsPages, manifest.contributes.settingsPages);
    check('startupGuards', startupGuards, manifest.contributes.startupGuards);
    check('storageProviders', storageProviders, manifest.contributes.storageProviders);
    let unloaded = false;
    const plugin: LoadedPlugin = {
      manifest,
      container,
      settingsPages,
      startupGuards: [...startupGuards].sort((a, b) => a.order - b.order),
      storageProviders,
      // Step 7: every timer, watcher, lock and subscription of the plugin is released here.
      async unload() {
        if (unloaded) return;
        unloaded = true;
        await container.unloadAsync(candidate);
      },
    };
    return { kind: 'loaded', plugin };
  } catch (e) {
    await container.unloadAsync(candidate).catch(() => undefined);
    throw e;
  }
}
