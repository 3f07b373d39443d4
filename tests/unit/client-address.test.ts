import { describe, expect, it } from "vitest";
import { parseConfig } from "@/lib/config";
import { addressKeyOf, clientKeyOf, SHARED_CLIENT_KEY } from "@/lib/request";

const requestWith = (headers: Record<string, string>) =>
  new Request("http://app.test/api/generation/start", { method: "POST", headers });

describe("who the client is (rate-limit key)", () => {
  it("reads the source from the configuration: Vercel, TRUSTED_PROXY_HOPS, or nothing to trust", () => {
    expect(parseConfig({}).clientAddress).toEqual({ kind: "untrusted" });
    expect(parseConfig({ TRUSTED_PROXY_HOPS: "2" }).clientAddress).toEqual({ kind: "proxy", hops: 2 });
    // Vercel's proxy overwrites the forwarding headers: proxies in front of it do not count.
    expect(
      parseConfig({ VERCEL: "1", REDIS_URL: "redis://x", TRUSTED_PROXY_HOPS: "2" }).clientAddress,
    ).toEqual({
      kind: "vercel",
    });
    expect(() => parseConfig({ TRUSTED_PROXY_HOPS: "-1" })).toThrow(/TRUSTED_PROXY_HOPS/);
  });

  it("trusts no header by default: every client shares one bucket, whatever it writes", () => {
    const source = { kind: "untrusted" } as const;
    const cases: Array<Record<string, string>> = [
      {},
      { "x-forwarded-for": "203.0.113.7" },
      { "x-forwarded-for": "198.51.100.1, 203.0.113.7" },
      { "x-real-ip": "203.0.113.9" },
    ];
    for (const headers of cases) {
      expect(clientKeyOf(requestWith(headers), source)).toBe(SHARED_CLIENT_KEY);
    }
  });

  it("behind the operator's proxies, takes the entry the outermost trusted proxy appended", () => {
    const one = { kind: "proxy", hops: 1 } as const;
    const two = { kind: "proxy", hops: 2 } as const;
    const chain = { "x-forwarded-for": "6.6.6.6, 203.0.113.7, 10.0.0.2" };
    expect(clientKeyOf(requestWith(chain), one)).toBe("ip:10.0.0.2");
    expect(clientKeyOf(requestWith(chain), two)).toBe("ip:203.0.113.7");
    // What the client wrote to the left changes nothing.
    const spoofed = { "x-forwarded-for": "1.2.3.4, 5.6.7.8, 203.0.113.7, 10.0.0.2" };
    expect(clientKeyOf(requestWith(spoofed), two)).toBe("ip:203.0.113.7");
    // Fewer entries than trusted hops, none, or no address: nothing to trust.
    expect(clientKeyOf(requestWith({ "x-forwarded-for": "203.0.113.7" }), two)).toBe(SHARED_CLIENT_KEY);
    expect(clientKeyOf(requestWith({}), one)).toBe(SHARED_CLIENT_KEY);
    expect(clientKeyOf(requestWith({ "x-forwarded-for": "hello" }), one)).toBe(SHARED_CLIENT_KEY);
  });

  it("on Vercel, takes the address its proxy writes", () => {
    const vercel = { kind: "vercel" } as const;
    expect(
      clientKeyOf(requestWith({ "x-real-ip": "203.0.113.7", "x-forwarded-for": "6.6.6.6" }), vercel),
    ).toBe("ip:203.0.113.7");
    expect(clientKeyOf(requestWith({ "x-vercel-forwarded-for": "203.0.113.8" }), vercel)).toBe(
      "ip:203.0.113.8",
    );
    expect(clientKeyOf(requestWith({ "x-forwarded-for": "203.0.113.9" }), vercel)).toBe(SHARED_CLIENT_KEY);
  });

  it("keys IPv6 clients by their /64, and IPv4-mapped IPv6 as IPv4", () => {
    expect(addressKeyOf("2001:db8:aa:bb:1:2:3:4")).toBe("ip6:2001:db8:aa:bb::/64");
    expect(addressKeyOf("2001:db8:aa:bb::ffff")).toBe("ip6:2001:db8:aa:bb::/64");
    expect(addressKeyOf("[2001:db8:aa:bb::1]:443")).toBe("ip6:2001:db8:aa:bb::/64");
    expect(addressKeyOf("fe80::1%eth0")).toBe("ip6:fe80:0:0:0::/64");
    expect(addressKeyOf("2001:db8:aa:bc::1")).not.toBe(addressKeyOf("2001:db8:aa:bb::1"));
    expect(addressKeyOf("::ffff:203.0.113.7")).toBe("ip:203.0.113.7");
    expect(addressKeyOf("203.0.113.7:5123")).toBe("ip:203.0.113.7");
    for (const junk of ["", "1.2.3", "0x7f.1", "localhost", "203.0.113.7, 1.1.1.1", null, undefined]) {
      expect(addressKeyOf(junk)).toBeNull();
    }
  });
});
