// Whoever creates a resource owns its disposal (Theia's DisposableCollection, VS Code's Disposable.from).
export interface Disposable {
  dispose(): void | Promise<void>;
}

export class DisposableCollection implements Disposable {
  protected readonly items: Disposable[] = [];
  protected disposed = false;

  get isDisposed(): boolean {
    return this.disposed;
  }

  push(...items: Disposable[]): void {
    if (this.disposed) {
      for (const d of items) void d.dispose();
      return;
    }
    this.items.push(...items);
  }

  pushTimer(handle: NodeJS.Timeout): void {
    this.push({ dispose: () => clearInterval(handle) });
  }

  /** Disposes in reverse order of creation and waits for every asynchronous release. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const items = this.items.splice(0).reverse();
    for (const d of items) {
      try {
        await d.dispose();
      } catch {
        // one failing release must not keep the others alive
      }
    }
  }
}

/** Runs jobs one after another; a failed job does not stop the queue. */
export class SerialQueue {
  protected tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }

  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
