#!/usr/bin/env python3
"""Model files that lie, made from a genuine one: python3 make_lies.py KIND IN OUT
KIND is one of: shape (a tensor's shape swapped for another of the same size), offsets (a tensor's data
said to end past the file), header-huge (a header length of 2^62), header-long (a header length just past
the file), nan (one weight NaN), truncated (the last tensor's bytes cut off), task (task rewritten).
Only the header is re-encoded; the tensor bytes stay the genuine file's."""
import json
import struct
import sys

kind, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()
hl = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + hl])
body = bytearray(data[8 + hl:])
tensors = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
first, last = tensors[0], tensors[-1]


def encode(h, b):
    raw = json.dumps(h, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes(b)


if kind == "shape":
    shape = header[first]["shape"]
    header[first]["shape"] = list(reversed(shape)) if len(shape) > 1 and shape[0] != shape[-1] else [1] + shape
    out = encode(header, body)
elif kind == "offsets":
    a, b = header[last]["data_offsets"]
    header[last]["data_offsets"] = [a + (1 << 20), b + (1 << 20)]
    out = encode(header, body)
elif kind == "header-huge":
    out = struct.pack("<Q", 1 << 62) + data[8:]
elif kind == "header-long":
    out = struct.pack("<Q", len(data)) + data[8:]
elif kind == "nan":
    at = header[last]["data_offsets"][0]
    body[at:at + 4] = struct.pack("<f", float("nan"))
    out = encode(header, body)
elif kind == "truncated":
    out = encode(header, body)[:-4]
elif kind.startswith("meta:"):
    key, value = kind[5:].split("=", 1)
    header["__metadata__"][key] = value
    out = encode(header, body)
else:
    sys.exit("unknown kind " + kind)
open(dst, "wb").write(out)
