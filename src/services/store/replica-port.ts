// The port between a local replica and a carrier — whatever carries files between the replica and
// the shared location (today the shared folder; a WebDAV or S3 server next). The replica offers
// what it holds that the shared location may lack, and accepts files the carrier has verified; the
// carrier never reaches into the replica's state or folder, and the replica knows no carrier.
import type { Observable } from 'rxjs';
import type { RecordChange, SyncStatus } from '../../host-api';
import type { Keyring } from '../crypto/keyring';
import type { DeviceInfo, Segment, StoreHeader } from './format';
import type { StoreFile } from './folder-audit';
import type { BadFile, PackContent, PackFile, SegmentFile } from './replica-folder';

/** One of this device's log files, with the number of changes it holds. */
export interface OwnLogFile extends SegmentFile {
  readonly changes: number;
}

/** The replica's side: what a carrier may ask and hand over. */
export interface ReplicaPort {
  readonly deviceId: string;
  readonly storeId: string;
  /** The store's header: this replica's own copy (written again, last, when an emptied shared folder is restored). */
  readonly header: StoreHeader;
  /** Whether a header read at the shared location (its JSON as parsed) is, field for field, this replica's own copy. */
  sameHeader(raw: unknown): boolean;
  /** The store's keys; shared by reference, so a key learned is used for every location at once. */
  readonly keyring: Keyring;
  /** False once the replica's lock was lost or it was closed: a carrier then writes nothing. */
  readonly writable: boolean;
  /** Emits when there is something new to send (a log file sealed, a key file, an attachment). */
  readonly outgoing$: Observable<void>;
  /** Every record change, local and remote: a local one is pending from the moment it is acknowledged. */
  readonly changes$: Observable<RecordChange>;
  /** The unresolved conflicts' count, current value first. */
  readonly conflictCount$: Observable<number>;

  // ---- what this device offers ----------------------------------------------------------
  /** This device's log files, oldest first. */
  ownLogFiles(): readonly OwnLogFile[];
  /** Acknowledged changes not sealed into a log file yet. */
  unsealedCount(): number;
  /** The bytes of a file of this replica, by its store path (format.ts `Paths`). */
  readFile(rel: string): Promise<Buffer>;
  /** The size of a file of this replica (its files never change once written). */
  fileSize(rel: string): Promise<number>;
  /** Attachments saved here and not yet confirmed sent. */
  unsentAttachments(): Promise<string[]>;
  attachmentSent(hash: string): Promise<void>;
  /**
   * The highest number up to which every own log file was listed at the shared location when it was
   * last reached (0: none known). Kept across restarts, so a start without the shared location does
   * not count changes sent in an earlier session as waiting; the carrier still checks every round.
   */
  sentMark(): number;
  markSent(seq: number): Promise<void>;
  keyFileHashes(): Promise<string[]>;
  /** This device's card, written in the replica first if it is not there yet; returns its path. */
  ownDeviceCard(): Promise<string>;
  /** Every store file this replica holds (its own and other devices'), for the audit and a restore. */
  heldFiles(): Promise<StoreFile[]>;
  /** Log files of a former id of this device (a copied app-data folder) not written again yet. */
  formerLogFiles(): readonly SegmentFile[];
  /** Writes a former id's log file again under this device's id (the shared location never got it). */
  reissueFormer(f: SegmentFile): Promise<void>;

