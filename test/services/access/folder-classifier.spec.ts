// Each detector on the fixture files and environments it reads.
import * as path from 'node:path';
import { FolderClassifier, adviceFor, parseWindowsDriveType, type ClassifierContext } from '../../../src/services/access/folder-classifier';

function ctx(platform: NodeJS.Platform, files: Record<string, string> = {}, env: Record<string, string> = {}, mounts?: string, home = platform === 'win32' ? 'C:\\Users\\anna' : '/home/anna'): ClassifierContext {
  return { platform, env, home, readFile: (p) => files[p], mounts: () => mounts };
}

describe('FolderClassifier', () => {
  test('Dropbox via info.json (personal and business, Linux and Windows)', () => {
    const info = JSON.stringify({ personal: { path: '/home/anna/Dropbox', host: 1 }, business: { path: '/home/anna/Dropbox (Praxis)' } });
    const c = new FolderClassifier(ctx('linux', { '/home/anna/.dropbox/info.json': info }));
    expect(c.classify('/home/anna/Dropbox/Praxisdaten')).toEqual({ kind: 'cloud', client: 'dropbox' });
    expect(c.classify('/home/anna/Dropbox (Praxis)/Daten')).toEqual({ kind: 'cloud', client: 'dropbox' });
    expect(c.classify('/home/anna/Dropboxen')).toEqual({ kind: 'local' });
    const w = new FolderClassifier(ctx('win32', { [path.win32.join('C:\\Users\\anna\\AppData\\Local', 'Dropbox', 'info.json')]: JSON.stringify({ personal: { path: 'C:\\Users\\anna\\Dropbox' } }) }, { LOCALAPPDATA: 'C:\\Users\\anna\\AppData\\Local' }));
    expect(w.classify('c:\\users\\anna\\dropbox\\Praxis')).toEqual({ kind: 'cloud', client: 'dropbox' });
    expect(new FolderClassifier(ctx('linux', { '/home/anna/.dropbox/info.json': '{broken' })).classify('/home/anna/Dropbox/x')).toEqual({ kind: 'local' });
  });

  test.each(['OneDrive', 'OneDriveCommercial', 'OneDriveConsumer'])('OneDrive via %s', (v) => {
    const c = new FolderClassifier(ctx('win32', {}, { [v]: 'C:\\Users\\anna\\OneDrive - Praxis' }));
    expect(c.classify('C:\\Users\\anna\\OneDrive - Praxis\\Daten')).toEqual({ kind: 'cloud', client: 'onedrive' });
  });

  test('without a OneDrive variable a Windows folder is local', () => {
    expect(new FolderClassifier(ctx('win32')).classify('C:\\Daten')).toEqual({ kind: 'local' });
  });

  test('Google Drive for desktop (Windows drive, English and German; macOS CloudStorage)', () => {
    const w = new FolderClassifier(ctx('win32'));
    expect(w.classify('G:\\My Drive\\Praxis')).toEqual({ kind: 'cloud', client: 'google-drive' });
    expect(w.classify('G:\\Meine Ablage\\Praxis')).toEqual({ kind: 'cloud', client: 'google-drive' });
    expect(new FolderClassifier(ctx('darwin')).classify('/Users/anna/Library/CloudStorage/GoogleDrive-anna@praxis.de/My Drive/P')).toEqual({ kind: 'cloud', client: 'google-drive' });
  });

  test('Nextcloud via nextcloud.cfg', () => {
    const cfg = '[Accounts]\n0\\Folders\\1\\localPath=/home/anna/Nextcloud/\n0\\Folders\\1\\targetPath=/\n';
    const c = new FolderClassifier(ctx('linux', { '/home/anna/.config/Nextcloud/nextcloud.cfg': cfg }));
    expect(c.classify('/home/anna/Nextcloud/Praxis')).toEqual({ kind: 'cloud', client: 'nextcloud' });
    const w = new FolderClassifier(ctx('win32', { 'C:\\Users\\anna\\AppData\\Roaming\\Nextcloud\\nextcloud.cfg': '0\\FoldersWithPlaceholders\\2\\localPath=C:/Users/anna/Nextcloud/\r\n' }, { APPDATA: 'C:\\Users\\anna\\AppData\\Roaming' }));
    expect(w.classify('C:\\Users\\anna\\Nextcloud\\Praxis')).toEqual({ kind: 'cloud', client: 'nextcloud' });
  });

  test('iCloud Drive (macOS and Windows)', () => {
    expect(new FolderClassifier(ctx('darwin', {}, {}, undefined, '/Users/anna')).classify('/Users/anna/Library/Mobile Documents/com~apple~CloudDocs/Praxis')).toEqual({ kind: 'cloud', client: 'icloud' });
    expect(new FolderClassifier(ctx('win32', {}, { USERPROFILE: 'C:\\Users\\anna' })).classify('C:\\Users\\anna\\iCloudDrive\\Praxis')).toEqual({ kind: 'cloud', client: 'icloud' });
  });

  test('network: UNC paths, Linux cifs/nfs mounts, macOS smbfs; the share to log in to', () => {
    const w = new FolderClassifier(ctx('win32'));
    expect(w.classify('\\\\nas\\praxis\\daten')).toEqual({ kind: 'network', server: 'nas', share: 'praxis' });
    expect(w.classify('Z:\\daten', 'Z: - Remote/Network Drive')).toEqual({ kind: 'network' });
    const mounts = 'sysfs /sys sysfs rw 0 0\n//nas/praxis /mnt/praxis\\040daten cifs rw,vers=3.0 0 0\nserver:/export /srv/nfs nfs4 rw 0 0\n/dev/sdb1 /media/anna/STICK vfat rw 0 0\n';
    const l = new FolderClassifier(ctx('linux', {}, {}, mounts));
    expect(l.classify('/mnt/praxis daten/P')).toEqual({ kind: 'network' });
    expect(l.shareOf('/mnt/praxis daten/P')).toEqual({ server: 'nas', share: 'praxis', uncRoot: '\\\\nas\\praxis' });
    expect(l.classify('/srv/nfs/x')).toEqual({ kind: 'network' });
    expect(l.shareOf('/srv/nfs/x')).toBeUndefined(); // NFS has no login to restore
    const m = new FolderClassifier(ctx('darwin', {}, {}, '//anna@nas/praxis on /Volumes/praxis (smbfs, nodev, nosuid, mounted by anna)\n/dev/disk4s1 on /Volumes/STICK (msdos, local, nodev)\n'));
    expect(m.classify('/Volumes/praxis/daten')).toEqual({ kind: 'network' });
    expect(m.shareOf('/Volumes/praxis/daten')).toMatchObject({ server: 'nas', share: 'praxis' });
    expect(m.classify('/Volumes/STICK/daten')).toEqual({ kind: 'removable' });
  });

  test('removable media and local disks', () => {
    expect(new FolderClassifier(ctx('linux', {}, {}, '/dev/sdb1 /media/anna/STICK vfat rw 0 0\n')).classify('/media/anna/STICK/Praxis')).toEqual({ kind: 'removable' });
    expect(new FolderClassifier(ctx('linux')).classify('/run/media/anna/USB/P')).toEqual({ kind: 'removable' });
    expect(new FolderClassifier(ctx('win32')).classify('E:\\Praxis', 'E: - Removable Drive')).toEqual({ kind: 'removable' });
    expect(new FolderClassifier(ctx('win32')).classify('E:\\Praxis', 'E: - Wechselmedien')).toEqual({ kind: 'removable' });
    expect(new FolderClassifier(ctx('win32')).classify('D:\\Praxis', 'D: - Fixed Drive')).toEqual({ kind: 'local' });
    expect(parseWindowsDriveType('D: - Festplatte')).toBe('fixed');
    expect(new FolderClassifier(ctx('linux', {}, {}, '/dev/sda1 / ext4 rw 0 0\n')).classify('/home/anna/Praxis')).toEqual({ kind: 'local' });
  });

  test.each([{ kind: 'cloud', client: 'dropbox' }, { kind: 'removable' }, { kind: 'network' }, { kind: 'local' }] as const)('every kind has advice in German and English: $kind', (k) => {
    const a = adviceFor(k);
    for (const t of [a.title, a.advice]) {
      expect(t.de.length).toBeGreaterThan(5);
      expect(t.en.length).toBeGreaterThan(5);
      expect(t.de).not.toEqual(t.en);
    }
  });
});
