#!/usr/bin/env python3
"""Does a long recording transcribe as well as its parts? Joins clips of one speaker (FSDD layout,
{digit}_{speaker}_{take}.wav) into one recording with pauses of silence, transcribes it whole and the clips
one by one, and prints the word error rates of both, for each pause length, with voice activity (the
default) and without it (--vad off).

presets/long-recordings.py [--rnnhost PATH] [--model digits] [--data DIR] [--speaker NAME] [--clips N]
                           [--pauses 0.3,1,3] [--seed S]
"""
import argparse, json, os, random, subprocess, sys, tempfile, wave

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "tests", "asr"))
from joined import wer as word_error_rate  # the tests' word error rate, one implementation

ap = argparse.ArgumentParser()
ap.add_argument("--rnnhost", default=os.path.join(root, "build", "host", "rnnhost"))
ap.add_argument("--model", default="digits")
ap.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "fsdd"))
ap.add_argument("--speaker", default="george")
ap.add_argument("--clips", type=int, default=50)
ap.add_argument("--pauses", default="0.3,1,3")
ap.add_argument("--seed", type=int, default=3)
a = ap.parse_args()

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
clips = sorted(f for f in os.listdir(a.data) if f.endswith(".wav") and f.split("_")[1:2] == [a.speaker])
if not clips:
    sys.exit(f"no clips of speaker '{a.speaker}' in {a.data}")
random.Random(a.seed).shuffle(clips)
clips = clips[:a.clips]
ref = [NAMES[int(c.split("_")[0])] for c in clips]


def wer(hyp):
    return word_error_rate(ref, hyp)


def transcribe(paths, vad):
    out = subprocess.run([a.rnnhost, "transcribe", "-q", "-m", a.model, "-f", "jsonl", "-o", "-", "--vad", vad] +
                         paths, capture_output=True, text=True, check=True).stdout
    text = {json.loads(l)["file"]: json.loads(l)["text"].split() for l in out.splitlines()}
    return [w for p in paths for w in text[p]]


work = tempfile.mkdtemp()
audio = []
for c in clips:
    with wave.open(os.path.join(a.data, c)) as w:
        rate = w.getframerate()
        audio.append(w.readframes(w.getnframes()))
paths = [os.path.join(a.data, c) for c in clips]
print(f"{a.model} on {len(clips)} clips of {a.speaker} ({a.data}), joined with silence; word error rates")
print("| pause | vad | one recording | clip by clip |")
print("| --- | --- | --- | --- |")
for vad in ("energy", "off"):
    by_clip = wer(transcribe(paths, vad))
    for pause in (float(p) for p in a.pauses.split(",")):
        joined = os.path.join(work, f"joined-{pause}.wav")
        with wave.open(joined, "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
            w.writeframes((b"\0\0" * int(rate * pause)).join(audio))
        print(f"| {pause:g} s | {vad} | {100 * wer(transcribe([joined], vad)):.1f} % | {100 * by_clip:.1f} % |")
