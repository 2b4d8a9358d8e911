"""Writes the fixtures the classification tests train on: deterministic, made here, no data set needed.
Usage: make_data.py DIR"""
import os
import random
import sys

out = sys.argv[1]
rng = random.Random(20261207)


def write(name, rows):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        f.write("".join(f"{label}\t{seq}\n" for label, seq in rows))


# Does the sequence contain an X? The X sits anywhere in a DNA-like string, so only a model that remembers
# what it read can tell: the last step alone never shows it.
def contains(n):
    rows = []
    for _ in range(n):
        seq = [rng.choice("ACGT") for _ in range(rng.randint(4, 16))]
        has = rng.random() < 0.5
        if has:
            seq[rng.randrange(len(seq))] = "X"
        rows.append(("yes" if has else "no", "".join(seq)))
    return rows


write("contains.tsv", contains(600))
write("contains_val.tsv", contains(200))


# Which of three channels has the largest mean? Unit noise on every value, one channel shifted up by 1.
def channels(n):
    rows = []
    for _ in range(n):
        k, T = rng.randrange(3), rng.randint(6, 14)
        vals = []
        for _ in range(T):
            vals += [5.0 + rng.gauss(0, 1) + (1.5 if c == k else 0) for c in range(3)]
        rows.append((f"ch{k}", ",".join(f"{v:.3f}" for v in vals)))
    return rows


write("numeric.tsv", channels(600))
write("numeric_val.tsv", channels(150))


# Words: is a sentence's opinion good or bad? Its one opinion word says, unless "not" comes just before it.
# Names that occur once each are rare words: the unknown word's share.
def opinions(n):
    good, bad = ["good", "great", "fine", "lovely"], ["bad", "awful", "poor", "dull"]
    filler = "the film was a plot with actors and music in it".split()
    rows = []
    for i in range(n):
        pos = rng.random() < 0.5
        neg = rng.random() < 0.3
        word = rng.choice(good if pos != neg else bad)
        words = [rng.choice(filler) for _ in range(rng.randint(2, 6))] + (["not"] if neg else []) + [word]
        words += [rng.choice(filler) for _ in range(rng.randint(0, 4))] + [f"name{i}"]
        rows.append(("pos" if pos else "neg", " ".join(words)))
    return rows


write("words.tsv", opinions(800))
write("words_val.tsv", opinions(200))


# Tagging, IOB names: people (a first name, perhaps a surname) and places (one or two words). "Paris" is a
# person when a surname follows it and a place otherwise, so its tag needs the word after it.
def tagged(n):
    first, last = ["Anna", "Boris", "Chen", "Dora", "Emil"], ["Smith", "Ivanova", "Hilton", "Okafor"]
    places = [["Lima"], ["Oslo"], ["New", "York"], ["Cape", "Town"]]
    verbs, filler = ["met", "visited", "called", "left"], ["today", "again", "quietly", "at", "noon"]

    def person():
        name = rng.choice(first + ["Paris"])
        if name == "Paris" or rng.random() < 0.5:
            return [(name, "B-PER"), (rng.choice(last), "I-PER")]
        return [(name, "B-PER")]

    def place():
        words = rng.choice(places + [["Paris"]])
        return [(w, "B-LOC" if i == 0 else "I-LOC") for i, w in enumerate(words)]

    sentences = []
    for _ in range(n):
        s = person() + [(rng.choice(verbs), "O")]
        s += person() if rng.random() < 0.5 else [("in", "O")] + place()
        s += [(w, "O") for w in rng.sample(filler, rng.randint(0, 2))] + [(".", "O")]
        sentences.append(s)
    return sentences


for name, count in (("tag.txt", 500), ("tag_val.txt", 150)):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        f.write("\n".join("".join(f"{w}\t{t}\n" for w, t in s) for s in tagged(count)))


# Tagging by spelling: made-up words whose suffix gives the tag (-ing VERB, -ly ADV, -ous ADJ, -tion NOUN, and
# "the" DET), in no fixed order. Validation and the tag command use stems training never has, so only a
# model that reads a word's characters can tag them: to a vocabulary they are all the unknown word.
def suffixed(n, stems):
    suffixes = [("ing", "VERB"), ("ly", "ADV"), ("ous", "ADJ"), ("tion", "NOUN")]
    sentences = []
    for _ in range(n):
        s = []
        for _ in range(rng.randint(3, 8)):
            if rng.random() < 0.15:
                s.append(("the", "DET"))
            else:
                suffix, tag = rng.choice(suffixes)
                s.append((rng.choice(stems) + suffix, tag))
        sentences.append(s)
    return sentences


def stem():
    return "".join(rng.choice("bcdfgkmprst") + rng.choice("aeiou") for _ in range(rng.randint(1, 3)))


stems = sorted({stem() for _ in range(400)})
rng.shuffle(stems)
for name, count, part in (("suffix.txt", 400, stems[:200]), ("suffix_val.txt", 100, stems[200:])):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        f.write("\n".join("".join(f"{w}\t{t}\n" for w, t in s) for s in suffixed(count, part)))
