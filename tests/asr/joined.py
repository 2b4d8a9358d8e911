#!/usr/bin/env python3
"""Long recordings made of the fixture clips, and how a transcript of one compares with the clips'.

  joined.py make DIR OUT.wav        joins the clips of DIR/test.tsv with pauses of 0.3 to 10 s of silence
                                    (each clip keeps its own noise); writes OUT.wav and OUT.tsv (each word
                                    and its true start and end, seconds)
  joined.py wer REF.txt HYP.json    the word error rate of a transcript against a text's words; exit 1 at
                                    25 % or more
  joined.py score OUT.tsv LONG.json CLIPS.jsonl
                                    prints the word error rates of the long file and of the clips one by
                                    one, and the errors of the long file's word times; exits 1 when the
                                    long file is more than a point worse than the clips, a word is placed
                                    in silence, or the times miss (median over 40 ms, 95th percentile over
                                    120 ms, at the start or the end of words)
"""
import json, os, struct, sys, wave

RATE = 8000
PAUSES = [0.3, 0.5, 1.0, 2.0, 5.0, 10.0]


def read(path):
    with wave.open(path) as w:
        return list(struct.unpack("<%dh" % w.getnframes(), w.readframes(w.getnframes())))


def make(d, out):
    clips = [l.split("\t")[0] for l in open(os.path.join(d, "test.tsv"))]
    times = {}
    for l in open(os.path.join(d, "times.tsv")):
        c, w, s, e = l.split()
        times.setdefault(c, []).append((w, float(s), float(e)))
    x, rows = [], []
    for k, c in enumerate(clips):
        clip = read(os.path.join(d, c))
        if k:
            x += [0] * int(RATE * PAUSES[k % len(PAUSES)])
        t0 = len(x) / RATE
        rows += ["%s\t%.4f\t%.4f\n" % (w, t0 + s, t0 + e) for w, s, e in times[c]]
        x += clip
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(b"".join(struct.pack("<h", max(-32768, min(32767, v))) for v in x))
    open(out[:-4] + ".tsv", "w").writelines(rows)


def wer(ref, hyp):
    prev = list(range(len(ref) + 1))
    for i, h in enumerate(hyp, 1):
        cur = [i] + [0] * len(ref)
        for j, r in enumerate(ref, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (h != r))
        prev = cur
    return prev[-1] / max(1, len(ref))


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else 0.0


def score(tsv, long_json, clips_jsonl):
    ref = [(w, float(s), float(e)) for w, s, e in (l.split() for l in open(tsv))]
    d = json.load(open(long_json))
    hyp = [(w["word"], w["start"] / 1000, w["end"] / 1000) for s in d["segments"] for w in s["words"]]
    clip_words = [w for l in open(clips_jsonl) for w in json.loads(l)["text"].split()]
    long_wer, clips_wer = wer([r[0] for r in ref], [h[0] for h in hyp]), wer([r[0] for r in ref], clip_words)
    starts, ends, lost = [], [], 0
    for w, s, e in hyp:
        best = max(ref, key=lambda r: min(e, r[2]) - max(s, r[1]))
        if min(e, best[2]) - max(s, best[1]) <= 0:
            lost += 1  # placed where no word was said
        elif best[0] == w:
            starts.append(abs(s - best[1]))
            ends.append(abs(e - best[2]))
    print("long file wer %.3f, clip by clip %.3f; word starts off by median %.0f ms, p95 %.0f ms; ends median %.0f ms, "
          "p95 %.0f ms; %d words in silence" % (long_wer, clips_wer, 1000 * pct(starts, 0.5), 1000 * pct(starts, 0.95),
                                                1000 * pct(ends, 0.5), 1000 * pct(ends, 0.95), lost))
    ok = long_wer <= clips_wer + 0.01 and lost == 0 and starts and max(pct(starts, 0.5), pct(ends, 0.5)) <= 0.04 \
        and max(pct(starts, 0.95), pct(ends, 0.95)) <= 0.12
    sys.exit(0 if ok else 1)


def wer_of(ref_txt, hyp_json):
    """The word error rate of a transcript (JSON) against the words of a text file; exit 1 at 25 % or more."""
    ref, hyp = open(ref_txt).read().split(), json.load(open(hyp_json))["text"].split()
    print("wer", wer(ref, hyp), "words", len(ref))
    sys.exit(0 if wer(ref, hyp) < 0.25 else 1)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "score":
        score(*sys.argv[2:5])
    elif sys.argv[1] == "wer":
        wer_of(*sys.argv[2:4])
    else:
        sys.exit(__doc__)
