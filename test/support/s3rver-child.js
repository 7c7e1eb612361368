// s3rver in its own process (test/support/servers.ts starts it), so that the tests can stop
// (SIGSTOP) and kill it like the other servers. Arguments: port, directory, bucket.
'use strict';
const S3rver = require('s3rver');

const [port, directory, bucket] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory,
  silent: !process.env.S3RVER_LOG, // S3RVER_LOG=1: its request log in the server's logTail()
  resetOnClose: false,
  configureBuckets: [{ name: bucket }],
});
server.run().catch((e) => {
  process.stderr.write(`s3rver: ${e && e.message}\n`);
  process.exit(1);
});
// SIGTERM ends it at once (node's default), as a server process dies: no close() that would wait for idle connections.
