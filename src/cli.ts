// `npx cloud-storage verify <folder>`: the integrity check the vendor's support asks customers for.
import * as readline from 'node:readline';
import { keyringFromPassphrase } from './services/crypto/keyring';
import { ReplicaFolder } from './services/store/replica-folder';
import { formatReport, verifyReplica } from './services/store/verify';

async function readPassphrase(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    // Piped (support scripts): the first line of standard input. Never an argument: it would show in the process list.
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    return '';
  }
  process.stderr.write(prompt);
  return new Promise((resolve) => {
    let value = '';
    process.stdin.setRawMode(true);
    process.stdin.resume();
    const onData = (b: Buffer) => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          process.stdin.setRawMode(false);
          process.stdin.pause();
          process.stdin.off('data', onData);
          process.stderr.write('\n');
          return resolve(value);
        }
        if (ch === '\u0003') process.exit(130);
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    process.stdin.on('data', onData);
  });
}

/** Never a stack trace for the support: anything unexpected is said in words, with its code. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await verifyCommand(argv);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    const what = code ? `${code}${(e as NodeJS.ErrnoException).path ? ` (${(e as NodeJS.ErrnoException).path})` : ''}` : e instanceof Error ? e.message : String(e);
    process.stderr.write(`Die Prüfung konnte nicht abgeschlossen werden: ${what}. / The check could not be completed: ${what}.\n`);
    return 4;
  }
}

async function verifyCommand(argv: string[]): Promise<number> {
  const [cmd, folder] = argv;
  if (cmd !== 'verify' || !folder) {
    process.stderr.write('Aufruf / usage: cloud-storage verify <Ordner|folder>\n');
    return 2;
  }
  const hdr = await ReplicaFolder.readHeader(folder).catch((e: NodeJS.ErrnoException) => ({ kind: 'error' as const, code: e.code }));
  if (hdr.kind !== 'ok') {
    process.stderr.write(
      `In ${folder} liegt kein lesbarer Praxis-Speicher (${hdr.kind}). / ${folder} holds no readable practice store (${hdr.kind}).\n`,
    );
    return 2;
  }
  const pass = await readPassphrase('Praxis-Passwort / practice passphrase: ');
  const r = await keyringFromPassphrase(hdr.header, await ReplicaFolder.keyFilesAt(folder, hdr.header.storeId), pass);
  if (r.kind === 'wrong') {
    process.stderr.write('Das Praxis-Passwort stimmt nicht. / The practice passphrase is wrong.\n');
    return 3;
  }
  if (r.kind === 'retired')
    process.stderr.write(
      'Dieses Praxis-Passwort wurde durch ein neues ersetzt; nur was davor gespeichert wurde, wird geprüft. / This passphrase was replaced by a newer one; only what was saved before is checked.\n',
    );
  const report = await verifyReplica(folder, hdr.header, r.keyring);
  process.stdout.write(formatReport(report) + '\n');
  return report.problems.length === 0 ? 0 : 1;
}

if (require.main === module) void main(process.argv.slice(2)).then((code) => process.exit(code));
