#!/usr/bin/env python3
"""Generated IP-list rule files for the scaling benchmark.

Writes ET-style rules (`alert tcp $HOME_NET any -> [LIST] any (... flags:S; threshold ...)`)
holding N entries in all, 200 per rule: single IPv4 addresses, IPv4 CIDRs (/22 to /30) and
IPv6 addresses and prefixes mixed (60/20/15/5 %). Deterministic for a given N. The CIDRs are
kept as narrow as real block lists' so that a million entries cover well under 1 % of the
IPv4 space: the benchmark then measures the index, not a list that matches a fifth of all
traffic.

With SHAPE `spread` the entries are instead mostly single addresses over the whole IPv4 space,
as big feeds (FireHOL, ET compromised) are: 80 % /32 drawn uniformly from all of IPv4 except
the benchmark's HOME_NET 192.168.0.0/16, 10 % CIDRs /24 to /28, 10 % IPv6 (/128 and /48 in
2000::/3), 1,000 per rule. Every /16 of the IPv4 map then holds a few dozen boundaries.

With SHAPE `spread-ip` the same entries become `alert ip` rules with no flags, as
`nsm-sensor update` writes an IP feed (`kind = "iplist"`): every packet, TCP, UDP or other,
is then looked up.

usage: gen_lists.py OUT.rules N [classic|spread|spread-ip]
"""
import random
import sys


def v4(a):
    return "%d.%d.%d.%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255)


def spread_entries(n, rng):
    entries = []
    while len(entries) < n:
        r = rng.random()
        if r < 0.90:
            a = rng.getrandbits(32)
            if a >> 16 == 0xC0A8:  # HOME_NET
                continue
            if r < 0.80:
                entries.append(v4(a))
            else:
                plen = rng.randrange(24, 29)
                entries.append("%s/%d" % (v4(a & ~((1 << (32 - plen)) - 1) & 0xFFFFFFFF), plen))
        else:
            words = [0x2000 | rng.getrandbits(13)] + [rng.getrandbits(16) for _ in range(7)]
            if rng.random() < 0.8:
                entries.append(":".join("%x" % w for w in words))
            else:
                entries.append("%s::/48" % ":".join("%x" % w for w in words[:3]))
    return entries


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    shape = sys.argv[3] if len(sys.argv) > 3 else "classic"
    rng = random.Random(n)
    if shape in ("spread", "spread-ip"):
        write(out, spread_entries(n, rng), 1000, ip=shape == "spread-ip")
        return
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
    write(out, entries, 200)


def write(out, entries, per_rule, ip=False):
    with open(out, "w") as f:
        sid = 9_000_000
        for i in range(0, len(entries), per_rule):
            chunk = ",".join(entries[i:i + per_rule])
            if ip:
                f.write('alert ip $HOME_NET any -> [%s] any (msg:"BENCH feed (group %d)"; '
                        'threshold: type limit, track by_src, seconds 3600, count 1; '
                        'classtype:misc-attack; sid:%d; rev:1;)\n'
                        % (chunk, i // per_rule + 1, sid))
                sid += 1
                continue
            f.write('alert tcp $HOME_NET any -> [%s] any (msg:"BENCH list group %d"; flags:S; '
                    'threshold: type limit, track by_src, seconds 3600, count 1; '
                    'classtype:trojan-activity; flowbits:set,ET.Evil; sid:%d; rev:1;)\n'
                    % (chunk, i // per_rule + 1, sid))
            sid += 1


if __name__ == "__main__":
    main()
