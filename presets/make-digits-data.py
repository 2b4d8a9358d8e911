#!/usr/bin/env python3
"""Builds the spoken-digits training data for the speech preset.

Usage: presets/make-digits-data.py OUT_DIR [--fsdd DIR] [--seed N] [--holdout SPEAKER] [--scale F]

The speakers are those of the FSDD folder: every `{digit}_{speaker}_{take}.wav` in it (8 kHz mono
16-bit), each speaker with every digit at least once, so recordings of more speakers in that layout
join the training by being put there. Writes into OUT_DIR 8 kHz mono 16-bit WAVs and TSV manifests
(`path<TAB>transcript`, paths relative to OUT_DIR):
  fsdd-isolated-<speaker>.tsv   that speaker's clips (FSDD: 500; symlinked under fsdd/)
  connected-<speaker>.tsv       3-7 digit strings joined from that speaker's clips only
  quick-<speaker>.tsv           that speaker's clips cut close to the word, most of them into it (the
                                first 0-80 ms and last 0-60 ms of the word gone, as an eager silence
                                trimmer leaves them), and made 0-35 % faster without a change of pitch
  espeak-isolated.tsv           single digits from espeak-ng, varied voice/speed/pitch/amplitude
  espeak-connected.tsv          3-7 digit strings from espeak-ng
  tts-isolated.tsv              single digits from flite and festival voices (recorded speakers), with
                                varied speed, intonation and a pitch and formant shift
  tts-connected.tsv             3-7 digit strings from the same voices
  train.tsv, valid.tsv          everything but the held-out speaker; valid is 5 % moved out of train
  heldout-isolated.tsv, heldout-connected.tsv   the held-out speaker (only with --holdout)
  example.wav, example.txt      one 5-6 digit espeak-ng string for the README's quick start
Needs Python 3 (standard library) and the programs espeak-ng, flite, festival (with the voices
festvox-kallpc16k, festvox-kdlpc16k and festvox-us-slt-hts) and sox. The same seed gives the same
files: every random choice is drawn up front, in a fixed order, before any parallel work starts.
"""

import argparse
import array
import os
import random
import re
import shutil
import subprocess
import sys
import wave
from concurrent.futures import ThreadPoolExecutor

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
RATE = 8000

# Accents espeak-ng ships as real voices (the mbrola ones need separate data and are left out).
ESPEAK_VOICES = ["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
                 "en-029", "en-us-nyc"]
# Variants that still sound like a speaker: the novelty ones (whisper, croak, robots) would teach the
# model sounds it never meets in real recordings.
ESPEAK_VARIANTS = ["", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
                   "klatt", "klatt2", "klatt3", "klatt4", "Andy", "Annie", "adam", "anika", "belinda",
                   "benjamin", "david", "ed", "edward", "john", "linda", "max", "paul", "quincy",
                   "rob", "robert", "steph", "travis", "victor", "grandma", "grandpa"]

# Voices built from recordings of real speakers (CMU ARCTIC and the diphone sets): each is a person the
# FSDD speakers are not. (engine, voice, its natural mean pitch in Hz or None when the engine cannot set it)
TTS_VOICES = [("flite", "kal16", 105), ("flite", "awb", 110), ("flite", "rms", 100),
              ("flite", "slt", 175), ("festival", "kal_diphone", None),
              ("festival", "ked_diphone", None), ("festival", "cmu_us_slt_arctic_hts", None)]


def die(msg):
    print("make-digits-data: " + msg, file=sys.stderr)
    sys.exit(1)


def read_pcm(path):
    """Returns the 16-bit samples of an 8 kHz mono WAV as bytes."""
    with wave.open(path, "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != RATE:
            die(f"{path}: expected 8 kHz mono 16-bit, got {w.getframerate()} Hz, "
                f"{w.getnchannels()} channels, {8 * w.getsampwidth()} bits")
        return w.readframes(w.getnframes())


def write_pcm(path, pcm):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)


def duration(path):
    with wave.open(path, "rb") as w:
        return w.getnframes() / w.getframerate()


def write_manifest(out, name, rows):
    with open(os.path.join(out, name), "w") as f:
        for path, text in rows:
            f.write(f"{path}\t{text}\n")


