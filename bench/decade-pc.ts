// One PC of the decade bench (bench/decade.ts) in its own process (node --import tsx, forked by the
// bench): a PracticeReplica and its SharedFolderExchange on the practice's one shared folder, driven by
// the bench over IPC one request at a time. The bench makes up every record and edit (seeded, so runs
// repeat); this process only stores them, exchanges and measures.
import type { ImportRecord, JsonObject } from '../src/host-api';
import type { StoreHeader } from '../src/services/store/format';
import { PracticeReplica } from '../src/services/store/practice-replica';
import { SharedFolderExchange } from '../src/services/store/shared-folder-exchange';

export type PcRequest =
  | { op: 'open'; localRoot: string; sharedRoot: string; header: StoreHeader; key: string; deviceId: string; deviceName: string; format: 1 | 2 }
  /** records for PC1's import, in parts; the last part imports them all (one import, as the bench always did) and seals */
  | { op: 'import'; records: ImportRecord[]; last: boolean }
  /** this PC's share of an "hour": each edit a put and a seal of its own (one log file per edit, as at human pace) */
  | { op: 'edits'; edits: ImportRecord[] }
  | { op: 'exchange' }
  /** history() of a record, timed, then a fresh snapshot (for the warm open of a copy of this replica) */
  | { op: 'measure'; collection: string; id: string }
  | { op: 'close' };

/**
 * After an exchange round: what this PC holds and still has to send, and how many files it wrote or
 * removed in the shared folder so far, its presence apart (format 2 rewrites it in every round once a
 * pack of this PC is acknowledged: a PC with packs never leaves it alone).
 */
export interface RoundReply {
  changes: number;
  pending: number;
  written: number;
  removed: number;
  health: string;
}
export interface MeasureReply {
  changes: number;
  historyMs: number;
  versions: number;
}

let pc: { replica: PracticeReplica; exchange: SharedFolderExchange; name: string } | undefined;
let importing: ImportRecord[] = [];
/** how far the exchange's list of written paths is counted, and how many of them are not the presence */
const seen = { paths: 0, written: 0 };
const warned = new Map<string, number>();

/** The exchange's warnings on stderr (a few of each), so that trouble of four PCs on one folder shows. */
function warn(name: string, msg: string, meta?: object): void {
  const n = (warned.get(msg) ?? 0) + 1;
  warned.set(msg, n);
  if (n <= 3 || n % 1000 === 0) process.stderr.write(`[${name}] ${msg}${meta ? ` ${JSON.stringify(meta)}` : ''}${n > 1 ? ` (${n}×)` : ''}\n`);
}

async function handle(req: PcRequest): Promise<unknown> {
  if (req.op === 'open') {
    const replica = await PracticeReplica.open({ localRoot: req.localRoot, header: req.header, key: Buffer.from(req.key, 'base64'), deviceId: req.deviceId, deviceName: req.deviceName, userName: 'bench', sealDelayMs: 60_000 });
    const name = req.deviceName;
    const logger = { debug: () => undefined, info: () => undefined, warn: (m: string, meta?: object) => warn(name, m, meta), error: (m: string, meta?: object) => warn(name, m, meta) };
    // format 2: packs of the default size (PACK_MIN_FILES) as in a practice, maintenance in every round, and no margin (the bench
    // compresses years into minutes: in a practice the 7 days keep ~2,100 more log files in the folder)
    const exchange = new SharedFolderExchange(replica, {
      sharedRoot: req.sharedRoot,
      deviceName: name,
      userName: 'bench',
      watch: false,
      pollMs: 1e9,
      auditMs: 1e9,
      logger,
      ...(req.format === 2 ? { maintenanceMs: 0, packMarginMs: 0 } : { formats: [1] }),
    });
    pc = { replica, exchange, name };
    return {};
  }
  if (!pc) throw new Error('not open');
  const { replica, exchange } = pc;
  switch (req.op) {
    case 'import': {
      importing.push(...req.records);
      if (!req.last) return {};
      await replica.importRecords(importing);
      await replica.sealNow();
      importing = [];
      return { changes: replica.changeCount };
    }
    case 'edits':
      for (const r of req.edits) {
        await replica.put(r.collection, r.id, r.data as JsonObject);
        await replica.sealNow(); // one log file per edit, as at human pace
      }
      return {};
    case 'exchange': {
      await exchange.exchange();
      const paths = exchange.writtenPaths;
      for (; seen.paths < paths.length; seen.paths++) if (!/(^|[\\/])presence$/.test(paths[seen.paths]!)) seen.written++;
      const reply: RoundReply = { changes: replica.changeCount, pending: exchange.pendingUploads(), written: seen.written, removed: exchange.removedPaths.length, health: exchange.health };
      return reply;
    }
    case 'measure': {
      const t = performance.now();
      const versions = await replica.history(req.collection, req.id);
      const historyMs = performance.now() - t;
      await replica.writeSnapshot();
      const reply: MeasureReply = { changes: replica.changeCount, historyMs, versions: versions.length };
      return reply;
    }
    case 'close':
      await exchange.stop();
      await replica.close();
      pc = undefined;
      return {};
  }
}

/** This process's CPU time so far (all its threads), sent with every answer. */
function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

// one request at a time, in the order sent (the bench awaits each answer anyway)
let queue: Promise<unknown> = Promise.resolve();
process.on('message', (m: { seq: number; req: PcRequest }) => {
  queue = queue.then(async () => {
    try {
      const result = await handle(m.req);
      process.send!({ seq: m.seq, result, cpuMs: cpuMs() });
    } catch (e) {
      process.send!({ seq: m.seq, error: e instanceof Error ? (e.stack ?? e.message) : String(e), cpuMs: cpuMs() });
    }
    if (m.req.op === 'close') process.disconnect();
  });
});
