// What the host gets from `open()`: the PracticeStore contract (HOST-API §5) and nothing more.
// It owns the local replica and its carrier and ends them in order: the carrier's last send
// while the replica is still open, then the replica (seal, snapshot, lock).
import type { Observable } from 'rxjs';
import type { AttachmentRef, ImportRecord, ImportReport, JsonObject, PracticeStore, RecordChange, RecordConflict, StoredRecord } from '../../host-api';
import type { PracticeReplica } from './practice-replica';
import type { Carrier } from './replica-port';
import { checkAttachmentRef } from './record-input';

export class OpenPracticeStore implements PracticeStore {
  readonly changes$: Observable<RecordChange>;
  readonly conflicts$: Observable<readonly RecordConflict[]>;
  protected closing?: Promise<void>;

  /** `carrier` is absent while a store is only local (being created, or opened without a shared location). */
  constructor(
    protected readonly replica: PracticeReplica,
    protected carrier?: Carrier,
  ) {
    this.changes$ = replica.changes$;
    this.conflicts$ = replica.conflicts$;
  }

  /** The store moved to another location: the same replica goes on with a carrier to the new one (the old one was stopped). */
  useCarrier(carrier: Carrier): void {
    this.carrier = carrier;
  }

  get readOnly(): boolean {
    return this.replica.readOnly;
  }

  get(collection: string, id: string): Promise<StoredRecord | undefined> {
    return this.replica.get(collection, id);
  }

  list(collection: string): Promise<readonly StoredRecord[]> {
    return this.replica.list(collection);
  }

  put(collection: string, id: string, data: JsonObject, opts?: { baseVersion?: string }): Promise<StoredRecord> {
    return this.replica.put(collection, id, data, opts);
  }

  remove(collection: string, id: string, opts?: { baseVersion?: string }): Promise<void> {
    return this.replica.remove(collection, id, opts);
  }

  history(collection: string, id: string): Promise<readonly StoredRecord[]> {
    return this.replica.history(collection, id);
  }

  resolveConflict(collection: string, id: string, data: JsonObject | null): Promise<void> {
    return this.replica.resolveConflict(collection, id, data);
  }

  putAttachment(bytes: Uint8Array, meta: { name: string; mediaType: string }): Promise<AttachmentRef> {
    return this.replica.putAttachment(bytes, meta);
  }

  /** From the replica; an attachment that has not arrived yet is fetched by the carrier first. */
  async getAttachment(ref: AttachmentRef): Promise<Uint8Array> {
    checkAttachmentRef(ref);
    if (this.carrier && !this.replica.isClosed && !(await this.replica.hasAttachment(ref.id))) await this.carrier.fetchAttachment(ref.id);
    return this.replica.getAttachment(ref);
  }

  importRecords(records: Iterable<ImportRecord> | AsyncIterable<ImportRecord>): Promise<ImportReport> {
    return this.replica.importRecords(records);
  }

  async flush(opts?: { timeoutMs?: number }): Promise<{ pending: number }> {
    this.replica.assertOpen();
    await this.replica.sealNow();
    if (!this.carrier) return { pending: this.replica.unsealedCount() };
    return { pending: await this.carrier.sendWithin(opts?.timeoutMs ?? 10000) };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.replica.sealNow().catch(() => undefined);
      await this.carrier?.stop().catch(() => undefined);
      await this.replica.close();
    })();
    return this.closing;
  }
}