def fsdd_speakers(fsdd):
    """The speakers of an FSDD-layout folder ({digit}_{speaker}_{take}.wav) and their takes:
    {speaker: [[take, ...] for each digit 0-9]}, names and takes in order. Every speaker must have
    said every digit at least once."""
    found = {}
    for name in os.listdir(fsdd):
        m = re.fullmatch(r"([0-9])_([A-Za-z0-9]+)_([0-9]+)\.wav", name)
        if m:
            found.setdefault(m.group(2), [[] for _ in range(10)])[int(m.group(1))].append(int(m.group(3)))
    if not found:
        die(f"{fsdd}: no recordings named {{digit}}_{{speaker}}_{{take}}.wav")
    for speaker, takes in found.items():
        missing = [DIGITS[d] for d in range(10) if not takes[d]]
        if missing:
            die(f"{fsdd}: speaker {speaker} has no recording of " + ", ".join(missing))
        for t in takes:
            t.sort()
    return {s: found[s] for s in sorted(found)}


def fsdd_isolated(out, fsdd, speaker, takes):
    """Symlinks the speaker's clips under OUT/fsdd/ so the manifests stay relative and nothing is
    copied; the links are absolute so OUT_DIR can live anywhere."""
    rows = []
    for d in range(10):
        for k in takes[d]:
            name = f"{d}_{speaker}_{k}.wav"
            src = os.path.abspath(os.path.join(fsdd, name))
            dst = os.path.join(out, "fsdd", name)
            if os.path.lexists(dst):
                os.remove(dst)
            os.symlink(src, dst)
            rows.append((f"fsdd/{name}", DIGITS[d]))
    return rows


def noise_tables(rng):
    """A few seconds of Gaussian noise at several low levels, as 16-bit PCM. Gaps are slices of
    these, which is far faster than drawing every gap sample afresh and still never digital zero."""
    tables = []
    for sigma in (2.0, 4.0, 8.0, 16.0):
        a = array.array("h", (max(-32768, min(32767, round(rng.gauss(0.0, sigma))))
                              for _ in range(3 * RATE)))
        if sys.byteorder != "little":
            a.byteswap()
        tables.append(a.tobytes())
    return tables


