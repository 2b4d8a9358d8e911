"""Writes the small text fixtures the language-model tests train on: deterministic, made here, no data
set needed. Usage: make_corpus.py DIR"""
import os
import random
import sys

out = sys.argv[1]
rng = random.Random(20261124)
words = "the cat sat on a mat and dog ran far away then slept by old river under green hill".split()


def lines(n):
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))) for _ in range(n)]


with open(os.path.join(out, "corpus.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(lines(500)) + "\n")
with open(os.path.join(out, "val.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(lines(40)) + "\n")
# one name per line, like the dinosaur names
with open(os.path.join(out, "names.txt"), "w", encoding="utf-8") as f:
    syll = ["sau", "rus", "don", "tri", "cera", "tops", "rap", "tor", "ve", "lo", "ci", "an", "ky", "lo"]
    f.write("\n".join("".join(rng.choice(syll) for _ in range(rng.randint(2, 4))) for _ in range(300)) + "\n")
