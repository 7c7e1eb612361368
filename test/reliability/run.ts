// `npm run reliability [-- --long]`: runs the campaign and writes docs/RELIABILITY.md.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { failuresOf, runSchedule, type RunResult } from './campaign';
import { badFileCorpus, crashCampaign } from './faults';

async function main(): Promise<void> {
  const long = process.argv.includes('--long');
  const schedules = long ? 60 : 8;
  const kills = long ? 40 : 6;
  const t0 = Date.now();
  const results: (RunResult & { seed: number })[] = [];
  const failures: string[] = [];
  for (let i = 0; i < schedules; i++) {
    const seed = 1 + Math.floor(Math.random() * 2 ** 31);
    const devices = 2 + (i % 3);
    const mode = i % 3 === 2 ? 'usb' : 'cloud';
    const passphraseChanges = i % 2 === 1; // every other schedule also changes the practice passphrase
    const r = await runSchedule(seed, devices, long ? 80 : 40, mode, { passphraseChanges });
    results.push({ ...r, seed });
    const what = `${devices} devices, ${mode}${passphraseChanges ? ', passphrase changes' : ''}`;
    for (const f of failuresOf(r)) failures.push(`seed ${seed} (${what}): ${f}`);
    process.stdout.write(`schedule ${i + 1}/${schedules}: seed ${seed}, ${what}, ${r.acknowledged} acknowledged, ${failuresOf(r).length} failures\n`);
  }
  const crash = await crashCampaign(kills);
  failures.push(...crash.failures);
  const bad = await badFileCorpus();
  failures.push(...bad.failures);
  const sum = (f: (r: RunResult) => number) => results.reduce((s, r) => s + f(r), 0);
  const lost = sum((r) => r.lost.length) + crash.lost;
  const divergent = results.filter((r) => r.divergent).length;
  const doc = `# Reliability

Produced by \`npm run reliability${long ? ' -- --long' : ''}\` on ${new Date().toISOString().slice(0, 10)} (${os.cpus().length} cores, Node ${process.version}), ${Math.round((Date.now() - t0) / 1000)} s.
The same campaign runs CI-sized in \`npm test\` (test/reliability/reliability.spec.ts).

| figure | value |
| --- | --- |
| schedules run (random practice work through the loaded plugin, random sync-client behaviour) | ${results.length} (${results.filter((r) => r.mode === 'cloud').length} cloud folder, ${results.filter((r) => r.mode === 'usb').length} USB stick) |
| devices per schedule | 2–4 (${sum((r) => r.devices)} device runs) |
| operations (put, remove, resolve, attachment, app restart, passphrase change, sync-client steps) | ${sum((r) => r.operations)} |
| acknowledged changes | ${sum((r) => r.acknowledged) + crash.acknowledged} |
| app restarts | ${sum((r) => r.restarts)} |
| practice passphrase changes (schedules with changes: ${results.filter((r) => r.passphrase.changes > 0).length}) / new passphrase typed on a PC that was behind or lacked a crossing one | ${sum((r) => r.passphrase.changes)} / ${sum((r) => r.passphrase.entries)} |
| **replaced passphrases that still opened the store, or passphrases that opened nothing** | **${sum((r) => r.passphrase.violations.length)}** |
| sync-client transfers / files first seen half-written / under a temp name / as empty placeholders | ${sum((r) => r.sim.transfers)} / ${sum((r) => r.sim.truncatedFirst)} / ${sum((r) => r.sim.tempNamesFirst)} / ${sum((r) => r.sim.placeholders)} |
| conflict copies and stray files made by the simulated clients | ${sum((r) => r.sim.conflictCopies + r.sim.strayFiles)} |
| USB stick pulled out (also mid-write) | ${sum((r) => r.sim.unplugs)} |
| writer processes killed with SIGKILL (during put, seal, push, snapshot, import) | ${crash.kills} |
| bad files tried (${bad.kinds.join(', ')}) | ${bad.tried} |
| **acknowledged changes lost** | **${lost}** |
| **divergent end states** | **${divergent}** |
| conflict flags not where concurrent edits happened | ${sum((r) => r.conflictMismatches.length)} |
| paths in the shared folder written by two devices, or changed after writing | ${sum((r) => r.writeViolations.length)} |
| verify findings on any replica after a run | ${sum((r) => r.verifyProblems.length) + crash.verifyProblems} |

${failures.length ? `Failures:\n\n${failures.map((f) => `- ${f}`).join('\n')}\n` : 'No failures.'}

What the simulator does (test/support/cloud-sim.ts): every device has its own copy of the cloud folder;
a replicator moves files between each copy and the cloud in random order and at random times, shows
some files first truncated under their final name, some first under a temporary name, some as empty
online-only placeholders that are hydrated later, turns files changed on two sides into conflict copies
(Dropbox, OneDrive, Nextcloud and Syncthing names), and litters desktop.ini, .DS_Store, Thumbs.db and
~$ files. In USB mode one folder is renamed between the devices' mount paths and pulled out at random
moments, also while a device writes. It records which device folder created or changed each path.
`;
  fs.writeFileSync(path.join(__dirname, '..', '..', 'docs', 'RELIABILITY.md'), doc);
  console.log(doc);
  if (failures.length) process.exit(1);
}

void main();
