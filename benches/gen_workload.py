#!/usr/bin/env python3
"""Deterministic busy-gateway workload for the replay benchmark.

Writes a classic pcap of N Ethernet frames: sizes 60/576/1514 in the ratio 4:3:3, TCP and UDP
half and half, home hosts in 192.168.0.0/16 talking to public addresses over a pool of 20,000
live conversations (one in 50 packets starts a new one, as on a busy gateway), and one packet
in 1,000 to or from an address taken from the given IP-list rule files (a SYN or a UDP
datagram, so the ET rules fire). Payloads are zero bytes, so checksums stay cheap to compute and valid.

`--remote` chooses the public side of the conversations: `classic` (default) draws it from
eight /8s; `pool` draws each conversation's address uniformly from all of IPv4 (so the 20,000
conversations go to a pool of about 20,000 addresses spread over the whole space); `random`
gives every packet a new uniformly random address, the worst case for the index's caches.
HOME_NET 192.168.0.0/16 is never drawn as a public address.

usage: gen_workload.py OUT.pcap N [--remote classic|pool|random] RULEFILE...
"""
import random
import re
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def listed_addresses(paths):
    out = []
    for p in paths:
        for line in open(p, encoding="utf-8", errors="replace"):
            if not line.startswith("alert"):
                continue
            for a in re.findall(r"\b(\d+\.\d+\.\d+\.\d+)(?:/(\d+))?\b", line):
                ip, plen = a
                if plen and int(plen) < 32:
                    base = struct.unpack("!I", bytes(int(x) for x in ip.split(".")))[0]
                    ip = ".".join(str(b) for b in struct.pack("!I", base + 1))
                out.append(ip)
    return sorted(set(out))


def public(rng):
    while True:
        a = rng.getrandbits(32)
        if a >> 16 != 0xC0A8 and a & 255 not in (0, 255):
            return struct.pack("!I", a)


def main():
    out_path, n = sys.argv[1], int(sys.argv[2])
    args = sys.argv[3:]
    remote_mode = "classic"
    if args[:1] == ["--remote"]:
        remote_mode, args = args[1], args[2:]
    listed = listed_addresses(args) or ["203.0.113.7"]
    rng = random.Random(2007)
    sizes = [60] * 4 + [576] * 3 + [1514] * 3
    zeros = bytes(1514)
    with open(out_path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        t = 1_700_000_000.0
        flows = []
        for i in range(n):
            size = sizes[rng.randrange(10)]
            if i % 1000 == 999:
                home = bytes([192, 168, rng.randrange(256), rng.randrange(1, 255)])
                remote = bytes(int(x) for x in rng.choice(listed).split("."))
                tcp = rng.random() < 0.5
                syn = True
                outbound = rng.random() < 0.5
                sport, dport = rng.randrange(1024, 65535), rng.choice([80, 443, 53, 6667])
            else:
                if len(flows) < 20000 or rng.random() < 0.02:
                    if remote_mode == "classic":
                        far = bytes([rng.choice([23, 45, 62, 81, 104, 151, 185, 212]), rng.randrange(256),
                                     rng.randrange(256), rng.randrange(1, 255)])
                    else:
                        far = public(rng)
                    flow = (bytes([192, 168, rng.randrange(256), rng.randrange(1, 255)]), far,
                            rng.random() < 0.5, rng.randrange(1024, 65535), rng.choice([80, 443, 53, 8080]))
                    if len(flows) < 20000:
                        flows.append(flow)
                    else:
                        flows[rng.randrange(len(flows))] = flow
                else:
                    flow = flows[rng.randrange(len(flows))]
                home, remote, tcp, sport, dport = flow
                if remote_mode == "random":
                    remote = public(rng)
                syn = False
                outbound = rng.random() < 0.5
            src, dst = (home, remote) if outbound else (remote, home)
            if not outbound:
                sport, dport = dport, sport
            l4len = 20 if tcp else 8
            payload_len = size - 14 - 20 - l4len
            ip_total = 20 + l4len + payload_len
            proto = 6 if tcp else 17
            iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_total, i & 0xFFFF, 0x4000, 64, proto, 0, src, dst)
            iph = iph[:10] + struct.pack("!H", csum(iph)) + iph[12:]
            pseudo = src + dst + struct.pack("!BBH", 0, proto, l4len + payload_len)
            if tcp:
                flags = 0x02 if syn else 0x18
                l4 = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), 0 if syn else rng.getrandbits(32),
                                 0x50, flags, 64240, 0, 0)
            else:
                l4 = struct.pack("!HHHH", sport, dport, l4len + payload_len, 0)
            c = csum(pseudo + l4)  # the zero payload adds nothing
            if not tcp and c == 0:
                c = 0xFFFF
            off = 16 if tcp else 6
            l4 = l4[:off] + struct.pack("!H", c) + l4[off + 2:]
            eth = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00"
            frame = eth + iph + l4 + zeros[:payload_len]
            t += 0.0001
            sec = int(t)
            f.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(frame), len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()
