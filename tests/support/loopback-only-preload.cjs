"use strict";
// Loaded with `node --require` into an app under test: it may reach nothing but 127.0.0.0/8.
require("./loopback-only.cjs").install({ log: true });
// Proof for the test that the guard is really in place in this process.
process.stderr.write(`[loopback-only] installed in process ${process.pid}\n`);
