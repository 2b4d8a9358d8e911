"""Short recordings for batch transcription: DISTINCT different WAVs (tones and noise of 0.3 to 1.2 s at
RATE Hz, 16-bit mono), hard-linked (copied where links fail) under N names DIR/dNN/fNNNNN.wav, so a
folder of thousands of files costs the disk of a few. Deterministic. Usage: make_wavs.py DIR N DISTINCT [RATE]"""
import math
import os
import random
import shutil
import struct
import sys
import wave

out, n, distinct = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rate = int(sys.argv[4]) if len(sys.argv) > 4 else 8000
rng = random.Random(7)
os.makedirs(os.path.join(out, ".src"), exist_ok=True)
sources = []
for k in range(distinct):
    samples = []
    for _ in range(rng.randint(1, 3)):
        f, amp, length = rng.uniform(150, 2500), rng.uniform(0.1, 0.6), int(rate * rng.uniform(0.1, 0.4))
        samples += [amp * math.sin(2 * math.pi * f * i / rate) + rng.gauss(0, 0.01) for i in range(length)]
        samples += [rng.gauss(0, 0.005) for _ in range(int(rate * rng.uniform(0.05, 0.3)))]
    path = os.path.join(out, ".src", "s%03d.wav" % k)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", max(-32768, min(32767, int(v * 32767)))) for v in samples))
    sources.append(path)
for i in range(n):
    sub = os.path.join(out, "d%02d" % (i // 1000))
    os.makedirs(sub, exist_ok=True)
    dst = os.path.join(sub, "f%05d.wav" % i)
    try:
        os.link(sources[i % distinct], dst)
    except OSError:
        shutil.copyfile(sources[i % distinct], dst)
