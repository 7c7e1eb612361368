// Bounds a round's work on files of the shared location that do not check out (outside finding 6).
// Anyone with write access to a share or a server, and no passphrase, can put thousands of names there
// that look like store files; each costs a request or two to look at (a stat, a read) and is refused.
// Looked at all in every round, they held a round for minutes, so that nothing from the other PCs
// arrived, and more of them than the refused-file memory holds were read again in every round.
//
// The rule (docs/STORE-FORMAT.md, "A round's work on files that do not check out"): in each *area* — a
// device's log folder, the devices without an authenticated card, the key files, the attachments — a
// round looks at its files in the usual order, and a file that is not taken (refused now, refused
// before, unreadable, waiting for a key, gone) costs one from the area's budget; a file that is taken
// costs nothing. When the budget is spent the round leaves the area, and the next round begins with
// the names that were not listed before (new files: a real device's new log file is looked at first),
// then goes on where the last one stopped and wraps around. So a round looks at no more than the
// budget of files that fail, and every file is looked at within ceil(failing files / budget) + 1 rounds.

/** Files not taken that one round looks at in one area (docs/STORE-FORMAT.md). */
export const UNPROVEN_PER_ROUND = 64;

/** What is left of an area's budget in this round (an object: several areas may draw on one). */
export class Budget {
  constructor(public left = UNPROVEN_PER_ROUND) {}
}

interface Rotation {
  /** The name the next round goes on from (or the first after it, in the area's order). */
  readonly cursor: string;
  /** The names listed in the round that stopped: any other name is new, and comes first. */
  readonly known: ReadonlySet<string>;
}

export class RotatingReads {
  /** Areas whose last round stopped before its end (an area that was looked at whole has none). */
  protected readonly areas = new Map<string, Rotation>();

  /** Areas that are part way through (tests, the status). */
  get rotating(): number {
    return this.areas.size;
  }

  /**
   * The order a round looks at `names` in (given in the area's usual order, which `cmp` sorts by):
   * unchanged while the area's last round reached its end; else the names new since then first, then
   * the others from where it stopped, wrapping around.
   */
  order(area: string, names: readonly string[], cmp: (a: string, b: string) => number): string[] {
    const st = this.areas.get(area);
    if (!st) return [...names];
    const fresh: string[] = [];
    const old: string[] = [];
    for (const n of names) (st.known.has(n) ? old : fresh).push(n);
    const at = old.findIndex((n) => cmp(n, st.cursor) >= 0);
    return at <= 0 ? [...fresh, ...old] : [...fresh, ...old.slice(at), ...old.slice(0, at)];
  }

  /**
   * Looks at the area's names in the round's order, `look` saying whether a file was taken (or needed
   * no request: held already, skipped). Stops once `budget` is spent, remembering where.
   */
  async each(area: string, names: readonly string[], cmp: (a: string, b: string) => number, budget: Budget, look: (name: string) => Promise<boolean>): Promise<void> {
    const order = this.order(area, names, cmp);
    for (const name of order) {
      if (budget.left <= 0) {
        this.areas.set(area, { cursor: name, known: new Set(names) });
        return;
      }
      if (!(await look(name))) budget.left--;
    }
    this.areas.delete(area);
  }

  /** Forgets every area's place (the location was swapped, emptied, restored). */
  reset(): void {
    this.areas.clear();
  }
}

export const ascending = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const descending = (a: string, b: string): number => ascending(b, a);
