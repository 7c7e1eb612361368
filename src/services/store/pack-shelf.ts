// The packs a replica holds (format 2, docs/STORE-FORMAT.md "Packs"): which log files each holds, by
// range, and their content read on demand — a version's body that lies in a pack is read from it. A pack
// of version 2 is read in parts: its index (the last 64 kept) and the one section that holds the log file
// (the last 8 kept), so history() of a record whose versions lie in a dozen packs of 10,000 log files
// each reads a dozen small sections, not a dozen packs. One of version 1 is read whole (the last two kept
// decoded). A log file lies in a replica either as its own file or in a pack.
import type { Segment } from './format';
import type { PackContent, PackFile, PackLayout, PackSection, ReplicaFolder, SegmentFile } from './replica-folder';

const INDEXES_KEPT = 64;
const SECTIONS_KEPT = 8;

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

/**
 * Whether a position lies in one of `ranges` (sorted by first, as a device's packs are kept and listed),
 * asked for rising positions only: one walk over the ranges for a walk over a device's log files (asking
 * every pack for every log file grew with the square of the years).
 */
export function coveredBy(ranges: readonly { first: number; last: number }[]): (seq: number) => boolean {
  let i = 0;
  return (seq) => {
    while (i < ranges.length && ranges[i]!.last < seq) i++;
    return i < ranges.length && ranges[i]!.first <= seq;
  };
}

export class PackShelf {
  protected readonly byDevice = new Map<string, PackFile[]>();
  /** Packs of version 1 read lately, decoded whole. */
  protected readonly decoded = new Map<string, Map<string, Segment>>();
  /** Packs' indexes read lately; undefined: a pack read whole (version 1). */
  protected readonly indexes = new Map<string, PackLayout | undefined>();
  /** Sections of packs of version 2 read lately, by pack and number. */
  protected readonly sections = new Map<string, PackSection>();

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
    const key = packKey(p);
    this.decoded.delete(key);
    this.indexes.delete(key);
    for (const k of [...this.sections.keys()]) if (k.startsWith(`${key}/`)) this.sections.delete(k);
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

  /**
   * Checks a pack found in this replica's folder before its name is believed (`add`): a name alone would
   * cover other packs (and have them removed here, and never fetched again), count positions as held and
   * be pushed to the shared location — and anything can lie under any name (a disk tool, a backup put
   * back, a planted file). Version 2: its index, read alone (authenticated, naming this pack's device and
   * range, its sections ending where the file does; a section is checked against its index when read).
   * Version 1: the pack whole (ReplicaFolder.decodePack). A pack that fails: BadFileError.
   */
  async check(p: PackFile): Promise<void> {
    if (!(await this.layout(p))) await this.content(p);
  }

  /** A pack's content, checked (ReplicaFolder.decodePack), from this replica's copy. */
  async content(p: PackFile): Promise<PackContent> {
    return this.folder.decodePack(p, await this.folder.readPackBytes(p));
  }

  /** A log file's content from a pack held here that holds it, or undefined. A damaged pack or section: BadFileError. */
  async segment(f: SegmentFile): Promise<Segment | undefined> {
    for (const p of this.covering(f.device, f.seq)) {
      const layout = await this.layout(p);
      const seg = layout ? await this.fromSections(p, layout, f) : await this.fromWhole(p, f);
      if (seg) return seg;
    }
    return undefined;
  }

  protected async fromWhole(p: PackFile, f: SegmentFile): Promise<Segment | undefined> {
    const key = packKey(p);
    let m = this.decoded.get(key);
    if (!m) {
      m = new Map((await this.content(p)).files.map(({ f: g, seg }) => [`${g.seq}-${g.hash}`, seg]));
      this.decoded.set(key, m);
      if (this.decoded.size > 2) this.decoded.delete(this.decoded.keys().next().value!);
    }
    return m.get(`${f.seq}-${f.hash}`);
  }

  /** The sections whose range includes the log file's position (two where a forked position lies across a boundary); each read only when needed. */
  protected async fromSections(p: PackFile, layout: PackLayout, f: SegmentFile): Promise<Segment | undefined> {
    const { sections } = layout.index;
    for (let i = 0; i < sections.length; i++) {
      if (f.seq < sections[i]![0] || f.seq > sections[i]![1]) continue;
      const s = await this.section(p, layout, i);
      const j = s.names.findIndex(([seq, hash]) => seq === f.seq && hash === f.hash);
      if (j >= 0) return this.folder.packSegment(p, s, j);
    }
    return undefined;
  }

  protected async layout(p: PackFile): Promise<PackLayout | undefined> {
    const key = packKey(p);
    const layout = this.indexes.has(key) ? this.indexes.get(key) : await this.folder.readPackIndex(p);
    return kept(this.indexes, key, layout, INDEXES_KEPT);
  }

  protected async section(p: PackFile, layout: PackLayout, i: number): Promise<PackSection> {
    const key = `${packKey(p)}/${i}`;
    return kept(this.sections, key, this.sections.get(key) ?? (await this.folder.readPackSection(p, layout, i)), SECTIONS_KEPT);
  }
}

/** Puts `value` last in a map kept to `max` entries (the least lately used dropped); returns it. */
function kept<T>(m: Map<string, T>, key: string, value: T, max: number): T {
  m.delete(key);
  m.set(key, value);
  if (m.size > max) m.delete(m.keys().next().value!);
  return value;
}
