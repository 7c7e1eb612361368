// Runs the replica's writes one after another so compare-and-set checks see every earlier write.
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