  /** This device's packs held here (format 2), by first log file. */
  ownPacks(): readonly PackFile[];
  /** Rolls own log files and packs held here into one new pack under the current key; undefined when it may not (no current key, closed). */
  makePack(files: readonly SegmentFile[], packs: readonly PackFile[]): Promise<PackFile | undefined>;
  /** What this device acknowledges in its presence: per device, the highest n with every log file 1…n held here. */
  holds(): Record<string, number>;
  /** Own log files (held as files) and packs sealed under a key that is not live: packed again under the current key. */
  retiredOwn(): Promise<{ files: SegmentFile[]; packs: PackFile[] }>;
  /** Devices a person removed from the practice on this PC, with the presence (`heartbeatAt`) each had then. */
  removedDevices(): Readonly<Record<string, string>>;
  /** Records a removal durably here (`token` undefined: forget it). */
  setRemoved(device: string, token: string | undefined): Promise<void>;
  /** Whether a pack held here holds exactly this log file. */
  packHolds(p: PackFile, f: SegmentFile): Promise<boolean>;

  // ---- what a carrier brings (verified by it: name, hash, authentication, schema) --------
  hasPack(p: PackFile): boolean;
  /** Whether another pack held here holds everything this one holds (by range). */
  packCovered(p: PackFile): boolean;
  /** Keeps a checked pack and applies what it holds; HeldFileError like acceptLogFile. */
  acceptPack(p: PackFile, bytes: Uint8Array, content: PackContent, listedAsFile?: (f: SegmentFile) => boolean, vouched?: boolean): Promise<void>;
  hasLogFile(f: SegmentFile): boolean;
  /** Whether a log file at this device's position was applied already (a second one is a fork). */
  hasLogPosition(device: string, seq: number): boolean;
  /**
   * Applies a log file; throws HeldFileError for one sealed under a replaced key that no device
   * holding the current key vouched for (tried again after `vouch` says there is news).
   */
  acceptLogFile(f: SegmentFile, bytes: Uint8Array, seg: Segment): Promise<void>;
  /** Tips named by the presence of a device that wrote it under a live key; true when one is new. */
  vouch(tips: Readonly<Record<string, readonly [number, string]>>): boolean;
  /** What this device vouches for in its presence: the newest log file applied of every device. */
  tips(): Record<string, [number, string]>;
  /** The keys a presence or log file must be sealed under to be taken as it is (KeyState.live). */
  liveKeys(): readonly string[];
  /** The generation this device adopted whose key file is not here (KeyState.awaitedAnchor): its own presence sealed under it is still its own word. */
  awaitedAnchor(): string | undefined;
  /** Keeps and applies a log file; its records are announced at once, the conflicts at `received`. */
  acceptLogFile(f: SegmentFile, bytes: Uint8Array, seg: Segment): Promise<void>;
  /** The carrier has handed over what it brought in this round (also after a failure half-way): what it kept is made durable. */
  received(): Promise<void>;
  /** Keeps key files and learns from them; true when a key was learned or the write key changed. */
  acceptKeyFiles(files: readonly { hash: string; bytes: Uint8Array }[]): Promise<boolean>;
  hasDeviceCard(device: string): Promise<boolean>;
  acceptDeviceCard(device: string, bytes: Uint8Array): Promise<void>;
  deviceCard(device: string): Promise<DeviceInfo | undefined>;
  attachmentHashes(): Promise<string[]>;
  /** Keeps an attachment's bytes only if they check out here (hash, authentication); else throws BadFileError. */
  acceptAttachment(hash: string, bytes: Uint8Array): Promise<void>;
  /** The highest position of a device's chain this replica has applied (0: none). */
  logTip(device: string): number;
  /** Changes of a device this replica holds (for "announced, not arrived"). */
  changeCountOf(device: string): number;
  reportBad(b: BadFile): void;
}

/** `emptied`: the folder is there but the store is gone from it (nothing but empty store folders left). */
/** `starting`: no round has ended yet (nothing is known of the location). `auth-required`: a server refused the login (expired, changed, revoked). `moved`: the location holds a note that the store moved elsewhere (MovedTo); this PC sends nothing there any more. */
/** `full`: the location took no more files (its disk or quota full, a FAT32 stick's folder at its entry limit): nothing is sent, what the others write is still received. */
/** `too-large`: the server refused a file as too large for its upload limit (413, S3 EntityTooLarge) — TooLargeFile; nothing is sent, what the others write is still received. */
export type CarrierHealth = 'starting' | 'ok' | 'unreachable' | 'wrong-folder' | 'emptied' | 'moved' | 'auth-required' | 'full' | 'too-large';

