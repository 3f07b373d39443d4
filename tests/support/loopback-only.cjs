"use strict";
/**
 * A test guard that keeps this process on 127.0.0.0/8: every TCP connection to any other address, and
 * every DNS query for a name other than localhost, is blocked before a packet leaves (the socket is
 * destroyed with ELOOPBACKONLY) and recorded. CommonJS so `node --require` can load it into `next start`
 * (see loopback-only-preload.cjs); unit tests install it through loopback-only.ts.
 *
 * `nat` maps pretend-public addresses (what a fake resolver answers for a CDN host) to a loopback test
 * server: the connection the code under test chose is recorded, then sent to loopback instead;
 * `natPort` replaces port 443 of connections made through a lookup (a test server need not own port 443).
 */
const net = require("node:net");
const dns = require("node:dns");
const { syncBuiltinESMExports } = require("node:module");

const isLoopback = (address) =>
  net.isIPv4(address) ? address.startsWith("127.") : address === "::1" || /^::ffff:127\./i.test(address);

function guardError(what) {
  const error = new Error(`loopback-only guard blocked ${what}`);
  error.code = "ELOOPBACKONLY";
  return error;
}

function install({ nat = {}, natPort, log = false, allowed = isLoopback } = {}) {
  const violations = [];
  const connections = [];
  const record = (what) => {
    violations.push(what);
    if (log) process.stderr.write(`[loopback-only] blocked ${what}\n`);
  };
  /** The loopback address to really connect to, or null when the address must not be reached. */
  const vet = (address) => (allowed(address) ? address : (nat[address] ?? null));

  const originalConnect = net.Socket.prototype.connect;
  const originalLookup = dns.lookup;
  const blockSocket = (socket, what) => {
    record(what);
    process.nextTick(() => socket.destroy(guardError(what)));
    return socket;
  };

  net.Socket.prototype.connect = function guardedConnect(...args) {
    let options;
    if (Array.isArray(args[0])) options = args[0][0];
    else if (args[0] !== null && typeof args[0] === "object") options = args[0];
    else {
      // connect(port[, host][, callback]): rewritten as the options form so it can be vetted.
      const callback = args.find((arg) => typeof arg === "function");
      options = { port: args[0], host: typeof args[1] === "string" ? args[1] : undefined };
      args = callback ? [options, callback] : [options];
    }
    // Only a string path is a Unix socket (the http agent passes `path: null` for TCP).
    if (!options || typeof options.path === "string") return originalConnect.apply(this, args);
    const host = options.host ?? "localhost";
    if (net.isIP(host)) {
      const to = vet(host);
      if (to === null) return blockSocket(this, `a connection to ${host}`);
      connections.push({ host, address: host, port: options.port });
      if (to !== host) {
        options.host = to;
        if (natPort && Number(options.port) === 443) options.port = natPort;
      }
      return originalConnect.apply(this, args);
    }
    const inner = options.lookup;
    if (!inner && host !== "localhost") return blockSocket(this, `a DNS lookup of ${host}`);
    const translated = inner && natPort && Number(options.port) === 443;
    if (translated) options.port = natPort;
    options.lookup = (hostname, lookupOptions, callback) => {
      (inner ?? originalLookup)(hostname, lookupOptions, (error, address, family) => {
        if (error) return callback(error);
        const entries = Array.isArray(address) ? address : [{ address, family }];
        const vetted = [];
        for (const entry of entries) {
          const to = vet(entry.address);
          if (to === null) {
            record(`a connection to ${entry.address} (${hostname})`);
            return callback(guardError(`a connection to ${entry.address}`));
          }
          connections.push({ host: hostname, address: entry.address, port: options.port });
          vetted.push({ address: to, family: net.isIPv6(to) ? 6 : 4 });
        }
        if (Array.isArray(address)) callback(null, vetted);
        else callback(null, vetted[0].address, vetted[0].family);
      });
    };
    // A second, independent check between the lookup and the connect: whatever lookup ran, the socket
    // is destroyed before connecting unless the address it is about to reach is allowed.
    this.on("lookup", (error, address) => {
      if (!error && typeof address === "string" && !allowed(address)) {
        record(`a connection to ${address} (${host}) past the lookup`);
        this.destroy(guardError(`a connection to ${address}`));
      }
    });
    return originalConnect.apply(this, args);
  };

  // Resolving a name asks the system's name server, which is not on loopback: only localhost may be asked.
  const patched = [];
  const guardName = (target, key, callbackStyle) => {
    const original = target[key];
    if (typeof original !== "function") return;
    patched.push([target, key, original]);
    target[key] = function guardedResolve(hostname, ...rest) {
      if (hostname === "localhost" || net.isIP(hostname)) return original.call(this, hostname, ...rest);
      record(`a DNS lookup of ${hostname}`);
      const error = guardError(`a DNS lookup of ${hostname}`);
      if (!callbackStyle) return Promise.reject(error);
      const callback = rest.find((arg) => typeof arg === "function");
      process.nextTick(() => callback?.(error));
    };
  };
  const resolvers = ["lookup", "resolve", "resolve4", "resolve6", "resolveAny", "resolveCname"];
  for (const key of resolvers) guardName(dns, key, true);
  for (const key of resolvers) guardName(dns.promises, key, false);
  syncBuiltinESMExports();

  return {
    /** What was blocked, in order: a non-empty list means the code under test tried to leave loopback. */
    violations,
    /** Every connection let through: the host asked for, the address chosen, the port. */
    connections,
    uninstall() {
      net.Socket.prototype.connect = originalConnect;
      for (const [target, key, original] of patched) target[key] = original;
      syncBuiltinESMExports();
    },
  };
}

module.exports = { install, isLoopback };
