#!/usr/bin/env node
// Command line of the cloud-storage plugin (built code in dist/).
require('../dist/cli.js').main(process.argv.slice(2)).then((code) => process.exit(code));