/** The file a server refused as too large (health `too-large`). */
export interface TooLargeFile {
  readonly kind: 'attachment' | 'log file' | 'other';
  readonly bytes: number;
}

/** Where the store went, from a believed "moved to" note in the location this PC still uses. */
export interface MovedTo {
  readonly to: string;
  /** A server address is the same on every PC; a folder may lie under another path here. */
  readonly kind: 'server' | 'folder';
  readonly at: string;
  readonly byDevice: string;
  /** The moving PC's name as this PC knows it (its card), or the start of its id. */
  readonly byName: string;
}

/** A gap in a device's chain as a person reads it: whose changes are missing, and since when. */
export interface MissingChanges {
  readonly deviceId: string;
  readonly name: string;
  readonly files: number;
  readonly since: string;
}

export interface DeviceSeen {
  readonly deviceId: string;
  readonly name: string;
  readonly user: string;
  readonly active: boolean;
  readonly lastSeenAt: string;
  readonly thisDevice: boolean;
  readonly since: string;
}

/** The carrier's side, as its owner (the open store, the service) uses it. */
export interface Carrier {
  readonly sync$: Observable<SyncStatus>;
  readonly health$: Observable<CarrierHealth>;
  readonly health: CarrierHealth;
  /** Where the store moved to, when this location holds a believed note (health `moved`). */
  readonly movedTo: MovedTo | undefined;
  /** The file the server refused as too large (health `too-large`). */
  readonly tooLarge?: TooLargeFile | undefined;
  readonly syncStatus: SyncStatus;
  readonly devicesSeen: readonly DeviceSeen[];
  /** Files here that wait for the key of a newer passphrase. */
  readonly lockedCount: number;
  /** Log files here sealed under a replaced key that no device holding the current one vouched for: not taken. */
  readonly heldCount: number;
  /**
   * The shared location's header differs from the replica's own copy (swapped or edited): reported,
   * never used, never overwritten.
   */
  readonly sharedHeaderAltered: boolean;
  /** Gaps in other devices' chains that nobody has filled for longer than the grace period. */
  readonly missing: readonly MissingChanges[];
  /**
   * "Remove this PC from the practice" (format 2): the other PCs no longer wait for it before removing
   * packed files; it is taken back by itself when it writes a presence again. Refused for this PC, a
   * PC working now, or one this PC does not know.
   */
  removeDevice(deviceId: string): Promise<'removed' | 'this-device' | 'active' | 'unknown'>;
  /** Another PC had removed this one from the practice (it is back now: its new presence is waited for). */
  readonly removedBy: { readonly byName: string } | undefined;
  /** Devices removed from the practice, as this PC knows (its own removals and those in other PCs' presences). */
  readonly removedDevices: ReadonlySet<string>;
  /** One round now (check, send, receive, presence); never throws. */
  exchange(): Promise<void>;
  /** The first round, awaited at most `timeoutMs` (0: not at all); it goes on in the background. */
  firstRound(timeoutMs: number): Promise<void>;
  start(): void;
  /** Schedules a round soon. */
  trigger(): void;
  /** After keys were learned outside a round: locked files are tried again. */
  keysChanged(): void;
  /** Sends until nothing is pending or the time is up; returns what is still pending. */
  sendWithin(timeoutMs: number): Promise<number>;
  /** Brings one attachment into the replica now; true when it arrived and checked out. */
  fetchAttachment(hash: string): Promise<boolean>;
  /** Writes every file this replica holds into an emptied shared folder, the header last; returns how many. */
  restore(): Promise<number>;
  /** Last send and presence, then every timer, watcher and stream ends. */
  stop(): Promise<void>;
}
