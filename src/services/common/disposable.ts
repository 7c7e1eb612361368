// One disposal idiom (Theia's DisposableCollection, VS Code's Disposable.from): whoever creates a
// resource owns its end, and pushes it into its own collection, which ends everything in reverse order.
export interface Disposable {
  dispose(): void;
}

type Disposer = Disposable | { unsubscribe(): void } | (() => void);

export class DisposableCollection implements Disposable {
  protected readonly items: Disposer[] = [];
  protected done = false;

  get disposed(): boolean {
    return this.done;
  }

  /** Adds resources to end with this collection; once it has ended, they end at once. */
  push(...items: Disposer[]): void {
    if (this.done) for (const d of items) end(d);
    else this.items.push(...items);
  }

  dispose(): void {
    if (this.done) return;
    this.done = true;
    for (const d of this.items.splice(0).reverse()) {
      try {
        end(d);
      } catch {
        // one resource failing to end must not keep the others alive
      }
    }
  }
}

function end(d: Disposer): void {
  if (typeof d === 'function') d();
  else if ('dispose' in d) d.dispose();
  else d.unsubscribe();
}

/** Ends a subject (its subscribers see `complete`) as a disposable. */
export function completing(subject: { complete(): void }): Disposable {
  return { dispose: () => subject.complete() };
}

/** Clears a timer as a disposable. */
export function clearing(timer: NodeJS.Timeout): Disposable {
  return { dispose: () => clearTimeout(timer) };
}
