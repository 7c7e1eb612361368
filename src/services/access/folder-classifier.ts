// What kind of folder the user chose, so the page can show the warning that fits (the seed's
// warnings, turned into advice): cloud-synced (which client), removable medium, network share, local disk.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inject, injectable, optional } from 'inversify';
import type { LocalizedText } from '../../host-api';
import { parseShare, type ShareAddress } from './share-connector';

import { keychainName } from '../common/wording';
export type CloudClient = 'dropbox' | 'onedrive' | 'google-drive' | 'nextcloud' | 'icloud';
export type FolderKind =
  | { kind: 'cloud'; client: CloudClient }
  | { kind: 'removable' }
  | { kind: 'network'; server?: string; share?: string }
  | { kind: 'local' };

/** Everything the detectors read, so each can be tested on fixture files and environments. */
export const ClassifierContext = Symbol.for('cloud-storage.ClassifierContext');
export interface ClassifierContext {
  readonly platform: NodeJS.Platform;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly home: string;
  readFile(p: string): string | undefined;
  /** Linux: /proc/self/mounts; macOS: output of `mount`. */
  mounts(): string | undefined;
}

export function systemClassifierContext(): ClassifierContext {
  return {
    platform: process.platform,
    env: process.env,
    home: os.homedir(),
    readFile: (p) => {
      try {
        return fs.readFileSync(p, 'utf8');
      } catch {
        return undefined;
      }
    },
    mounts: () => {
      try {
        return fs.readFileSync('/proc/self/mounts', 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}

function norm(p: string, platform: NodeJS.Platform): string {
  const pp = platform === 'win32' ? path.win32.normalize(p).toLowerCase() : path.posix.normalize(p);
  return pp.replace(/[\\/]+$/, '');
}

function isInside(folder: string, root: string | undefined, platform: NodeJS.Platform): boolean {
  if (!root) return false;
  const f = norm(folder, platform);
  const r = norm(root, platform);
  const sep = platform === 'win32' ? '\\' : '/';
  return f === r || f.startsWith(r + sep);
}

export function dropboxRoots(ctx: ClassifierContext): string[] {
  const files =
    ctx.platform === 'win32'
      ? [ctx.env.APPDATA && path.win32.join(ctx.env.APPDATA, 'Dropbox', 'info.json'), ctx.env.LOCALAPPDATA && path.win32.join(ctx.env.LOCALAPPDATA, 'Dropbox', 'info.json')]
      : [path.posix.join(ctx.home, '.dropbox', 'info.json')];
  const roots: string[] = [];
  for (const f of files) {
    const raw = f ? ctx.readFile(f) : undefined;
    if (!raw) continue;
    try {
      const info = JSON.parse(raw) as Record<string, { path?: unknown }>;
      for (const acct of Object.values(info)) if (acct && typeof acct.path === 'string') roots.push(acct.path);
    } catch {
      // a broken info.json says nothing
    }
  }
  return roots;
}

export function nextcloudRoots(ctx: ClassifierContext): string[] {
  const f =
    ctx.platform === 'win32'
      ? ctx.env.APPDATA && path.win32.join(ctx.env.APPDATA, 'Nextcloud', 'nextcloud.cfg')
      : ctx.platform === 'darwin'
        ? path.posix.join(ctx.home, 'Library', 'Preferences', 'Nextcloud', 'nextcloud.cfg')
        : path.posix.join(ctx.env.XDG_CONFIG_HOME ?? path.posix.join(ctx.home, '.config'), 'Nextcloud', 'nextcloud.cfg');
  const raw = f ? ctx.readFile(f) : undefined;
  if (!raw) return [];
  const roots: string[] = [];
  for (const line of raw.split(/\r?\n/)) {
    const m = /^\d+\\Folders(?:WithPlaceholders)?\\\d+\\localPath=(.+)$/.exec(line.trim());
    if (m) roots.push(m[1]!.trim());
  }
  return roots;
}

/** The mount a folder lies on (longest mount point containing it): its source and file-system type. */
export function mountOf(folder: string, ctx: ClassifierContext): { source: string; type: string } | undefined {
  const text = ctx.mounts();
  if (!text) return undefined;
  let best: { point: string; source: string; type: string } | undefined;
  for (const line of text.split('\n')) {
    let m: [string, string, string] | undefined;
    const linux = /^(\S+) (\S+) (\S+) /.exec(line);
    const mac = /^(.+) on (.+) \((\w+)[,)]/.exec(line);
    if (ctx.platform === 'darwin' && mac) m = [mac[1]!, mac[2]!, mac[3]!];
    else if (linux) m = [linux[1]!.replace(/\\040/g, ' '), linux[2]!.replace(/\\040/g, ' '), linux[3]!];
    if (m && isInside(folder, m[1], ctx.platform) && (!best || m[1].length > best.point.length)) best = { source: m[0], point: m[1], type: m[2] };
  }
  return best && { source: best.source, type: best.type };
}

export function networkMount(folder: string, ctx: ClassifierContext): boolean {
  return /^(cifs|smb3|smbfs|nfs|nfs4|fuse\.sshfs|davfs|fuse\.davfs2|9p|afpfs|webdav)$/.test(mountOf(folder, ctx)?.type ?? '');
}

function removableMount(folder: string, ctx: ClassifierContext): boolean {
  if (ctx.platform === 'linux') return /^\/(media|run\/media)\//.test(folder);
  if (ctx.platform === 'darwin') return /^\/Volumes\//.test(folder) && !networkMount(folder, ctx);
  return false;
}

/** Windows `fsutil fsinfo drivetype X:` output → removable? (English and German Windows). */
export function parseWindowsDriveType(output: string): 'removable' | 'network' | 'fixed' | 'unknown' {
  if (/Removable|Wechselmedi/i.test(output)) return 'removable';
  if (/Remote|Netzlaufwerk|Network/i.test(output)) return 'network';
  if (/Fixed|Festplatte/i.test(output)) return 'fixed';
  return 'unknown';
}

@injectable()
export class FolderClassifier {
  protected readonly ctx: ClassifierContext;

  constructor(@inject(ClassifierContext) @optional() ctx?: ClassifierContext) {
    this.ctx = ctx ?? systemClassifierContext();
  }

  /**
   * The SMB share to log in to for a folder: a UNC path itself, or the source of the SMB mount a
   * folder lies on (`//nas/praxis` mounted at `/mnt/praxis`, or `//user@nas/praxis` on macOS).
   */
  shareOf(folder: string): ShareAddress | undefined {
    const direct = parseShare(folder);
    if (direct) return direct;
    if (this.ctx.platform === 'win32') return undefined;
    const m = mountOf(folder, this.ctx);
    if (!m || !/^(cifs|smb3|smbfs)$/.test(m.type)) return undefined;
    return parseShare(m.source.replace(/^\/\/[^@/]+@/, '//'));
  }

  classify(folder: string, windowsDriveType?: string): FolderKind {
    const ctx = this.ctx;
    const unc = /^(?:\\\\|\/\/)([^\\/]+)[\\/]([^\\/]+)/.exec(folder);
    if (unc) return { kind: 'network', server: unc[1], share: unc[2] };
    if (dropboxRoots(ctx).some((r) => isInside(folder, r, ctx.platform))) return { kind: 'cloud', client: 'dropbox' };
    for (const v of ['OneDrive', 'OneDriveCommercial', 'OneDriveConsumer']) if (isInside(folder, ctx.env[v], ctx.platform)) return { kind: 'cloud', client: 'onedrive' };
    if (ctx.platform === 'darwin' && /\/Library\/CloudStorage\/OneDrive/.test(folder)) return { kind: 'cloud', client: 'onedrive' };
    if (
      (ctx.platform === 'win32' && /^[a-z]:\\(my drive|meine ablage|shared drives|geteilte ablagen)(\\|$)/i.test(folder)) ||
      /\/Library\/CloudStorage\/GoogleDrive-/.test(folder) ||
      /[\\/](Google Drive|GoogleDrive)[\\/]/.test(folder)
    )
      return { kind: 'cloud', client: 'google-drive' };
    if (nextcloudRoots(ctx).some((r) => isInside(folder, r, ctx.platform))) return { kind: 'cloud', client: 'nextcloud' };
    if (
      (ctx.platform === 'darwin' && isInside(folder, path.posix.join(ctx.home, 'Library', 'Mobile Documents', 'com~apple~CloudDocs'), ctx.platform)) ||
      (ctx.platform === 'win32' && ctx.env.USERPROFILE && isInside(folder, path.win32.join(ctx.env.USERPROFILE, 'iCloudDrive'), ctx.platform))
    )
      return { kind: 'cloud', client: 'icloud' };
    if (ctx.platform === 'win32' && windowsDriveType) {
      const t = parseWindowsDriveType(windowsDriveType);
      if (t === 'removable') return { kind: 'removable' };
      if (t === 'network') return { kind: 'network' };
    }
    if (ctx.platform !== 'win32' && networkMount(folder, ctx)) return { kind: 'network' };
    if (removableMount(folder, ctx)) return { kind: 'removable' };
    return { kind: 'local' };
  }
}

const CLIENT_NAMES: Record<CloudClient, string> = { dropbox: 'Dropbox', onedrive: 'OneDrive', 'google-drive': 'Google Drive', nextcloud: 'Nextcloud', icloud: 'iCloud Drive' };

/** The advice that fits the folder's kind, from what the vendor's help page warns about. */
export function adviceFor(k: FolderKind, platform: NodeJS.Platform = process.platform): { title: LocalizedText; advice: LocalizedText } {
  const keychain = keychainName(platform);
  switch (k.kind) {
    case 'cloud': {
      const n = CLIENT_NAMES[k.client];
      return {
        title: { de: `Cloud-Ordner (${n})`, en: `Cloud folder (${n})` },
        advice: {
          de: `${n} muss auf jedem PC der Praxis laufen und diesen Ordner synchronisieren. Stellen Sie ihn auf „Immer auf diesem Gerät behalten“, sonst fehlen Dateien, wenn keine Verbindung besteht. Verzögerte Synchronisation ist kein Risiko mehr: Änderungen werden zusammengeführt, nichts wird überschrieben.`,
          en: `${n} must run on every PC of the practice and sync this folder. Set it to "Always keep on this device", or files are missing while offline. Late syncing is no longer a risk: changes are merged, nothing is overwritten.`,
        },
      };
    }
    case 'removable':
      return {
        title: { de: 'Wechseldatenträger (USB-Stick, externe Festplatte)', en: 'Removable drive (USB stick, external disk)' },
        advice: {
          de: 'Jeder PC behält eine vollständige Kopie; der Stick gleicht sie ab, sobald er eingesteckt ist. Ziehen Sie ihn erst ab, wenn „Alles übertragen“ angezeigt wird. Geht der Stick verloren, bleiben die Daten verschlüsselt.',
          en: 'Every PC keeps a full copy; the drive exchanges them whenever it is plugged in. Unplug it only once "All sent" is shown. A lost drive reveals nothing: the data are encrypted.',
        },
      };
    case 'network':
      return {
        title: { de: 'Netzwerkfreigabe', en: 'Network share' },
        advice: {
          de: `Die Anmeldung wird ${platform === 'win32' ? 'in der' : 'im'} ${keychain.de} gespeichert und nach einem Neustart automatisch wiederhergestellt. Ist der Server nicht erreichbar, arbeiten Sie mit der lokalen Kopie weiter.`,
          en: `The login is kept in the ${keychain.en} and restored automatically after a restart. When the server is unreachable you keep working on the local copy.`,
        },
      };
    default:
      return {
        title: { de: 'Lokaler Ordner', en: 'Local folder' },
        advice: {
          de: 'Dieser Ordner liegt auf einer Festplatte dieses PCs. Andere PCs erreichen ihn nur, wenn er freigegeben oder von einem Cloud-Programm synchronisiert wird.',
          en: 'This folder is on a disk of this PC. Other PCs reach it only if it is shared or synced by a cloud client.',
        },
      };
  }
}
