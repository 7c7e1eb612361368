// `npm start`: the reference dev host. Flags: --device NAME, --port N, --shared DIR|ADDRESS, --app-data DIR,
// --flag-off. Prints the URL (with the per-run token) to open in a browser. --shared takes a folder or
// a server address (https://… WebDAV, s3+https://… S3; docs/SERVERS.md), which the person types into
// the settings page's folder field (the host's folder picker browses folders only).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DevHost } from './dev-host';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const work = path.join(root, '.dev-host');
  const deviceName = arg('device') ?? 'Praxis-PC 1';
  const given = arg('shared');
  const address = given !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : undefined;
  const shared = path.resolve(address ? path.join(work, 'shared') : (given ?? path.join(work, 'shared')));
  const appDataDir = path.resolve(arg('app-data') ?? path.join(work, deviceName.replace(/[^A-Za-z0-9-]+/g, '-')));
  fs.mkdirSync(shared, { recursive: true });
  fs.mkdirSync(appDataDir, { recursive: true });
  const host = new DevHost({ pluginDir: root, deviceName, appDataDir, sharedDefault: shared, port: Number(arg('port') ?? 0), flagOn: !process.argv.includes('--flag-off') });
  await host.start();
  console.log(`Dev host "${deviceName}" (cloud storage ${process.argv.includes('--flag-off') ? 'not unlocked' : 'unlocked'})`);
  if (address) console.log(`  server address to enter:  ${address.replace(/\/\/[^/@]*@/, '//')}`);
  else console.log(`  shared folder suggested: ${shared}`);
  console.log(`  app data:                ${appDataDir}`);
  console.log(`DEV_HOST_URL ${host.url}`);
  const stop = () => void host.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
