#!/usr/bin/env python3
"""Generated IP-list rule files for the scaling benchmark.

Writes ET-style rules (`alert tcp $HOME_NET any -> [LIST] any (... flags:S; threshold ...)`)
holding N entries in all, 200 per rule: single IPv4 addresses, IPv4 CIDRs (/22 to /30) and
IPv6 addresses and prefixes mixed (60/20/15/5 %). Deterministic for a given N. The CIDRs are
kept as narrow as real block lists' so that a million entries cover well under 1 % of the
IPv4 space: the benchmark then measures the index, not a list that matches a fifth of all
traffic.

usage: gen_lists.py OUT.rules N
"""
import random
import sys


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(n)
    entries = []
    for _ in range(n):
        r = rng.random()
        if r < 0.60:
            entries.append("%d.%d.%d.%d" % (rng.choice(range(11, 223)), rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)))
        elif r < 0.80:
            plen = rng.randrange(22, 31)
            a = rng.getrandbits(32) & ~((1 << (32 - plen)) - 1) & 0xFFFFFFFF
            a = (a & 0x00FFFFFF) | (rng.choice(range(11, 223)) << 24)
            entries.append("%d.%d.%d.%d/%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, plen))
        elif r < 0.95:
            entries.append("2001:db8:%x:%x::%x" % (rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(16)))
        else:
            entries.append("2001:db8:%x::/48" % rng.getrandbits(16))
    with open(out, "w") as f:
        sid = 9_000_000
        for i in range(0, len(entries), 200):
            chunk = ",".join(entries[i:i + 200])
            f.write('alert tcp $HOME_NET any -> [%s] any (msg:"BENCH list group %d"; flags:S; '
                    'threshold: type limit, track by_src, seconds 3600, count 1; '
                    'classtype:trojan-activity; flowbits:set,ET.Evil; sid:%d; rev:1;)\n'
                    % (chunk, i // 200 + 1, sid))
            sid += 1


if __name__ == "__main__":
    main()
