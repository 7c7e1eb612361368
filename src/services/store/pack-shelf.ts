// The packs a replica holds (format 2, docs/STORE-FORMAT.md "Packs"): which log files each holds, by
// range, and their content read on demand — a version's body that lies in a pack is read from it, the
// last two packs read are kept decoded. A log file lies in a replica either as its own file or in a pack.
import type { Segment } from './format';
import type { PackContent, PackFile, ReplicaFolder, SegmentFile } from './replica-folder';

export function packKey(p: PackFile): string {
  return `${p.device}/${p.first}-${p.last}-${p.hash}`;
}

/**
 * Whether `outer` holds everything `inner` holds and more, by range (the same device: a pack of packs, or
 * one written again under the current key with at least one later log file). Two packs of one range
 * are never made (SharedFolderExchange.compact), so neither of two such would cover the other.
 */
export function packCovers(outer: PackFile, inner: { device: string; first: number; last: number }): boolean {
  return outer.device === inner.device && outer.first <= inner.first && inner.last <= outer.last && (outer.first !== inner.first || outer.last !== inner.last);
}

export class PackShelf {
  protected readonly byDevice = new Map<string, PackFile[]>();
  protected readonly decoded = new Map<string, Map<string, Segment>>();

  constructor(protected readonly folder: ReplicaFolder) {}

  add(p: PackFile): void {
    const list = this.byDevice.get(p.device) ?? this.byDevice.set(p.device, []).get(p.device)!;
    if (list.some((q) => packKey(q) === packKey(p))) return;
    list.push(p);
    list.sort((a, b) => a.first - b.first || a.last - b.last || (a.hash < b.hash ? -1 : 1));
  }

  remove(p: PackFile): void {
    const list = this.byDevice.get(p.device);
    if (list) this.byDevice.set(p.device, list.filter((q) => packKey(q) !== packKey(p)));
    this.decoded.delete(packKey(p));
  }

  has(p: PackFile): boolean {
    return (this.byDevice.get(p.device) ?? []).some((q) => packKey(q) === packKey(p));
  }

  of(device: string): readonly PackFile[] {
    return this.byDevice.get(device) ?? [];
  }

  all(): PackFile[] {
    return [...this.byDevice.values()].flat();
  }

  /** The packs held here whose range includes a device's position. */
  covering(device: string, seq: number): PackFile[] {
    return this.of(device).filter((p) => p.first <= seq && seq <= p.last);
  }

  /** A pack's content, checked (ReplicaFolder.decodePack), from this replica's copy. */
  async content(p: PackFile): Promise<PackContent> {
    return this.folder.decodePack(p, await this.folder.readPackBytes(p));
  }

  /** A log file's content from a pack held here that holds it, or undefined. */
  async segment(f: SegmentFile): Promise<Segment | undefined> {
    for (const p of this.covering(f.device, f.seq)) {
      const key = packKey(p);
      let m = this.decoded.get(key);
      if (!m) {
        m = new Map((await this.content(p)).files.map(({ f: g, seg }) => [`${g.seq}-${g.hash}`, seg]));
        this.decoded.set(key, m);
        if (this.decoded.size > 2) this.decoded.delete(this.decoded.keys().next().value!);
      }
      const seg = m.get(`${f.seq}-${f.hash}`);
      if (seg) return seg;
    }
    return undefined;
  }
}
