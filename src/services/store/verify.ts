// A full integrity check of one replica, with a report a support person can read.
import * as path from 'node:path';
import type { StoreHeader } from './format';
import { Keyring, resolveKeys } from '../crypto/keyring';
import { Paths } from './format';
import { BadFileError, KeyMissingError, ReplicaFolder, type BadFile } from './replica-folder';
import { badDataIn } from './snapshot-state';

export interface VerifyReport {
  readonly folder: string;
  readonly storeId: string;
  readonly devices: number;
  readonly segments: number;
  readonly changes: number;
  readonly objects: number;
  readonly snapshots: number;
  readonly keyFiles: number;
  /** Files sealed with a key of a passphrase these keys do not reach (a newer one): not checked, not bad. */
  readonly locked: BadFile[];
  /** Damaged, tampered, foreign or incomplete files: never applied, never deleted. */
  readonly problems: BadFile[];
  /** Sync-client debris and system files: recognised, ignored, harmless. (Unreadable entries are problems.) */
  readonly ignored: BadFile[];
}

export async function verifyReplica(root: string, header: StoreHeader, key: Buffer | Keyring): Promise<VerifyReport> {
  const problems: BadFile[] = [];
  const ignored: BadFile[] = [];
  const locked: BadFile[] = [];
  // Foreign names are harmless; an entry that cannot be listed or read at all (a link loop, no permission) is a problem.
  const note = (b: BadFile) => (b.unreadable ? problems : ignored).push(b);
  // A copy: checking a folder never changes which keys the open store holds or writes with.
  const keyring = Buffer.isBuffer(key) ? Keyring.ofHeaderKey(header.storeId, key, header.keyCheck) : key.copy();
  const folder = new ReplicaFolder(root, header.storeId, keyring, true); // unreadable entries become problems, the check goes on
  const keyFiles = await folder.readKeyFiles((b) => problems.push(b), note);
  for (const f of resolveKeys(keyring, keyFiles).forged) problems.push({ path: `keys/${f.hash}`, reason: 'a key file not endorsed by the key it claims to replace — never believed' });
  const problem = (b: BadFile, e: unknown) => (e instanceof KeyMissingError ? locked : problems).push(b);
  const hdr = await ReplicaFolder.readHeader(root);
  if (hdr.kind !== 'ok' || hdr.header.storeId !== header.storeId)
    problems.push({ path: Paths.header, reason: hdr.kind === 'ok' ? 'belongs to another store' : `header ${hdr.kind}` });
  let segments = 0;
  let changes = 0;
  const devices = await folder.listDevices(note);
  for (const dev of devices) {
    const files = await folder.listSegments(dev, note);
    const bySeq = new Map<number, string[]>();
    const add = (seq: number, hash: string) => {
      const at = bySeq.get(seq) ?? [];
      if (!at.includes(hash)) bySeq.set(seq, [...at, hash]);
    };
    for (const f of files) add(f.seq, f.hash);
    // format 2: the log files a pack holds count as there (a pack checks its own chain when decoded)
    const inPacks = new Set<string>();
    for (const p of await folder.listPacks(dev, note)) {
      try {
        for (const { f, seg } of folder.decodePack(p, await folder.readPackBytes(p)).files) {
          add(f.seq, f.hash);
          if (inPacks.has(`${f.seq}-${f.hash}`)) continue; // a pack of packs beside the packs it covers
          inPacks.add(`${f.seq}-${f.hash}`);
          segments++;
          changes += seg.changes.length;
        }
      } catch (e) {
        if (e instanceof BadFileError) problem(e.bad, e);
        else problems.push({ path: Paths.pack(dev, p.first, p.last, p.hash), reason: `unreadable (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
      }
    }
    for (const f of files) {
      try {
        const seg = await folder.readSegment(f);
        // one also held in a pack is checked as a file all the same, and counted once
        if (!inPacks.has(`${f.seq}-${f.hash}`)) {
          segments++;
          changes += seg.changes.length;
        }
        if (f.seq === 1 && seg.prev !== null) problems.push({ path: Paths.segment(dev, f.seq, f.hash), reason: 'first segment names a predecessor' });
        if (f.seq > 1 && seg.prev !== null && !(bySeq.get(f.seq - 1) ?? []).includes(seg.prev))
          problems.push({ path: Paths.segment(dev, f.seq, f.hash), reason: `its predecessor (no. ${f.seq - 1}) is missing — not yet synced, or lost` });
      } catch (e) {
        if (e instanceof BadFileError) problem(e.bad, e);
        // gone since the listing: a log file a pack holds, removed meanwhile (format 2), or a sync client's doing — not damage
        else if ((e as NodeJS.ErrnoException).code !== 'ENOENT') problems.push({ path: Paths.segment(dev, f.seq, f.hash), reason: `unreadable (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
      }
    }
    for (const [seq, hashes] of bySeq) if (hashes.length > 1) problems.push({ path: path.join(Paths.logDir(dev), String(seq)), reason: `${hashes.length} segments at the same position (forked chain; all are kept and applied)` });
    for (const read of [() => folder.readDeviceInfo(dev), () => folder.readPresence(dev)])
      await read().catch((e) => {
        if (e instanceof BadFileError) problem(e.bad, e);
      });
  }
  let objects = 0;
  for (const hash of await folder.listObjects(note)) {
    try {
      await folder.readObject(hash, false);
      objects++;
    } catch (e) {
      problem(e instanceof BadFileError ? e.bad : { path: Paths.object(hash), reason: 'unreadable' }, e);
    }
  }
  let snapshots = 0;
  for (const f of await folder.listSnapshots(note)) {
    try {
      for (const batch of folder.openSnapshot(f, await folder.readSnapshotBytes(f)).batches()) {
        const ver = Array.isArray(batch) ? undefined : badDataIn(batch); // version 4: the data are read here, not at open
        if (ver) throw new BadFileError({ path: Paths.snapshot(f.device, f.seq, f.hash), reason: `the data of version ${ver} are not a record's data` });
      }
      snapshots++;
    } catch (e) {
      problem(e instanceof BadFileError ? e.bad : { path: Paths.snapshot(f.device, f.seq, f.hash), reason: 'unreadable' }, e);
    }
  }
  return { folder: root, storeId: header.storeId, devices: devices.length, segments, changes, objects, snapshots, keyFiles: keyFiles.length, locked, problems, ignored };
}

/** The report as plain text (German and English), for the support. */
export function formatReport(r: VerifyReport): string {
  const lines = [
    `Prüfbericht / Verification report — ${r.folder}`,
    `Speicher / store ${r.storeId}`,
    `Geräte / devices: ${r.devices}, Protokolldateien / log segments: ${r.segments}, Änderungen / changes: ${r.changes}, Anhänge / attachments: ${r.objects}, Schnappschüsse / snapshots: ${r.snapshots}, Schlüsseldateien / key files: ${r.keyFiles}`,
  ];
  if (r.locked.length > 0)
    lines.push(
      `Nicht geprüft: ${r.locked.length} Datei(en) sind mit einem neueren Praxis-Passwort verschlüsselt; mit dem aktuellen Passwort prüfen. / Not checked: ${r.locked.length} file(s) are encrypted under a newer practice passphrase; check with the current one.`,
    );
  if (r.problems.length === 0) lines.push('Ergebnis: in Ordnung. / Result: OK.');
  else {
    lines.push(`Ergebnis: ${r.problems.length} Problem(e) – nichts davon wurde übernommen oder gelöscht. / Result: ${r.problems.length} problem(s) — none applied, nothing deleted.`);
    for (const p of r.problems) lines.push(`  ✗ ${p.path}: ${p.reason}`);
  }
  if (r.ignored.length > 0) {
    lines.push(`Ignoriert (harmlos) / ignored (harmless): ${r.ignored.length}`);
    for (const p of r.ignored) lines.push(`  · ${p.path}: ${p.reason}`);
  }
  return lines.join('\n');
}
