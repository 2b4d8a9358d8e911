"""Writes a text corpus of about SIZE bytes of random lines (words with a few accented and non-Latin
ones, so symbols of two to four bytes occur). Deterministic for a given size. Usage: make_text.py FILE SIZE"""
import random
import sys

path, size = sys.argv[1], int(sys.argv[2])
rng = random.Random(size)
words = ("the cat sat on a mat and dog ran far away then slept by old river under green hill "
         "café über naïve λόγος 東京 🙂").split()
block = 1 << 20
with open(path, "w", encoding="utf-8") as f:
    written = 0
    while written < size:
        want = min(block, size - written)
        parts, n = [], 0
        while n < want:
            line = " ".join(rng.choices(words, k=rng.randint(3, 12))) + "\n"
            parts.append(line)
            n += len(line.encode("utf-8"))
        chunk = "".join(parts)
        f.write(chunk)
        written += n