def gap(rng, tables, level, seconds):
    n = int(seconds * RATE)
    t = tables[level]
    start = rng.randrange(len(t) // 2 - n) if n < len(t) // 2 else 0
    return t[2 * start:2 * (start + n)]


def fsdd_connected(out, fsdd, speaker, takes, count, rng, tables):
    # Cached per digit (FSDD: 50 takes of each digit, 500 clips per speaker).
    clips = [[read_pcm(os.path.join(fsdd, f"{d}_{speaker}_{k}.wav")) for k in takes[d]]
             for d in range(10)]
    rows = []
    for i in range(count):
        digits = [rng.randrange(10) for _ in range(rng.randint(3, 7))]
        level = rng.randrange(len(tables))
        parts = [gap(rng, tables, level, rng.uniform(0.10, 0.30))]
        for j, d in enumerate(digits):
            if j:
                parts.append(gap(rng, tables, level, rng.uniform(0.05, 0.40)))
            parts.append(clips[d][rng.randrange(len(clips[d]))])
        parts.append(gap(rng, tables, level, rng.uniform(0.10, 0.30)))
        rel = f"connected/{speaker}/{speaker}-c{i:05d}.wav"
        write_pcm(os.path.join(out, rel), b"".join(parts))
        rows.append((rel, " ".join(DIGITS[d] for d in digits)))
    return rows


def trim(pcm, rng):
    """Cuts a clip to its word: from the first to the last 10 ms frame within 30 dB of the loudest,
    keeping 0-20 ms either side or, seven times in ten, cutting 0-80 ms into its start and 0-60 ms into
    its end (never below 100 ms of word)."""
    a = array.array("h", pcm)
    if sys.byteorder != "little":
        a.byteswap()
    hop = RATE // 100
    energy = [sum(x * x for x in a[i:i + hop]) / hop for i in range(0, len(a) - hop + 1, hop)]
    if not energy:
        return pcm
    floor = max(energy) * 10 ** (-30 / 10)
    loud = [i for i, e in enumerate(energy) if e >= floor]
    start, end = loud[0] * hop, (loud[-1] + 1) * hop
    if rng.random() < 0.7:
        cut_start, cut_end = int(rng.uniform(0.0, 0.08) * RATE), int(rng.uniform(0.0, 0.06) * RATE)
        if end - start - cut_start - cut_end >= RATE // 10:
            start, end = start + cut_start, end - cut_end
    else:
        start = max(0, start - int(rng.uniform(0.0, 0.02) * RATE))
        end = min(len(a), end + int(rng.uniform(0.0, 0.02) * RATE))
    return pcm[2 * start:2 * end]


def quick_jobs(fsdd, speaker, takes, rng):
    jobs = []
    for d in range(10):
        for k in takes[d]:
            jobs.append({"src": os.path.join(fsdd, f"{d}_{speaker}_{k}.wav"),
                         "tempo": round(rng.uniform(1.0, 1.35), 3), "rng": random.Random(rng.random()),
                         "transcript": DIGITS[d]})
    return jobs


def run_quick(job, path):
    raw = path + ".trim.wav"
    write_pcm(raw, trim(read_pcm(job["src"]), job["rng"]))
    conv = subprocess.run(["sox", "-R", raw, path, "tempo", "-s", str(job["tempo"])],
                          stderr=subprocess.PIPE)
    os.remove(raw)
    if conv.returncode != 0:
        raise RuntimeError(f"sox failed for {path}: " + conv.stderr.decode(errors="replace").strip())


def espeak_job(rng, digits):
    """Every random choice of one espeak-ng utterance, drawn now so the pool's order cannot matter."""
    voice = rng.choice(ESPEAK_VOICES)
    variant = rng.choice(ESPEAK_VARIANTS)
    words = [DIGITS[d] for d in digits]
    # Commas make espeak-ng pause between some digits, as people do when reading numbers out.
    text = words[0] + "".join((", " if rng.random() < 0.25 else " ") + w for w in words[1:])
    return {
        "voice": voice + ("+" + variant if variant else ""),
        "speed": rng.randint(120, 220),
        "pitch": rng.randint(20, 80),
        # Above about 115 espeak-ng clips its own output; quiet speech is as real as loud.
        "amp": rng.randint(25, 110),
        "wordgap": rng.randint(0, 12) if len(digits) > 1 else 0,
        "lead": round(rng.uniform(0.0, 0.2), 3),
        "tail": round(rng.uniform(0.0, 0.2), 3),
        "text": text,
        "transcript": " ".join(words),
    }


def run_espeak(job, path):
    synth = subprocess.Popen(
        ["espeak-ng", "-v", job["voice"], "-s", str(job["speed"]), "-p", str(job["pitch"]),
         "-a", str(job["amp"]), "-g", str(job["wordgap"]), "--stdout", job["text"]],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    # -R keeps sox's dither repeatable; the padding varies where speech starts in the file.
    conv = subprocess.run(
        ["sox", "-R", "-t", "wav", "-", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
         path, "pad", str(job["lead"]), str(job["tail"])],
        stdin=synth.stdout, stderr=subprocess.PIPE)
    synth.stdout.close()
    if synth.wait() != 0 or conv.returncode != 0:
        raise RuntimeError(f"espeak-ng/sox failed for {path} ({job['voice']}): "
                           + conv.stderr.decode(errors="replace").strip())


def tts_job(rng, digits):
    """Every random choice of one flite or festival utterance, drawn up front like espeak_job's."""
    engine, voice, f0 = rng.choice(TTS_VOICES)
    words = [DIGITS[d] for d in digits]
    return {
        "engine": engine,
        "voice": voice,
        "stretch": round(rng.uniform(0.8, 1.35), 3),
        "f0": round(f0 * rng.uniform(0.8, 1.3)) if f0 else None,
        # sox's pitch shift moves the formants with the pitch: a shorter or longer vocal tract, so one
        # recorded voice stands for many speakers.
        "cents": rng.randint(-300, 300),
        "peak": round(rng.uniform(-18.0, -1.0), 1),
        "lead": round(rng.uniform(0.0, 0.2), 3),
        "tail": round(rng.uniform(0.0, 0.2), 3),
        "text": words[0] + "".join((", " if rng.random() < 0.25 else " ") + w for w in words[1:]),
        "transcript": " ".join(words),
    }


def festival_batch(items):
    """Synthesises festival jobs [(job, path)] of one voice in one festival process: loading a voice
    takes far longer than saying a few digits. Each writes PATH.synth.wav for run_tts to convert."""
    lines = [f"(voice_{items[0][0]['voice']})"]
    for job, path in items:
        lines.append(f"(Parameter.set 'Duration_Stretch {job['stretch']})")
        lines.append(f"(utt.save.wave (utt.synth (Utterance Text \"{job['text']}\")) "
                     f"\"{path}.synth.wav\" 'riff)")
    script = items[0][1] + ".scm"
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    synth = subprocess.run(["festival", "-b", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.remove(script)
    missing = [p for _, p in items if not os.path.isfile(p + ".synth.wav")]
    if synth.returncode != 0 or missing:
        raise RuntimeError(f"festival failed for {len(missing)} of {len(items)} files "
                           f"({items[0][0]['voice']}): " + synth.stdout.decode(errors="replace").strip())


def run_tts(job, path):
    raw = path + ".synth.wav"
    if job["engine"] == "flite":
        cmd = ["flite", "-voice", job["voice"], "--setf", f"duration_stretch={job['stretch']}"]
        if job["f0"]:
            cmd += ["--setf", f"int_f0_target_mean={job['f0']}"]
        synth = subprocess.run(cmd + ["-t", job["text"], "-o", raw], stderr=subprocess.PIPE)
        if synth.returncode != 0:
            raise RuntimeError(f"flite failed for {path} ({job['voice']}): "
                               + synth.stderr.decode(errors="replace").strip())
    # festival's files were made beforehand, in batches (festival_batch)
    conv = subprocess.run(
        ["sox", "-R", raw, "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", path,
         "pitch", str(job["cents"]), "norm", str(job["peak"]), "pad", str(job["lead"]),
         str(job["tail"])], stderr=subprocess.PIPE)
    os.remove(raw)
    if conv.returncode != 0:
        raise RuntimeError(f"sox failed for {path}: " + conv.stderr.decode(errors="replace").strip())


def tts_set(out, sub, prefix, jobs, pool):
    """Like synth_set, with festival's jobs synthesised first, in batches of one voice."""
    batches = {}
    for i, job in enumerate(jobs):
        if job["engine"] == "festival":
            batches.setdefault(job["voice"], []).append((job, os.path.join(out, f"{sub}/{prefix}{i:05d}.wav")))
    chunks = [items[k:k + 50] for items in batches.values() for k in range(0, len(items), 50)]
    list(pool.map(festival_batch, chunks))
    return synth_set(out, sub, prefix, jobs, run_tts, pool)


def synth_set(out, sub, prefix, jobs, run, pool):
    paths = [f"{sub}/{prefix}{i:05d}.wav" for i in range(len(jobs))]
    list(pool.map(lambda a: run(a[0], os.path.join(out, a[1])), zip(jobs, paths)))
    return [(p, j["transcript"]) for p, j in zip(paths, jobs)]


def hours(out, rows):
    return sum(duration(os.path.join(out, p)) for p, _ in rows) / 3600.0


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description="Make the spoken-digits manifests.")
    ap.add_argument("out_dir")
    ap.add_argument("--fsdd", default=os.path.join(root, "..", "shared", "data", "fsdd"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--holdout", metavar="SPEAKER",
                    help="leave this speaker of the FSDD folder out of training and validation")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies the number of joined and synthesised utterances")
    ap.add_argument("--jobs", type=int, default=2, help="parallel espeak-ng/sox pipelines")
    args = ap.parse_args()
    if args.scale <= 0:
        die("--scale must be positive")
    for prog, package in (("espeak-ng", "espeak-ng"), ("flite", "flite"), ("festival", "festival"),
                          ("sox", "sox")):
        if shutil.which(prog) is None:
            die(f"{prog} not found (Debian package {package}; .ci/install-deps --recipes installs it)")
    for voice, package in (("english/kal_diphone", "festvox-kallpc16k"),
                           ("english/ked_diphone", "festvox-kdlpc16k"),
                           ("us/cmu_us_slt_arctic_hts", "festvox-us-slt-hts")):
        if not os.path.isdir(os.path.join("/usr/share/festival/voices", voice)):
            die(f"festival voice {voice} not found (Debian package {package}; .ci/install-deps --recipes installs it)")
    if not os.path.isdir(args.fsdd):
        die(f"{args.fsdd}: FSDD folder not found (use --fsdd)")
    speakers = fsdd_speakers(args.fsdd)
    if args.holdout and args.holdout not in speakers:
        die(f"--holdout {args.holdout}: not a speaker of {args.fsdd} ({', '.join(speakers)})")

    out = args.out_dir
    for sub in ["fsdd", "espeak/iso", "espeak/conn", "tts/iso", "tts/conn"] + [f"quick/{s}" for s in speakers] + [f"connected/{s}" for s in speakers]:
        os.makedirs(os.path.join(out, sub), exist_ok=True)

    n_connected = max(1, round(600 * args.scale))
    n_espeak = max(1, round(1500 * args.scale))
    rng = random.Random(args.seed)
    tables = noise_tables(rng)

    manifests = {}
    for s, takes in speakers.items():
        manifests[f"fsdd-isolated-{s}.tsv"] = fsdd_isolated(out, args.fsdd, s, takes)
    for s, takes in speakers.items():
        manifests[f"connected-{s}.tsv"] = fsdd_connected(out, args.fsdd, s, takes, n_connected,
                                                         random.Random(f"{args.seed}/{s}"), tables)

    # Balanced digits for the isolated set so no word is rarer than the others by chance.
    iso_digits = [i % 10 for i in range(n_espeak)]
    rng.shuffle(iso_digits)
    iso_jobs = [espeak_job(rng, [d]) for d in iso_digits]
    conn_jobs = [espeak_job(rng, [rng.randrange(10) for _ in range(rng.randint(3, 7))])
                 for _ in range(n_espeak)]
    example = espeak_job(rng, [rng.randrange(10) for _ in range(rng.randint(5, 6))])
    example.update(voice="en-us", speed=150, pitch=50, amp=100, wordgap=2, lead=0.1, tail=0.1,
                   text=example["transcript"])
    # Drawn after the example so that the espeak-ng sets and the example stay what they were.
    tts_iso_digits = [i % 10 for i in range(n_espeak)]
    rng.shuffle(tts_iso_digits)
    tts_iso_jobs = [tts_job(rng, [d]) for d in tts_iso_digits]
    tts_conn_jobs = [tts_job(rng, [rng.randrange(10) for _ in range(rng.randint(3, 7))])
                     for _ in range(n_espeak)]
    quick = {s: quick_jobs(args.fsdd, s, takes, random.Random(f"{args.seed}/quick/{s}"))
             for s, takes in speakers.items()}
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for s in speakers:
            manifests[f"quick-{s}.tsv"] = synth_set(out, f"quick/{s}", f"{s}-q", quick[s], run_quick,
                                                    pool)
        manifests["espeak-isolated.tsv"] = synth_set(out, "espeak/iso", "e-i", iso_jobs, run_espeak,
                                                     pool)
        manifests["espeak-connected.tsv"] = synth_set(out, "espeak/conn", "e-c", conn_jobs,
                                                      run_espeak, pool)
        manifests["tts-isolated.tsv"] = tts_set(out, "tts/iso", "t-i", tts_iso_jobs, pool)
        manifests["tts-connected.tsv"] = tts_set(out, "tts/conn", "t-c", tts_conn_jobs, pool)
    run_espeak(example, os.path.join(out, "example.wav"))
    with open(os.path.join(out, "example.txt"), "w") as f:
        f.write(example["transcript"] + "\n")

    train = []
    held = {f"{kind}-{args.holdout}.tsv" for kind in ("fsdd-isolated", "connected", "quick")}
    for name, rows in manifests.items():
        if args.holdout and name in held:
            continue
        train.extend(rows)
    rng.shuffle(train)
    n_valid = max(1, round(0.05 * len(train)))
    manifests["valid.tsv"] = sorted(train[:n_valid])
    manifests["train.tsv"] = train[n_valid:]
    if args.holdout:
        manifests["heldout-isolated.tsv"] = manifests[f"fsdd-isolated-{args.holdout}.tsv"]
        manifests["heldout-connected.tsv"] = manifests[f"connected-{args.holdout}.tsv"]

    print(f"{'manifest':28s} {'utts':>6s} {'hours':>7s}")
    for name, rows in manifests.items():
        write_manifest(out, name, rows)
        print(f"{name:28s} {len(rows):6d} {hours(out, rows):7.3f}")
    print(f"example.wav: {example['transcript']}")


if __name__ == "__main__":
    main()
