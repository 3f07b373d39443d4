"use strict";
// Loaded with `node --require` into an app under test: it may reach nothing but 127.0.0.0/8.
require("./loopback-only.cjs").install({ log: true });
