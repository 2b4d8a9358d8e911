#!/usr/bin/env python3
"""Prints the channel messages of a Standard MIDI File, one "tick status data1 data2" (hex status) a line,
track after track: an independent reader for the play tests, so the record is not only checked by the
reader that shares code with the writer."""
import struct
import sys


def vlq(b, i):
    n = 0
    while True:
        n = (n << 7) | (b[i] & 0x7F)
        i += 1
        if not b[i - 1] & 0x80:
            return n, i


def messages(path):
    b = open(path, "rb").read()
    if b[:4] != b"MThd":
        raise ValueError("not a MIDI file")
    hlen, _fmt, ntracks, _division = struct.unpack(">IHHH", b[4:14])
    i = 8 + hlen
    for _ in range(ntracks):
        if b[i:i + 4] != b"MTrk":
            raise ValueError("no MTrk at byte %d" % i)
        (tlen,) = struct.unpack(">I", b[i + 4:i + 8])
        i, end, tick, status = i + 8, i + 8 + tlen, 0, 0
        while i < end:
            delta, i = vlq(b, i)
            tick += delta
            if b[i] == 0xFF:
                n, j = vlq(b, i + 2)
                i = j + n
                continue
            if b[i] in (0xF0, 0xF7):
                n, j = vlq(b, i + 1)
                i = j + n
                continue
            if b[i] & 0x80:
                status = b[i]
                i += 1
            size = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
            data = list(b[i:i + size]) + [0]
            i += size
            yield tick, status, data[0], data[1]


if __name__ == "__main__":
    for m in messages(sys.argv[1]):
        print("%d %02x %d %d" % m)
