"""A long recording: one minute of tones (0.1 to 0.6 s, 200 to 3000 Hz) between quiet noisy pauses,
repeated MINUTES times, 16-bit mono at RATE Hz. Memory is the one minute. Usage: make_long.py FILE MINUTES [RATE]"""
import math
import random
import struct
import sys
import wave

path, minutes = sys.argv[1], int(sys.argv[2])
rate = int(sys.argv[3]) if len(sys.argv) > 3 else 8000
rng = random.Random(3)
samples = []
while len(samples) < 60 * rate:
    f, amp = rng.uniform(200, 3000), rng.uniform(0.05, 0.5)
    samples += [amp * math.sin(2 * math.pi * f * i / rate) for i in range(int(rate * rng.uniform(0.1, 0.6)))]
    samples += [rng.gauss(0, 0.003) for _ in range(int(rate * rng.uniform(0.05, 1.5)))]
block = struct.pack("<%dh" % (60 * rate), *(max(-32768, min(32767, int(v * 32767))) for v in samples[:60 * rate]))
with wave.open(path, "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(rate)
    for _ in range(minutes):
        w.writeframes(block)
