#!/usr/bin/env python3
"""How often does a digit model say digits for speech that is not digits, and what does saying nothing
then cost on digits? Synthesises N phrases of one to three common English words (no digit among them)
with espeak-ng in several voices, transcribes them and digit clips (FSDD layout, one digit each) with the
model's default rejection and with none (--reject-below 0), and prints the false-accept rate (a phrase
given any text) and the share of digit clips transcribed exactly right.

presets/rejection.py [--rnnhost PATH] [--model digits] [--phrases 500] [--seed 12]
                     [--digits DIR] [--speakers george,jackson] [--per-speaker 100] [--also C,C...]
"""
import argparse, json, os, random, subprocess, sys, tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("--rnnhost", default=os.path.join(root, "build", "host", "rnnhost"))
ap.add_argument("--model", default="digits")
ap.add_argument("--phrases", type=int, default=500)
ap.add_argument("--seed", type=int, default=12)
ap.add_argument("--digits", default=os.path.join(root, "..", "shared", "data", "fsdd"))
ap.add_argument("--speakers", default="george,jackson,lucas,nicolas")
ap.add_argument("--per-speaker", type=int, default=100)
ap.add_argument("--also", default="", help="further --reject-below values to measure, comma-separated")
a = ap.parse_args()

WORDS = """hello world water house green table morning river window garden yellow paper music number letter
station people answer question kitchen pocket market doctor teacher animal bottle finger orange purple
silver winter summer autumn spring coffee bread butter cheese apple banana cherry lemon pepper salt sugar
chair door floor wall roof street city village country mountain forest ocean island desert valley bridge
train plane boat bicycle engine wheel button camera phone computer screen keyboard mouse pencil happy sad
quick slow bright dark warm cold open close begin finish remember forget travel listen speak please thank
you sorry yes no maybe goodbye welcome again always never often sometimes today tomorrow yesterday night
evening weekend holiday birthday party dinner lunch breakfast""".split()
VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-us+f3", "en-gb+m3", "en-us+m5", "en-gb+f2", "en-029"]
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

work = tempfile.mkdtemp()
rng = random.Random(a.seed)
phrases = []
for i in range(a.phrases):
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
    raw, wav = os.path.join(work, "raw.wav"), os.path.join(work, f"p{i:04d}.wav")
    subprocess.run(["espeak-ng", "-v", rng.choice(VOICES), "-s", str(rng.randint(140, 190)), "-w", raw, text],
                   check=True)
    subprocess.run(["sox", "-q", raw, "-r", "8000", "-c", "1", "-b", "16", wav], check=True)
    phrases.append(wav)
clips = []
for spk in a.speakers.split(","):
    mine = sorted(f for f in os.listdir(a.digits) if f.split("_")[1:2] == [spk])
    random.Random(a.seed).shuffle(mine)
    clips += [os.path.join(a.digits, f) for f in mine[:a.per_speaker]]


def texts(paths, extra):
    out = subprocess.run([a.rnnhost, "transcribe", "-q", "-m", a.model, "-f", "jsonl", "-o", "-"] + extra + paths,
                         capture_output=True, text=True, check=True).stdout
    return {json.loads(l)["file"]: json.loads(l)["text"] for l in out.splitlines()}


print(f"{a.model}: {len(phrases)} espeak-ng phrases (seed {a.seed}), {len(clips)} digit clips of {a.speakers}")
print("| rejection | false accepts (non-digit phrases given text) | digit clips exactly right |")
print("| --- | --- | --- |")
rows = [("the model's default", []), ("none (--reject-below 0)", ["--reject-below", "0"])]
rows += [(f"--reject-below {v}", ["--reject-below", v]) for v in a.also.split(",") if v]
for name, extra in rows:
    said = texts(phrases, extra)
    right = texts(clips, extra)
    fa = sum(1 for p in phrases if said[p]) / len(phrases)
    ok = sum(1 for c in clips if right[c] == NAMES[int(os.path.basename(c).split("_")[0])]) / len(clips)
    print(f"| {name} | {100 * fa:.1f} % | {100 * ok:.1f} % |")
