"""Writes the small music fixtures the music tests train on: a JSON piano-roll file with train/valid
splits of simple chord progressions, and a folder of MIDI files (format 1, running status) with
arpeggios. Deterministic. Usage: make_music.py DIR"""
import json
import os
import random
import struct
import sys

out = sys.argv[1]
rng = random.Random(5)
chords = [[60, 64, 67], [65, 69, 72], [67, 71, 74], [57, 60, 64], [62, 65, 69]]


def progression(n):
    seq = []
    for _ in range(n):
        c = rng.choice(chords)
        seq += [c, c] if rng.random() < 0.5 else [c]
    return seq


rolls = {"train": [progression(rng.randint(12, 30)) for _ in range(40)],
         "valid": [progression(rng.randint(12, 30)) for _ in range(8)]}
with open(os.path.join(out, "rolls.json"), "w") as f:
    json.dump(rolls, f)


def vlq(n):
    b = [n & 0x7F]
    n >>= 7
    while n:
        b.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(b))


def track(events):
    body = b"".join(events) + b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


os.makedirs(os.path.join(out, "midi"), exist_ok=True)
for i in range(12):
    root = rng.choice([48, 50, 52, 53, 55, 57])
    ev = [b"\x00\xff\x51\x03\x07\xa1\x20"]  # 120 bpm
    first = True
    for k in range(rng.randint(16, 32)):
        pitch = root + [0, 4, 7, 12, 7, 4][k % 6]
        ev.append(vlq(0) + (b"\x90" if first else b"") + bytes([pitch, rng.randint(60, 100)]))
        first = False
        ev.append(vlq(240) + bytes([pitch, 0]))  # running status note-off by velocity 0
    data = b"MThd" + struct.pack(">IHHH", 6, 1, 1, 480) + track(ev)
    with open(os.path.join(out, "midi", f"tune{i:02d}.mid"), "wb") as f:
        f.write(data)
