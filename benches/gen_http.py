#!/usr/bin/env python3
"""Deterministic HTTP-heavy workload for the replay benchmark: many small requests.

Writes a classic pcap of about N Ethernet frames: home clients in 192.168.0.0/16 open TCP
connections to web servers on port 80 (or 8080), each a full handshake, one to three
keep-alive requests (GET or POST, a path, Host, User-Agent, sometimes a Cookie or a small form
body), each answered by a small response (plain, chunked or gzip-encoded body), then FIN/ACK
both ways. Up to 200 connections are interleaved at any time, so reassembly and HTTP state are
exercised across flows. One request in 500 asks for a path that enabled community/ET rules
look for in http_uri (`/tx.exe` sid 28969, `/loadmsie.php?id=` sid 29166, `/xpsystem/commands.ini`
sid 2001475), so the content rules fire now and then. Checksums are valid.

usage: gen_http.py OUT.pcap N
"""
import gzip
import random
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(src, dst, sport, dport, seq, ack, flags, payload, ipid):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0) + payload
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, len(tcp))
    c = csum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ipid & 0xFFFF, 0x4000, 64, 6, 0,
                     src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00"
    return eth + ip + tcp


PATHS = [b"/", b"/index.html", b"/images/logo.png", b"/api/v1/items?id=%d", b"/search?q=%d",
         b"/static/app.js", b"/news/%d/comments", b"/a/b/../c/./d.css"]
AGENTS = [b"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0",
          b"curl/7.88.1", b"Wget/1.21.3"]
RARE = [b"/tx.exe", b"/xpsystem/commands.ini", b"/loadmsie.php?id=%d"]


def request(rng, n):
    if rng.random() < 0.002:
        path = rng.choice(RARE)
    else:
        path = rng.choice(PATHS)
    if b"%d" in path:
        path = path.replace(b"%d", str(rng.randrange(100000)).encode())
    host = b"www%d.example.com" % rng.randrange(50)
    head = [b"Host: " + host, b"User-Agent: " + rng.choice(AGENTS), b"Accept: */*"]
    if rng.random() < 0.3:
        head.append(b"Cookie: session=%08x; lang=en" % rng.getrandbits(32))
    body = b""
    method = b"GET"
    if rng.random() < 0.2:
        method = b"POST"
        body = b"name=%d&value=%d" % (rng.randrange(1000), n)
        head.append(b"Content-Type: application/x-www-form-urlencoded")
        head.append(b"Content-Length: %d" % len(body))
    return method + b" " + path + b" HTTP/1.1\r\n" + b"\r\n".join(head) + b"\r\n\r\n" + body


def response(rng):
    text = b"<html><body>" + b"x" * rng.randrange(20, 400) + b"</body></html>"
    kind = rng.random()
    head = [b"HTTP/1.1 200 OK", b"Server: nginx", b"Content-Type: text/html"]
    if kind < 0.2:
        body = gzip.compress(text, mtime=0)
        head += [b"Content-Encoding: gzip", b"Content-Length: %d" % len(body)]
    elif kind < 0.4:
        half = len(text) // 2
        body = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, text[:half], len(text) - half,
                                                        text[half:])
        head.append(b"Transfer-Encoding: chunked")
    else:
        body = text
        head.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def connection(rng, cid):
    """The frames of one connection, as (direction, flags, payload) steps."""
    steps = [("c", 0x02, b""), ("s", 0x12, b""), ("c", 0x10, b"")]
    for n in range(rng.randrange(1, 4)):
        steps.append(("c", 0x18, request(rng, cid * 4 + n)))
        steps.append(("s", 0x10, b""))
        steps.append(("s", 0x18, response(rng)))
        steps.append(("c", 0x10, b""))
    steps += [("c", 0x11, b""), ("s", 0x11, b""), ("c", 0x10, b"")]
    return steps


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(2007)
    f = open(out, "wb")
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    t = 1_700_000_000.0
    written = 0
    live = []
    cid = 0
    ipid = 1
    while written < n:
        while len(live) < 200:
            cid += 1
            client = bytes([192, 168, rng.randrange(256), rng.randrange(1, 255)])
            server = bytes([rng.choice([93, 104, 151, 185]), rng.randrange(256),
                            rng.randrange(256), rng.randrange(1, 255)])
            state = {
                "c": client, "s": server, "cp": 1024 + rng.randrange(60000),
                "sp": 80 if rng.random() < 0.9 else 8080,
                "cseq": rng.getrandbits(32), "sseq": rng.getrandbits(32),
                "steps": connection(rng, cid), "i": 0,
            }
            live.append(state)
        st = live[rng.randrange(len(live))]
        d, flags, payload = st["steps"][st["i"]]
        st["i"] += 1
        if d == "c":
            src, dst, sp, dp = st["c"], st["s"], st["cp"], st["sp"]
            seq, ack = st["cseq"], st["sseq"]
        else:
            src, dst, sp, dp = st["s"], st["c"], st["sp"], st["cp"]
            seq, ack = st["sseq"], st["cseq"]
        if flags == 0x02:
            ack = 0
        fr = frame(src, dst, sp, dp, seq, ack, flags, payload, ipid)
        ipid += 1
        adv = len(payload) + (1 if flags & 0x03 else 0)
        st["cseq" if d == "c" else "sseq"] += adv
        t += 0.0001
        sec = int(t)
        f.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(fr), len(fr)) + fr)
        written += 1
        if st["i"] == len(st["steps"]):
            live.remove(st)
    f.close()


if __name__ == "__main__":
    main()
