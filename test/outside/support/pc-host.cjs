// A practice PC's host, written from HOST-API.md alone (no import of the plugin's sources): it reads
// the manifest, imports `main`, loads `pluginModule` into a child container, binds the §2 services,
// collects the contributions and lets the test drive them over the process's IPC channel. Dialog
// answers are queued by the test in advance; every dialog, notice, log line and stream value is sent
// back to the test. Run as a child process so that NODE_EXTRA_CA_CERTS (read only at start) and a
// keychain of its own can be given per PC.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const S = (n) => Symbol.for(`host.${n}`);
const pluginDir = process.env.PC_PLUGIN_DIR;
const send = (m) => {
  try {
    process.send(m);
  } catch {
    // the test went away
  }
};

const answers = { credentials: [], secrets: [], folders: [] };
let plugin;
let page;
let lastView;
let store;
let loop;
const subs = [];

function makeHost(Container) {
  const host = new Container();
  host.bind(S('HostEnvironment')).toConstantValue({
    apiVersion: '1.1.0',
    appDataDir: process.env.PC_APP_DATA,
    deviceName: process.env.PC_DEVICE,
    userName: process.env.PC_USER || 'praxis',
    locale: process.env.PC_LOCALE || 'de',
    platform: process.platform,
  });
  host.bind(S('FeatureFlags')).toConstantValue({ isEnabled: (f) => f === 'cloudStorage' });
  host.bind(S('HostDialogs')).toConstantValue({
    async pickFolder(req) {
      send({ event: 'dialog', kind: 'folder', req });
      return answers.folders.shift();
    },
    async promptCredentials(req) {
      send({ event: 'dialog', kind: 'credentials', req });
      return answers.credentials.shift();
    },
    async promptSecret(req) {
      send({ event: 'dialog', kind: 'secret', req });
      return answers.secrets.shift();
    },
    notify(n) {
      send({ event: 'notify', n });
    },
    withdraw(id) {
      send({ event: 'withdraw', id });
    },
  });
  host.bind(S('HostLocalData')).toConstantValue({ count: async () => 0, records: async function* () {} });
  const log = (level) => (msg, meta) => send({ event: 'log', line: `${level} ${msg} ${meta === undefined ? '' : safeJson(meta)}` });
  host.bind(S('HostLogger')).toConstantValue({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') });
  return host;
}

function safeJson(v) {
  try {
    return JSON.stringify(v, (_k, x) => (x instanceof Error ? { name: x.name, message: x.message, code: x.code } : x));
  } catch {
    return String(v);
  }
}

async function load() {
  const manifest = JSON.parse(fs.readFileSync(path.join(pluginDir, 'plugin.manifest.json'), 'utf8'));
  const { Container } = require('inversify');
  const host = makeHost(Container);
  const mod = require(path.resolve(pluginDir, manifest.main));
  const pluginModule = mod.pluginModule ?? mod.default;
  const child = new Container({ parent: host });
  await (child.loadAsync ? child.loadAsync(pluginModule) : child.load(pluginModule));
  const all = (name) => (child.isBound(S(name)) ? child.getAll(S(name)) : []);
  const p = {
    manifest,
    settingsPages: all('SettingsPageContribution'),
    startupGuards: all('StartupGuardContribution'),
    storageProviders: all('StorageProviderContribution'),
    async unload() {
      await (child.unloadAsync ? child.unloadAsync(pluginModule) : child.unload(pluginModule));
    },
  };
  const ids = (xs) => xs.map((x) => x.id).sort().join();
  const want = (xs) => (xs ?? []).map((x) => x.id).sort().join();
  if (ids(p.settingsPages) !== want(manifest.contributes.settingsPages)) throw new Error('settings pages differ from the manifest');
  if (ids(p.startupGuards) !== want(manifest.contributes.startupGuards)) throw new Error('guards differ from the manifest');
  if (ids(p.storageProviders) !== want(manifest.contributes.storageProviders)) throw new Error('providers differ from the manifest');
  const prov = p.storageProviders[0];
  subs.push(prov.access$.subscribe({ next: (v) => send({ event: 'access', v }), complete: () => send({ event: 'access-complete' }) }));
  subs.push(prov.sync$.subscribe({ next: (v) => send({ event: 'sync', v }), complete: () => send({ event: 'sync-complete' }) }));
  return p;
}

const ops = {
  async load() {
    plugin = await load();
    return plugin.manifest.id;
  },
  answer({ kind, values }) {
    answers[kind].push(...values);
    return answers[kind].length;
  },
  openPage() {
    page = plugin.settingsPages[0].open();
    subs.push(page.view$.subscribe((v) => {
      lastView = v;
      send({ event: 'view', v });
    }));
    return true;
  },
  view() {
    return lastView;
  },
  setValue({ field, value }) {
    page.setValue(field, value);
    return true;
  },
  invoke({ action }) {
    return page.invoke(action);
  },
  disposePage() {
    page?.dispose();
    page = undefined;
    return true;
  },
  check() {
    return plugin.startupGuards[0].check();
  },
  act({ action }) {
    return plugin.startupGuards[0].act(action);
  },
  isActive() {
    return plugin.storageProviders[0].isActive();
  },
  async open() {
    store = await plugin.storageProviders[0].open();
    subs.push(store.conflicts$.subscribe((c) => send({ event: 'conflicts', v: c })));
    subs.push(store.changes$.subscribe((c) => send({ event: 'change', v: c })));
    return { readOnly: store.readOnly };
  },
  put({ c, id, data, opts }) {
    return store.put(c, id, data, opts);
  },
  get({ c, id }) {
    return store.get(c, id);
  },
  list({ c }) {
    return store.list(c);
  },
  history({ c, id }) {
    return store.history(c, id);
  },
  resolve({ c, id, data }) {
    return store.resolveConflict(c, id, data);
  },
  async putAttachment({ b64, meta }) {
    return store.putAttachment(Buffer.from(b64, 'base64'), meta);
  },
  async getAttachment({ ref }) {
    return Buffer.from(await store.getAttachment(ref)).toString('base64');
  },
  flush({ timeoutMs }) {
    return store.flush({ timeoutMs });
  },
  async closeStore() {
    await store?.close();
    store = undefined;
    return true;
  },
  async unload() {
    const t = Date.now();
    page?.dispose();
    await plugin?.unload();
    return Date.now() - t;
  },
  loopStart() {
    const { monitorEventLoopDelay } = require('node:perf_hooks');
    loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    return true;
  },
  loopStop() {
    loop.disable();
    return Math.round(loop.max / 1e6);
  },
  handles() {
    return process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap' && r !== 'TTYWrap');
  },
};

process.on('message', async (m) => {
  const t = Date.now();
  try {
    const value = await ops[m.op](m.args ?? {});
    send({ id: m.id, ok: true, value: value === undefined ? null : value, ms: Date.now() - t });
  } catch (e) {
    send({ id: m.id, ok: false, error: { name: e?.name, message: String(e?.message ?? e), code: e?.code }, ms: Date.now() - t });
  }
});
process.on('unhandledRejection', (e) => send({ event: 'crash', what: 'unhandledRejection', message: String(e?.stack ?? e) }));
process.on('uncaughtException', (e) => send({ event: 'crash', what: 'uncaughtException', message: String(e?.stack ?? e) }));
send({ event: 'ready' });
