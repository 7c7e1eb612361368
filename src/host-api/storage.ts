// Host API 1.0, §5: the storage-provider extension point and the practice store.
import type { Observable } from 'rxjs';
import type { LocalizedText } from './services';

export const StorageProviderContribution = Symbol.for('host.StorageProviderContribution');
export interface StorageProviderContribution {
  readonly id: string;
  readonly access$: Observable<AccessStatus>;
  readonly sync$: Observable<SyncStatus>;
  isActive(): boolean;
  open(): Promise<PracticeStore>;
}

export interface PracticeStore {
  readonly readOnly: boolean;
  get(collection: string, id: string): Promise<StoredRecord | undefined>;
  list(collection: string): Promise<readonly StoredRecord[]>;
  /** Resolves once the change is durable on this device. With baseVersion it is a compare-and-set. */
  put(collection: string, id: string, data: JsonObject, opts?: { baseVersion?: string }): Promise<StoredRecord>;
  remove(collection: string, id: string, opts?: { baseVersion?: string }): Promise<void>;
  /** Every version ever written of the record, by any device, oldest first. */
  history(collection: string, id: string): Promise<readonly StoredRecord[]>;
  readonly changes$: Observable<RecordChange>;
  readonly conflicts$: Observable<readonly RecordConflict[]>;
  resolveConflict(collection: string, id: string, data: JsonObject | null): Promise<void>;
  putAttachment(bytes: Uint8Array, meta: { name: string; mediaType: string }): Promise<AttachmentRef>;
  getAttachment(ref: AttachmentRef): Promise<Uint8Array>;
  importRecords(records: Iterable<ImportRecord> | AsyncIterable<ImportRecord>): Promise<ImportReport>;
  /** Waits until this device's changes are in the shared folder, or the timeout passes. */
  flush(opts?: { timeoutMs?: number }): Promise<{ pending: number }>;
  close(): Promise<void>;
}

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface StoredRecord {
  collection: string;
  id: string;
  version: string;
  data: JsonObject | null;
  updatedAt: string;
  updatedBy: string;
  conflict: boolean;
}
export interface RecordChange { origin: 'local' | 'remote'; record: StoredRecord }
export interface RecordConflict { collection: string; id: string; versions: readonly StoredRecord[] }
export interface AttachmentRef { id: string; name: string; mediaType: string; size: number }
export interface ImportRecord { collection: string; id: string; data: JsonObject }
export interface ImportReport { imported: number; skipped: number; verified: boolean }

export interface AccessStatus {
  state: 'not-configured' | 'checking' | 'available' | 'unavailable' | 'auth-required' | 'denied' | 'wrong-folder';
  folder?: string;
  since: string;
  detail?: LocalizedText;
}
export interface SyncStatus {
  state: 'local-only' | 'in-sync' | 'uploading' | 'receiving' | 'offline' | 'conflicts';
  pendingUploads: number;
  awaited: number;
  conflicts: number;
  lastExchangeAt?: string;
  devices: readonly { deviceId: string; name: string; user: string; active: boolean; lastSeenAt: string; thisDevice: boolean }[];
}

export type StorageErrorCode = 'not-configured' | 'unavailable' | 'read-only' | 'version-mismatch' | 'invalid-input' | 'corrupt' | 'closed';

/** The only error the host sees from the store; `message` is one a person can act on. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    readonly text: LocalizedText,
    readonly details?: { currentVersion?: string },
  ) {
    super(`${text.en} / ${text.de}`);
  }
}
export namespace StorageError {
  export function is(e: unknown): e is StorageError {
    return e instanceof Error && e.name === 'StorageError' && typeof (e as StorageError).code === 'string';
  }
}
