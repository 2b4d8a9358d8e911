#!/usr/bin/env python3
"""Fixtures for the speech tests: a toy language of three 'words' that are tones (low 500 Hz, mid
1000 Hz, high 1800 Hz, 120-220 ms each with a little vibrato and noise), spoken in strings of one to
four with pauses, at 8 kHz. Learnable in seconds, so the tests can train a real model end to end.

make_tones.py OUT_DIR [--count N] [--seed S] [--voice F]: (--voice: another speaker, every tone F times
higher, for enrolment) writes OUT_DIR/clips/*.wav, train.tsv and test.tsv
(relative paths), times.tsv (clip, word, start and end in seconds), long.wav (100 s of strings and
silence) and long.txt (its words in order)."""
import argparse, math, os, random, struct, wave

RATE = 8000
WORDS = {"low": 500.0, "mid": 1000.0, "high": 1800.0}


VOICE = 1.0  # --voice


def tone(rng, freq):
    n = int(RATE * rng.uniform(0.12, 0.22))
    f = VOICE * freq * rng.uniform(0.93, 1.07)
    amp = rng.uniform(0.2, 0.6)
    out = []
    for i in range(n):
        env = min(1.0, i / 80.0, (n - i) / 80.0)
        vib = 1.0 + 0.01 * math.sin(2 * math.pi * 5 * i / RATE)
        out.append(amp * env * math.sin(2 * math.pi * f * vib * i / RATE))
    return out


def silence(rng, lo, hi):
    return [0.0] * int(RATE * rng.uniform(lo, hi))


def utterance(rng, words, times=None):
    """The samples of words said with pauses; where each word starts and ends (seconds) into times."""
    x = silence(rng, 0.05, 0.2)
    for k, w in enumerate(words):
        if k:
            x += silence(rng, 0.06, 0.25)
        start = len(x)
        x += tone(rng, WORDS[w])
        if times is not None:
            times.append((w, start / RATE, len(x) / RATE))
    x += silence(rng, 0.05, 0.2)
    noise = rng.uniform(0.002, 0.01)
    return [v + rng.gauss(0, noise) for v in x]


def write_wav(path, x):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"".join(struct.pack("<h", max(-32768, min(32767, int(v * 32767)))) for v in x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=240)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--voice", type=float, default=1.0)
    a = ap.parse_args()
    global VOICE
    VOICE = a.voice
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "clips"), exist_ok=True)
    names = list(WORDS)
    rows, times = [], []
    for i in range(a.count):
        words = [rng.choice(names) for _ in range(rng.randint(1, 4))]
        rel = "clips/u%04d.wav" % i
        said = []
        write_wav(os.path.join(a.out, rel), utterance(rng, words, said))
        rows.append("%s\t%s\n" % (rel, " ".join(words)))
        times += ["%s\t%s\t%.4f\t%.4f\n" % (rel, w, s, e) for w, s, e in said]
    with open(os.path.join(a.out, "times.tsv"), "w") as f:
        f.writelines(times)
    cut = a.count * 5 // 6
    with open(os.path.join(a.out, "train.tsv"), "w") as f:
        f.writelines(rows[:cut])
    with open(os.path.join(a.out, "test.tsv"), "w") as f:
        f.writelines(rows[cut:])
    x, said = [], []
    while len(x) < 100 * RATE:
        words = [rng.choice(names) for _ in range(rng.randint(1, 4))]
        # a pause between sentences, with the recording's background noise like a real room
        x += utterance(rng, words) + [rng.gauss(0, 0.004) for _ in silence(rng, 0.1, 0.6)]
        said += words
    write_wav(os.path.join(a.out, "long.wav"), x)
    with open(os.path.join(a.out, "long.txt"), "w") as f:
        f.write(" ".join(said) + "\n")


if __name__ == "__main__":
    main()
