import { BlockList, isIP } from "node:net";

/** What an IP address is, for deciding whether a vendor's output may be fetched from it. */
export type AddressKind =
  | "public"
  | "unspecified"
  | "loopback"
  | "private"
  | "link-local"
  | "shared (CGNAT)"
  | "multicast"
  | "IPv4-mapped IPv6"
  | "unique-local IPv6"
  | "reserved";

type Family = "ipv4" | "ipv6";

/** Special-purpose ranges (IANA's IPv4/IPv6 special-purpose registries); anything else in IPv4 is public. */
const SPECIAL_RANGES: Array<[Family, string, number, Exclude<AddressKind, "public">]> = [
  ["ipv4", "0.0.0.0", 8, "unspecified"],
  ["ipv4", "10.0.0.0", 8, "private"],
  ["ipv4", "100.64.0.0", 10, "shared (CGNAT)"],
  ["ipv4", "127.0.0.0", 8, "loopback"],
  ["ipv4", "169.254.0.0", 16, "link-local"],
  ["ipv4", "172.16.0.0", 12, "private"],
  ["ipv4", "192.0.0.0", 24, "reserved"],
  ["ipv4", "192.0.2.0", 24, "reserved"],
  ["ipv4", "192.88.99.0", 24, "reserved"],
  ["ipv4", "192.168.0.0", 16, "private"],
  ["ipv4", "198.18.0.0", 15, "reserved"],
  ["ipv4", "198.51.100.0", 24, "reserved"],
  ["ipv4", "203.0.113.0", 24, "reserved"],
  ["ipv4", "224.0.0.0", 4, "multicast"],
  ["ipv4", "240.0.0.0", 4, "reserved"],
  ["ipv6", "::", 128, "unspecified"],
  ["ipv6", "::1", 128, "loopback"],
  ["ipv6", "::ffff:0:0", 96, "IPv4-mapped IPv6"],
  ["ipv6", "64:ff9b::", 96, "reserved"],
  ["ipv6", "fc00::", 7, "unique-local IPv6"],
  ["ipv6", "fe80::", 10, "link-local"],
  ["ipv6", "fec0::", 10, "link-local"],
  ["ipv6", "ff00::", 8, "multicast"],
  // Teredo and 6to4 embed an IPv4 address a relay would reach; the others are documentation/benchmarks.
  ["ipv6", "2001::", 32, "reserved"],
  ["ipv6", "2001:2::", 48, "reserved"],
  ["ipv6", "2001:db8::", 32, "reserved"],
  ["ipv6", "2002::", 16, "reserved"],
  ["ipv6", "3fff::", 20, "reserved"],
];

// One list per range: a BlockList holding an IPv6 rule also matches IPv4 addresses through their mapped form.
const RANGES = SPECIAL_RANGES.map(([family, network, prefix, kind]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { family, list, kind };
});

const GLOBAL_UNICAST_V6 = new BlockList();
GLOBAL_UNICAST_V6.addSubnet("2000::", 3, "ipv6");

/** Classifies an IP literal (IPv6 with or without brackets); throws for something that is not one. */
export function addressKind(address: string): AddressKind {
  const bare = address.replace(/^\[(.*)\]$/, "$1");
  const version = isIP(bare);
  if (version === 0) throw new TypeError(`not an IP address: ${address}`);
  const family: Family = version === 4 ? "ipv4" : "ipv6";
  const special = RANGES.find((range) => range.family === family && range.list.check(bare, family));
  if (special) return special.kind;
  // Outside 2000::/3 nothing in IPv6 is allocated for the public internet.
  if (family === "ipv6" && !GLOBAL_UNICAST_V6.check(bare, "ipv6")) return "reserved";
  return "public";
}
