import assert from "node:assert/strict";
import { decodeSockaddr, encodeSockaddr, formatIpv6, parseIpv6 } from "../../lib/sys/sockaddr.ts";

Deno.test("formatIpv6 writes RFC 5952 text, v4-mapped addresses included", () => {
  assert.equal(formatIpv6(parseIpv6("::")), "::");
  assert.equal(formatIpv6(parseIpv6("::1")), "::1");
  assert.equal(formatIpv6(parseIpv6("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");
  assert.equal(formatIpv6(parseIpv6("fe80::1:2")), "fe80::1:2");
  assert.equal(formatIpv6(parseIpv6("::ffff:127.0.0.1")), "::ffff:127.0.0.1");
  assert.equal(formatIpv6(parseIpv6("1:2:3:4:5:6:7:8")), "1:2:3:4:5:6:7:8");
});

Deno.test("parseIpv6 rejects malformed addresses", () => {
  for (const bad of ["1::2::3", "12345::", "1:2:3", "::g", "1:2:3:4:5:6:7:8:9"]) {
    assert.throws(() => parseIpv6(bad), RangeError, bad);
  }
});

Deno.test("sockaddr encoding round-trips for IPv4, IPv6 and unix paths", () => {
  for (
    const address of [
      { family: "ipv4", address: "127.0.0.1", port: 9999 },
      { family: "ipv6", address: "::1", port: 443 },
      { family: "unix", path: "/run/opsd.sock" },
    ] as const
  ) {
    const bytes = encodeSockaddr(address);
    assert.deepEqual(decodeSockaddr(bytes, bytes.length), address);
  }
  assert.throws(
    () => encodeSockaddr({ family: "ipv4", address: "256.0.0.1", port: 1 }),
    RangeError,
  );
});
