// Packs as tests make them by hand (docs/STORE-FORMAT.md "Packs"): one of version 1 as the writer before
// pack version 2 made it (src/services/store/replica-folder.ts `writePack` up to commit 06c7be7, line for
// line), and a pack of version 2 taken apart and put together again, to damage or forge one part of it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { decrypt, encrypt, sha256Hex, type KeySource } from '../../src/services/crypto/store-crypto';
import { Contexts, Paths, type PackHeader, type PackIndex, type Segment } from '../../src/services/store/format';
import type { PackFile, SegmentFile } from '../../src/services/store/replica-folder';

/** Writes a pack of version 1 into the replica folder at `root` — the bytes the earlier writer made: one envelope of gzip of NDJSON. */
export function writePackV1(root: string, keys: KeySource, storeId: string, dev: string, files: readonly { f: SegmentFile; seg: Segment }[]): PackFile {
  const first = files[0]!.f.seq;
  const last = files[files.length - 1]!.f.seq;
  const header: PackHeader = { t: 'pack', v: 1, device: dev, first, last, createdAt: new Date().toISOString(), files: files.map(({ f }) => [f.seq, f.hash]) };
  const lines = [JSON.stringify(header), ...files.map(({ seg }) => JSON.stringify(seg))];
  const plain = zlib.gzipSync(Buffer.from(lines.join('\n') + '\n', 'utf8'), { level: 6 });
  const bytes = encrypt(keys, storeId, Contexts.pack(dev, first, last), plain);
  const hash = sha256Hex(bytes);
  const file = path.join(root, Paths.pack(dev, first, last, hash));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  return { device: dev, first, last, hash, size: bytes.length };
}

/** A pack of version 2 taken apart: its index (decrypted) and its sections' envelopes as they lie. */
export interface PackParts {
  index: PackIndex;
  sealedIndex: Buffer;
  sections: Buffer[];
}

export function packParts(keys: KeySource, storeId: string, p: PackFile, bytes: Buffer): PackParts {
  const length = bytes.readUInt32BE(0);
  const sealedIndex = bytes.subarray(4, 4 + length);
  const index = JSON.parse(zlib.gunzipSync(decrypt(keys, storeId, Contexts.pack(p.device, p.first, p.last), sealedIndex)).toString('utf8')) as PackIndex;
  const sections: Buffer[] = [];
  let at = 4 + length;
  for (const s of index.sections) {
    sections.push(bytes.subarray(at, at + s[3]));
    at += s[3];
  }
  return { index, sealedIndex, sections };
}

/**
 * A pack of version 2 from parts: the index as given, sealed again (with `keys`) when it is given, else
 * the original envelope; the sections as given. Written beside the original under its own hash (so the
 * name check passes and what is checked is the inside); returns the file.
 */
export function writePackParts(root: string, p: PackFile, parts: { sealedIndex: Buffer; sections: Buffer[] }, reseal?: { keys: KeySource; storeId: string; index: PackIndex }): PackFile {
  const sealedIndex = reseal
    ? encrypt(reseal.keys, reseal.storeId, Contexts.pack(p.device, p.first, p.last), zlib.gzipSync(Buffer.from(JSON.stringify(reseal.index), 'utf8')))
    : parts.sealedIndex;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(sealedIndex.length);
  const bytes = Buffer.concat([length, sealedIndex, ...parts.sections]);
  const hash = sha256Hex(bytes);
  fs.writeFileSync(path.join(root, Paths.pack(p.device, p.first, p.last, hash)), bytes);
  return { device: p.device, first: p.first, last: p.last, hash, size: bytes.length };
}
