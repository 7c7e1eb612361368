// The settings page's view derives from state without I/O: the folder field is checked when it
// changes (debounced, bounded, in the probe's child process), and render only reads the result.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BehaviorSubject } from 'rxjs';
import type { Container } from 'inversify';
import type { SettingsView } from '../../src/host-api';
import { ProbeChildOptions, type PathKind } from '../../src/services/access/shared-folder-probe';
import { FolderClassifier } from '../../src/services/access/folder-classifier';
import { CredentialStore } from '../../src/services/credentials/credential-store';
import { InMemoryCredentialStore } from '../support/memory-credential-store';
import { SettingsController, type FolderChecks } from '../../src/services/settings/settings-controller';
import type { CloudStorageService } from '../../src/services/cloud-storage-service';
import { makeHost, PROJECT_ROOT } from '../support/test-host';
import { TIMINGS, openPage } from '../support/settings-page';
import { tempDir, waitFor } from '../support/temp';

// The real modules (not the namespace copies an import makes), so spies see the built plugin's calls too.
const realFs = require('node:fs') as typeof import('node:fs');
const realCp = require('node:child_process') as typeof import('node:child_process');
/** The built plugin's classes, as the loader loaded them (jest shares one module registry per file). */
const dist = (m: string) => require(path.join(PROJECT_ROOT, 'dist', m));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hostWith(bind: (c: Container) => void, timings = TIMINGS) {
  return makeHost({
    bind: (c) => {
      c.bind(Symbol.for('cloud-storage.Timings')).toConstantValue(timings);
      c.bind(CredentialStore).toConstantValue(new InMemoryCredentialStore());
      bind(c);
    },
  });
}

/** A --require hook for the probe's child: writes every path it stats to `log`, one a line. */
function statLogHook(): { hook: string; log: string; lines(): string[] } {
  const dir = tempDir('cs-statlog-');
  const hook = path.join(dir, 'statlog.js');
  const log = path.join(dir, 'stat.log');
  fs.writeFileSync(hook, `const fs = require('fs'); const orig = fs.promises.stat; fs.promises.stat = (p, ...a) => { fs.appendFileSync(${JSON.stringify(log)}, String(p) + '\\n'); return orig(p, ...a); };`);
  return { hook, log, lines: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []) };
}

/** A --require hook for the probe's child: every fs.promises call never settles, like a dead SMB share. */
function hangHook(): string {
  const hook = path.join(tempDir('cs-hang-'), 'hang.js');
  fs.writeFileSync(hook, "const fs = require('fs'); for (const k of Object.keys(fs.promises)) if (typeof fs.promises[k] === 'function') fs.promises[k] = () => new Promise(() => {}); setInterval(() => {}, 1000);");
  return hook;
}

