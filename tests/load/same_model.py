"""Exits 0 when two safetensors files written by `rnnhost train` hold the same tensors, byte for byte,
and the same metadata apart from what names the run rather than its result: the data file's name
(a path or "-") and the seconds a checkpoint took. Usage: same_model.py A B"""
import json
import struct
import sys


def parts(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    training = json.loads(meta.get("rnnhost.training", "{}"))
    training.pop("data", None)
    meta["rnnhost.training"] = training
    if "rnnhost.checkpoint" in meta:
        ck = json.loads(meta["rnnhost.checkpoint"])
        ck.pop("elapsed", None)
        meta["rnnhost.checkpoint"] = ck
    return header, meta, raw[8 + n:]


a, b = parts(sys.argv[1]), parts(sys.argv[2])
for what, x, y in zip(("tensor table", "metadata", "tensor bytes"), a, b):
    if x != y:
        print(f"{sys.argv[1]} and {sys.argv[2]}: the {what} differs", file=sys.stderr)
        sys.exit(1)