describe('settings page: the view reads state, the folder is checked when it changes', () => {
  test('render does no file-system I/O: hundreds of status emissions stat nothing, spawn nothing, classify nothing', async () => {
    const h = hostWith(() => undefined);
    const { plugin, page } = await openPage(h);
    const folder = tempDir('cs-view-');
    page.set(folder);
    await waitFor(() => page.item('folder-kind') !== undefined, 5000, 'folder kind');
    const service = plugin.container.get(dist('services/cloud-storage-service').CloudStorageService) as CloudStorageService;
    const Classifier = dist('services/access/folder-classifier').FolderClassifier as typeof FolderClassifier;
    const spies = {
      statSync: jest.spyOn(realFs, 'statSync'),
      lstatSync: jest.spyOn(realFs, 'lstatSync'),
      existsSync: jest.spyOn(realFs, 'existsSync'),
      readFileSync: jest.spyOn(realFs, 'readFileSync'), // the mount table and the cloud clients' settings are read this way
      readdirSync: jest.spyOn(realFs, 'readdirSync'),
      accessSync: jest.spyOn(realFs, 'accessSync'),
      'promises.stat': jest.spyOn(realFs.promises, 'stat'),
      spawn: jest.spyOn(realCp, 'spawn'),
      classify: jest.spyOn(Classifier.prototype, 'classify'),
      shareOf: jest.spyOn(Classifier.prototype, 'shareOf'),
    };
    let renders = 0;
    const sub = page.session.view$.subscribe(() => renders++);
    try {
      for (let i = 0; i < 300; i++) {
        service.setAccess(i % 2 ? 'unavailable' : 'checking', folder, i % 2 ? { de: `Versuch ${i}`, en: `Attempt ${i}` } : undefined);
        (service as unknown as { sync: BehaviorSubject<unknown> }).sync.next({ ...service.syncStatus, pendingUploads: i });
      }
      page.set(folder); // the same value again: shown again, not checked again
      await sleep(500); // longer than the debounce: nothing was scheduled either
      expect(renders).toBeGreaterThanOrEqual(600);
      expect(Object.entries(spies).map(([name, s]) => [name, s.mock.calls.length]).filter(([, n]) => n !== 0)).toEqual([]);
      expect(page.item('folder-kind').text.de).toContain('Lokaler Ordner');
      expect(page.item('folder').error).toBeUndefined();
    } finally {
      sub.unsubscribe();
      for (const s of Object.values(spies)) s.mockRestore();
    }
    await plugin.unload();
  });

  test('typing fast: only the last value is checked, and its answer is what the field shows', async () => {
    const s = statLogHook();
    const h = hostWith((c) => c.bind(ProbeChildOptions).toConstantValue({ execArgv: ['--require', s.hook] }));
    const { plugin, page } = await openPage(h);
    const base = tempDir('cs-typing-');
    const typed: string[] = [];
    for (let i = 0; i < 40; i++) {
      const d = path.join(base, `praxis-${i}`);
      fs.mkdirSync(d);
      typed.push(d);
    }
    const last = path.join(base, 'gibt-es-nicht'); // every earlier value is a real folder: an old answer would show a kind, not this error
    typed.push(last);
    for (const v of typed) {
      page.set(v);
      expect(page.item('folder').error).toBeUndefined(); // never a stale error while typing
      await sleep(4);
    }
    expect(page.item('folder-checking').text).toEqual({ de: 'Der Ordner wird geprüft …', en: 'Checking the folder …' });
    await waitFor(() => page.item('folder').error !== undefined, 5000, 'the last value checked');
    expect(page.item('folder').error.en).toMatch(/does not exist/);
    expect(page.item('folder-kind')).toBeUndefined();
    expect(page.item('save').enabled).toBe(true); // pressing it says what is wrong (issue #17, 4)
    await sleep(600);
    expect(s.lines()).toEqual([last]);
    await plugin.unload();
  });

  test('an answer for an older value that arrives late is dropped (and that check was aborted)', async () => {
    const calls: { folder: string; signal: AbortSignal; answer(k: PathKind): void }[] = [];
    const checks: FolderChecks = {
      timeoutMs: 5000,
      debounceMs: 20,
      // A check that ignores its abort signal and answers when told: the worst case for ordering.
      pathKind: (folder, signal) => new Promise((answer) => calls.push({ folder, signal, answer })),
    };
    const classify = jest.fn(() => ({ kind: 'local' as const }));
    const service = {
      env: { appDataDir: tempDir('cs-appdata-'), platform: process.platform, locale: 'de', deviceName: 'Praxis-PC 1' },
      configStore: { read: async () => ({ kind: 'none' }) },
      access$: new BehaviorSubject({ state: 'not-configured', since: new Date().toISOString() }),
      sync$: new BehaviorSubject(null),
      keyState$: new BehaviorSubject(undefined),
      accessStatus: { state: 'not-configured', since: new Date().toISOString() },
      syncStatus: { state: 'local-only', pendingUploads: 0, awaited: 0, conflicts: 0, devices: [] },
      isActive: false,
      classifier: { classify },
    } as unknown as CloudStorageService;
    const c = new SettingsController(service, {} as never, {} as never, undefined, checks);
    let view: SettingsView | undefined;
    c.view$.subscribe((v) => (view = v));
    const item = (id: string) => view!.sections.flatMap((s) => s.items).find((i) => i.id === id) as any;
    const a = tempDir('cs-a-');
    const b = path.join(tempDir('cs-b-'), 'datei.txt');
    c.setValue('folder', a);
    await waitFor(() => calls.length === 1, 2000, 'check of a');
    c.setValue('folder', b);
    expect(calls[0]!.signal.aborted).toBe(true);
    await waitFor(() => calls.length === 2, 2000, 'check of b');
    calls[1]!.answer('not-directory');
    await waitFor(() => item('folder').error !== undefined, 2000, 'b answered');
    calls[0]!.answer('directory'); // late, for a value no longer current
    await sleep(50);
    expect(item('folder').value).toBe(b);
    expect(item('folder').error.en).toMatch(/file, not a folder/);
    expect(item('folder-kind')).toBeUndefined();
    expect(classify).not.toHaveBeenCalled(); // a's late "directory" was never classified
    c.dispose();
  });

  test('a folder that never answers: "not reachable right now" at the time limit, in the field and on save', async () => {
    // A hung network drive cannot be made on this machine: the probe's real child process gets a
    // hook under which every fs call never settles (as on a dead SMB share); the bound is real.
    const h = hostWith((c) => c.bind(ProbeChildOptions).toConstantValue({ execArgv: ['--require', hangHook()] }), { ...TIMINGS, probeTimeoutMs: 1000 });
    const { plugin, page } = await openPage(h);
    const folder = tempDir('cs-hung-');
    const t0 = Date.now();
    page.set(folder);
    expect(page.item('folder').error).toBeUndefined();
    expect(page.item('folder-checking').text.de).toBe('Der Ordner wird geprüft …');
    await waitFor(() => page.item('folder').error !== undefined, 5000, 'the bound');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(page.item('folder').error).toEqual({ de: expect.stringContaining('gerade nicht erreichbar'), en: expect.stringContaining('not reachable right now') });
    expect(page.item('folder-checking')).toBeUndefined();
    expect(page.item('save').enabled).toBe(true); // pressing it says what is wrong (issue #17, 4)
    const t1 = Date.now();
    const out = await page.invoke('save');
    expect(Date.now() - t1).toBeLessThan(4000);
    expect(!out.ok && out.fieldErrors?.folder?.en).toMatch(/not reachable right now/);
    expect(fs.existsSync(path.join(h.env.appDataDir, 'cloud-storage', 'config.json'))).toBe(false);
    await plugin.unload();
  });

  test('dispose ends pending checks: a debounced one never starts, a running one has its child killed', async () => {
    const h = hostWith((c) => c.bind(ProbeChildOptions).toConstantValue({ execArgv: ['--require', hangHook()] }), { ...TIMINGS, probeTimeoutMs: 60000 });
    const { plugin } = await openPage(h);
    const spawned: import('node:child_process').ChildProcess[] = [];
    const orig = realCp.spawn;
    const spy = jest.spyOn(realCp, 'spawn').mockImplementation(((...a: Parameters<typeof orig>) => {
      const p = (orig as (...x: unknown[]) => import('node:child_process').ChildProcess)(...a);
      spawned.push(p);
      return p;
    }) as typeof orig);
    try {
      // debounced, not started yet
      const s1 = plugin.settingsPages[0]!.open();
      s1.setValue('folder', tempDir('cs-d1-'));
      s1.dispose();
      await sleep(500);
      expect(spawned).toHaveLength(0);
      // running: its child hangs (bound 60 s) until dispose kills it
      const s2 = plugin.settingsPages[0]!.open();
      s2.setValue('folder', tempDir('cs-d2-'));
      await waitFor(() => spawned.length === 1, 5000, 'the check started');
      const child = spawned[0]!;
      await sleep(200);
      expect(child.exitCode === null && child.signalCode === null).toBe(true); // still hanging
      s2.dispose();
      await waitFor(() => child.signalCode === 'SIGKILL', 3000, 'the child killed');
    } finally {
      spy.mockRestore();
    }
    await plugin.unload();
  });
});
