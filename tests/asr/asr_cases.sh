#!/usr/bin/env bash
# Speech end to end on fixtures made here (make_tones.py: three tone "words"): training with CTC,
# eval, and transcribe's outputs, failures, resumption and long files. One case per invocation.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cases.sh"
R=${RNNHOST:?}
PY=${PYTHON3:-python3}

fixtures() { "$PY" "$here/make_tones.py" data --count "${1:-240}" || fail "make_tones.py"; }

# A small bidirectional model that learns the tones in about a second.
train_small() { # OUT [extra options]
    local out=$1; shift
    "$R" train --task ctc --manifest data/train.tsv --units words --sample-rate 8000 --rnn-size 32 \
        --num-layers 1 --bidirectional --batch-size 8 --learning-rate 0.01 --threads 1 -q -o "$out" "$@"
}

last_value() { tail -n 1 "$1" | awk -v k="$2" '$1 == k { print $2 }'; }

# expect_wer_below MODEL LIMIT WHAT: eval on the test fixtures gives a word error rate below LIMIT.
expect_wer_below() {
    run "$R" eval -m "$1" --manifest data/test.tsv
    expect_rc 0 "eval, $3"
    local w; w=$(last_value "$tmp/out" wer)
    awk -v w="$w" -v l="$2" 'BEGIN { exit !(w < l) }' || fail "wer $w $3 (expected < $2)"
}

# features_8k CLIP [options]: features of CLIP on stdout with the front-end train_small's models have
# (8 kHz, 25 ms window, 10 ms hop, 40 mels up to 4 kHz), per-file normalisation.
features_8k() {
    local clip=$1; shift
    run "$R" features "$clip" -o - --sample-rate 8000 --n-fft 256 --win-length 200 --hop-length 80 --n-mels 40 \
        --fmax 4000 --cmvn "$@"
}

# frontend_edit IN OUT CODE: OUT is the model file IN with its front-end description (the dict fe) put
# through CODE, Python statements; an assert in CODE that fails makes the helper fail.
frontend_edit() {
    "$PY" - "$@" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
fe = json.loads(head["__metadata__"]["rnnhost.frontend"])
exec(sys.argv[3])
head["__metadata__"]["rnnhost.frontend"] = json.dumps(fe)
h = json.dumps(head).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + raw[8 + n:])
PY
}

case_train_eval() {
    fixtures
    run train_small untrained.safetensors --max-steps 1 --checkpoint-dir ck1
    expect_rc 0 "train 1 step"
    run train_small tones.safetensors --max-steps 150 --augment-noise 20 --augment-gain 3 --augment-speed 1.05 \
        --augment-mask 1 --checkpoint-dir ck --log-json log.jsonl
    expect_rc 0 "train 150 steps"
    "$PY" -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; assert r and all(x["schema"] == 1 and x["type"] in ("train", "val") for x in r); assert sum(x["type"] == "train" for x in r) == 150' \
        log.jsonl || fail "--log-json: one record per step, each with schema 1"
    [ -f tones.safetensors ] || fail "no model written"
    run "$R" eval -m untrained.safetensors --manifest data/test.tsv
    expect_rc 0 "eval untrained"
    local w0; w0=$(last_value "$tmp/out" wer)
    run "$R" eval -m tones.safetensors --manifest data/test.tsv --json
    expect_rc 0 "eval --json"
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["files"]==40 and "cer" in d' "$tmp/out" ||
        fail "eval --json is not the expected object"
    # the envelope every JSON output has, and "exact" both ways: a count here, the fraction the text prints
    "$PY" - "$tmp/out" <<'PY' || fail "eval --json: schema, task, model, manifest, exact_fraction"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1 and d["task"] == "ctc", d
assert d["model"] == "tones.safetensors" and d["manifest"] == "data/test.tsv", d
assert isinstance(d["exact"], int) and abs(d["exact_fraction"] - d["exact"] / (d["files"] - d["failed"])) < 1e-9, d
PY
    local exact_text; exact_text=$(awk '$1 == "exact" { print $2 }' <("$R" eval -m tones.safetensors --manifest data/test.tsv))
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert abs(d["exact_fraction"] - float(sys.argv[2])) < 1e-4' \
        "$tmp/out" "$exact_text" || fail "eval: the text's exact ($exact_text) is not the JSON's exact_fraction"
    run "$R" eval -m tones.safetensors --manifest data/test.tsv
    local w1; w1=$(last_value "$tmp/out" wer)
    awk -v a="$w0" -v b="$w1" 'BEGIN { exit !(a > 0.5 && b < 0.1) }' ||
        fail "wer untrained $w0 (expected > 0.5), trained $w1 (expected < 0.1)"
}

case_transcribe_batch() {
    fixtures
    train_small m.safetensors --max-steps 150 --checkpoint-dir ck || fail "train"
    mkdir -p in/sub
    cut -f1 data/test.tsv | head -20 | while read -r f; do cp "data/$f" in/; done
    cut -f1 data/test.tsv | tail -n +21 | while read -r f; do cp "data/$f" in/sub/; done
    head -c 3000 data/clips/u0000.wav > in/truncated.wav
    printf 'RIFF\x10\x00\x00\x00WAVEjunkjunkjunk' > in/garbage.wav
    run "$R" transcribe -m m.safetensors -f jsonl -o - -j 2 in
    expect_rc 4 "a batch with two bad files"
    cp "$tmp/out" j2.jsonl
    [ "$(wc -l < j2.jsonl)" -eq 42 ] || fail "expected 42 lines (40 good + 2 errors), got $(wc -l < j2.jsonl)"
    expect_in "$tmp/err" "truncated" "the truncated file is reported"
    expect_in "$tmp/err" "2 of 42 files could not be transcribed" "the summary line"
    run "$R" transcribe -m m.safetensors -f jsonl -o - -j 1 -q in
    expect_rc 4 "the same batch with -j 1"
    cmp -s "$tmp/out" j2.jsonl || fail "-j 1 and -j 2 give different output"
    "$PY" - j2.jsonl data/test.tsv <<'PY' || fail "transcripts below 90% exact, or a malformed line"
import json, os, sys
ref = {os.path.basename(l.split("\t")[0]): l.rstrip("\n").split("\t")[1] for l in open(sys.argv[2])}
good = bad = errors = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    assert d["version"] == 1 and d["schema"] == 1
    if "error" in d:
        errors += 1
        continue
    assert d["duration"] > 0
    assert d["duration_ms"] == round(d["duration"] * 1000), d
    for s in d["segments"]:
        assert 0 <= s["start"] <= s["end"] <= d["duration"] * 1000 + 1, s
        assert 0 <= s["confidence"] <= 1
        for w in s["words"]:
            assert s["start"] <= w["start"] <= w["end"] <= s["end"], (s, w)
    if d["text"] == ref[os.path.basename(d["file"])]:
        good += 1
    else:
        bad += 1
assert errors == 2, errors
print(good, bad)
sys.exit(0 if good >= 0.9 * (good + bad) else 1)
PY
    run "$R" transcribe -m m.safetensors -q --summary summary.json --output-dir res in/truncated.wav data/clips/u0201.wav
    expect_rc 4 "summary run"
    "$PY" -c 'import json,sys; d=json.load(open("summary.json")); assert d["files"]==2 and d["transcribed"]==1 and len(d["failed"])==1 and "truncated" in d["failed"][0]["error"]' ||
        fail "the JSON summary does not name the failed file"
    # speed both ways: rtf is processing time over audio time (below 1 is faster than real time),
    # speed_vs_real_time its inverse, which version 1's real_time_factor also holds
    "$PY" - summary.json <<'PY' || fail "the JSON summary's schema, rtf and speed_vs_real_time"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1 and d["version"] == 1, d
assert d["audio_seconds"] > 0 and d["wall_seconds"] > 0, d
assert abs(d["rtf"] - d["wall_seconds"] / d["audio_seconds"]) <= 1e-6 * d["rtf"], d
assert d["speed_vs_real_time"] == d["real_time_factor"], d
assert abs(d["rtf"] * d["speed_vs_real_time"] - 1) < 1e-6, d
PY
    [ ! -e res/truncated.txt ] || fail "a failed file left an output behind"
    run "$R" transcribe -m m.safetensors -q in/truncated.wav
    expect_rc 1 "the only file fails"
}

case_outputs() {
    fixtures 60
    train_small m.safetensors --max-steps 60 --checkpoint-dir ck || fail "train"
    mkdir -p in/a/b
    cp data/clips/u0001.wav in/one.wav
    cp data/clips/u0002.wav in/a/b/two.wav
    echo "not audio" > in/a/notes.md
    run "$R" transcribe -m m.safetensors -q -f txt,json,srt,vtt --output-dir res in
    expect_rc 0 "four formats"
    for f in res/one res/a/b/two; do
        for e in txt json srt vtt; do [ -s "$f.$e" ] || fail "missing $f.$e"; done
    done
    [ ! -e res/a/notes.txt ] || fail "a non-audio file was transcribed"
    "$PY" -c 'import json; d=json.load(open("res/a/b/two.json")); assert d["version"]==1 and d["file"].endswith("two.wav")' ||
        fail "json output"
    head -1 res/one.vtt | grep -qx WEBVTT || fail "vtt header"
    grep -qE '^[0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3} --> [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3}$' res/one.srt || fail "srt times"
    touch -d '2001-01-01' res/one.txt
    run "$R" transcribe -m m.safetensors -f txt,json,srt,vtt --output-dir res --skip-existing in
    expect_rc 0 "skip-existing"
    expect_in "$tmp/err" "2 of 2 files already have their outputs" "skip-existing says so"
    [ "$(stat -c %Y res/one.txt)" = "$(date -d 2001-01-01 +%s)" ] || fail "skip-existing rewrote an output"
    rm res/a/b/two.srt
    run "$R" transcribe -m m.safetensors -f txt,json,srt,vtt --output-dir res --skip-existing in
    expect_in "$tmp/err" "1 of 2 files already have their outputs" "a file with a missing output is redone"
    [ -s res/a/b/two.srt ] || fail "the missing output was not rewritten"
    cp data/clips/u0003.wav beside.wav
    run "$R" transcribe -m m.safetensors -q beside.wav
    expect_rc 0 "default output beside the input"
    [ -s beside.txt ] || fail "beside.txt not written"
    run "$R" transcribe -m m.safetensors -q - < data/clips/u0003.wav
    expect_rc 0 "stdin"
    cmp -s "$tmp/out" beside.txt || fail "stdin gives another transcript than the file"
    run "$R" transcribe -m m.safetensors -f txt,json -o - in
    expect_rc 2 "-o - with two formats"
    run "$R" transcribe -m m.safetensors -f srt --no-timestamps in
    expect_rc 2 "srt without timestamps"
    run "$R" transcribe -m m.safetensors -f doc in
    expect_rc 2 "unknown format"
    run "$R" transcribe -m m.safetensors -q -f json --no-timestamps -o - in/one.wav
    expect_rc 0 "--no-timestamps"
    grep -q segments "$tmp/out" && fail "--no-timestamps still wrote segments"
    run "$R" transcribe -m missing.safetensors in
    expect_rc 3 "a missing model"
    run "$R" transcribe -m dinos in
    expect_rc 3 "a language model is not a speech model"
    expect_in "$tmp/err" "ctc" "the message says what kind of model is needed"
    run "$R" transcribe --help
    expect_rc 0 "--help"
    expect_in "$tmp/out" "(default: 2)" "--help shows defaults"
}

case_long() {
    fixtures 120
    train_small m.safetensors --max-steps 150 --checkpoint-dir ck || fail "train"
    run "$R" transcribe -m m.safetensors -q -f json --chunk-seconds 10 -o - data/long.wav
    expect_rc 0 "a 100 s file in 10 s chunks"
    cp "$tmp/out" long.json
    "$PY" - long.json <<'PY' || fail "long file: times not in order"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["duration"] >= 100, d["duration"]
last = -1
for s in d["segments"]:
    for w in s["words"]:
        assert w["start"] >= last, (w, last)
        last = w["start"]
assert last > 90000, last
PY
    "$PY" "$here/joined.py" wer data/long.txt long.json || fail "long file: 25 % or more word errors"
}

# A recording made of the test clips with pauses of 0.3 to 10 s transcribes as well as the clips one by one
# (voice activity decodes each utterance alone), and every word is placed on its tone: median start and end
# errors at most 40 ms, 95th percentile at most 120 ms, no word in silence (tests/asr/joined.py).
case_joined() {
    fixtures 120
    train_small m.safetensors --max-steps 150 --checkpoint-dir ck || fail "train"
    "$PY" "$here/joined.py" make data joined.wav || { fail "joined.py make"; return; }
    run "$R" transcribe -m m.safetensors -q -f json -o long.json joined.wav
    expect_rc 0 "the joined recording"
    (cd data && "$R" transcribe -m ../m.safetensors -q -f jsonl -o - $(cut -f1 test.tsv)) >clips.jsonl ||
        fail "the clips one by one"
    run "$PY" "$here/joined.py" score joined.tsv long.json clips.jsonl
    cat "$tmp/out"
    expect_rc 0 "the joined recording against its clips"
    # without voice activity the same recording loses words: the check can fail
    run "$R" transcribe -m m.safetensors -q -f json -o whole.json --vad off joined.wav
    run "$PY" "$here/joined.py" score joined.tsv whole.json clips.jsonl
    expect_rc 1 "--vad off, whole chunks"
}

# Rejection: a model of whole words takes an utterance only when its least confident word reaches 0.6 by
# default (--reject-below): what it does not take is absent from the text and listed under "rejected" in
# JSON with its times, what the model would have said and that confidence; the tones it knows lose nothing.
case_reject() {
    fixtures 120
    train_small m.safetensors --max-steps 150 --checkpoint-dir ck || fail "train"
    "$PY" - <<'PY' || fail "foreign sounds"
import math, random, struct, wave
rng = random.Random(5)
for i in range(20):  # tones the model never heard, and bursts of noise
    n, amp, f = int(8000 * rng.uniform(0.12, 0.3)), rng.uniform(0.2, 0.6), rng.choice([250.0, 700.0, 2600.0, 3300.0])
    x = [0.0] * 1200
    for k in range(n):
        env = min(1.0, k / 80.0, (n - k) / 80.0)
        x.append(amp * env * (math.sin(2 * math.pi * f * k / 8000) if i % 2 else rng.gauss(0, 0.5)))
    x = [v + rng.gauss(0, 0.004) for v in x + [0.0] * 1200]
    with wave.open("foreign%02d.wav" % i, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", max(-32768, min(32767, int(v * 32767)))) for v in x))
PY
    local clips
    clips=$(cut -f1 data/test.tsv | sed 's|^|data/|')
    "$R" transcribe -m m.safetensors -q -f jsonl -o - $clips >taken.jsonl || fail "the test clips"
    "$R" transcribe -m m.safetensors -q -f jsonl -o - --reject-below 0 $clips >all.jsonl || fail "--reject-below 0"
    "$R" transcribe -m m.safetensors -q -f jsonl -o - foreign*.wav >foreign.jsonl || fail "foreign sounds"
    "$R" transcribe -m m.safetensors -q -f jsonl -o - --reject-below 0 foreign*.wav >foreign0.jsonl || fail "foreign, 0"
    "$R" transcribe -m m.safetensors -q -f jsonl -o - --reject-below 1 $clips >none.jsonl || fail "--reject-below 1"
    "$PY" - data/test.tsv <<'PY' || fail "rejection"
import json, sys
ref = {l.split("\t")[0]: l.split("\t")[1].split() for l in open(sys.argv[1])}
def load(p): return [json.loads(l) for l in open(p)]
def right(rows): return sum(r["text"].split() == ref[r["file"][len("data/"):]] for r in rows) / len(rows)
taken, every = load("taken.jsonl"), load("all.jsonl")
assert right(taken) >= right(every) - 0.01, (right(taken), right(every))
foreign, foreign0 = load("foreign.jsonl"), load("foreign0.jsonl")
said = sum(1 for r in foreign if r["text"]); said0 = sum(1 for r in foreign0 if r["text"])
assert said0 > 0 and said < said0, (said, said0)
for r in foreign:
    for x in r["rejected"]:
        assert x["confidence"] < 0.6 and x["text"] and x["start"] < x["end"], x
    assert all(r0["rejected"] == [] for r0 in foreign0)
none = load("none.jsonl")
assert all(r["text"] == "" and r["rejected"] and r["segments"] == [] for r in none), none[0]
print("right %.3f (all taken %.3f); foreign sounds given text %d of %d (all taken %d)" %
      (right(taken), right(every), said, len(foreign), said0))
PY
}

case_phrases() {
    fixtures 120
    train_small m.safetensors --max-steps 150 --checkpoint-dir ck || fail "train"
    printf 'low\nhigh\n\n' > allowed.txt
    run "$R" transcribe -m m.safetensors -q -f jsonl -o - --phrases allowed.txt --beam-size 8 data/clips
    expect_rc 0 "phrases"
    "$PY" -c '
import json, sys
texts = [json.loads(l)["text"] for l in open(sys.argv[1])]
assert len(texts) == 120
assert set(texts) <= {"low", "high", ""}, set(texts)
assert "" in texts and "low" in texts and "high" in texts, set(texts)
' "$tmp/out" || fail "--phrases allowed other answers, or rejected everything"
    printf 'low\nloud\n' > unknown.txt
    run "$R" transcribe -m m.safetensors --phrases unknown.txt data/clips/u0001.wav
    expect_rc 1 "a phrase with a word the model does not know"
    expect_in "$tmp/err" "unknown.txt:2" "the phrase's line is named"
}

# Resumed from step 20, with every augmentation and both dropouts, the weights of 40 straight steps; and
# leaving out the warp or the rooms changes the weights.
case_resume() {
    fixtures 120
    local d=(--dropout 0.1 --recurrent-dropout 0.2) aug=(--augment-noise 10 --augment-speed 1.1 --augment-mask 1)
    run train_small straight.safetensors "${d[@]}" --max-steps 40 "${aug[@]}" --augment-warp 0.1 --augment-reverb 0.5 \
        --checkpoint-dir a
    expect_rc 0 "40 steps"
    run train_small half.safetensors "${d[@]}" --max-steps 20 "${aug[@]}" --augment-warp 0.1 --augment-reverb 0.5 \
        --checkpoint-dir b
    expect_rc 0 "20 steps"
    run "$R" train --task ctc --manifest data/train.tsv --resume b/ctc_step0000020.safetensors --max-steps 40 \
        --threads 1 -q -o resumed.safetensors --checkpoint-dir b
    expect_rc 0 "resume to 40"
    cmp -s straight.safetensors resumed.safetensors || fail "resumed training differs from the straight run"
    run train_small nowarp.safetensors "${d[@]}" --max-steps 40 "${aug[@]}" --augment-reverb 0.5 --checkpoint-dir c
    cmp -s straight.safetensors nowarp.safetensors && fail "--augment-warp changed nothing"
    run train_small noroom.safetensors "${d[@]}" --max-steps 40 "${aug[@]}" --augment-warp 0.1 --checkpoint-dir e
    expect_rc 0 "40 steps without rooms"
    cmp -s straight.safetensors noroom.safetensors && fail "--augment-reverb changed nothing"
    run train_small x.safetensors --max-steps 1 --augment-reverb 1.5
    expect_rc 2 "--augment-reverb beyond 1"
    run train_small x.safetensors --max-steps 1 --augment-warp 0.5
    expect_rc 2 "--augment-warp beyond 0.3"
    run "$R" train --task ctc --manifest data/train.tsv --resume b/ctc_step0000020.safetensors --rnn-size 64
    expect_rc 2 "architecture options with --resume"
    head -n 50 data/train.tsv > other.tsv
    run "$R" train --task ctc --manifest other.tsv --resume b/ctc_step0000020.safetensors -q
    expect_rc 1 "resume on other data"
}

case_interrupt() {
    fixtures 120
    # rnnhost itself in the background (not a function's subshell), so the signal reaches it
    "$R" train --task ctc --manifest data/train.tsv --units words --sample-rate 8000 --rnn-size 32 --num-layers 1 \
        --batch-size 8 --threads 1 --max-steps 100000 --checkpoint-dir ck -o m.safetensors > /dev/null 2> err.txt &
    local pid=$!
    sleep 2
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    [ "$rc" -eq 130 ] || fail "Ctrl-C: exit code $rc, expected 130"
    grep -q "interrupted at step" err.txt || fail "no message on interrupt"
    local ck; ck=$(ls ck/ctc_step*.safetensors 2>/dev/null | tail -n 1)
    [ -n "$ck" ] || fail "no checkpoint after Ctrl-C"
    [ -z "$ck" ] || { run "$R" eval -m "$ck" --manifest data/test.tsv; expect_rc 0 "the checkpoint is a usable model"; }
}

case_bad_data() {
    fixtures 60
    printf 'clips/u0000.wav\tlow\nclips/missing.wav\thigh\n' > data/bad.tsv
    run train_small m.safetensors --max-steps 1 --checkpoint-dir ck
    run "$R" train --task ctc --manifest data/bad.tsv --units words --sample-rate 8000 -q
    expect_rc 1 "a missing recording"
    expect_in "$tmp/err" "bad.tsv:2" "the manifest line is named"
    printf 'clips/u0000.wav\tlow loud\n' > data/unknown.tsv
    run "$R" eval -m m.safetensors --manifest data/unknown.tsv
    expect_rc 0 "eval counts an unknown word as an error, it does not stop"
    printf 'clips/u0000.wav low\n' > data/notab.tsv
    run "$R" train --task ctc --manifest data/notab.tsv -q
    expect_rc 1 "no tab"
    expect_in "$tmp/err" "notab.tsv:1" "the line is named"
    run "$R" train --task ctc --manifest data/train.tsv --augment-speed 3
    expect_rc 2 "speed out of range"
    run "$R" train --task ctc
    expect_rc 2 "no manifest"
}

# --norm-prior: the training set's statistics travel in the model file, transcription and `features -m`
# use them, and a model file whose statistics are broken is refused.
case_norm_prior() {
    fixtures
    run train_small np.safetensors --max-steps 150 --norm-prior 300
    expect_rc 0 "train with --norm-prior"
    expect_wer_below np.safetensors 0.1 "with --norm-prior"
    frontend_edit np.safetensors bad.safetensors '
norm = fe["norm"]
assert norm["prior_frames"] == 300, norm["prior_frames"]
assert len(norm["mean"]) == fe["n_mels"] == len(norm["var"]) and all(v > 0 for v in norm["var"])
assert len(set(norm["mean"])) > 1, "every channel has the same mean"
norm["var"][0] = -1.0  # a hostile copy: a negative variance
' || fail "the model's norm statistics are missing or wrong"
    local clip; clip=data/$(head -n 1 data/test.tsv | cut -f1)
    run "$R" features -m np.safetensors "$clip" -o -
    expect_rc 0 "features -m"
    cp "$tmp/out" prior.npy
    features_8k "$clip" --fmin 20
    cmp -s "$tmp/out" prior.npy && fail "features -m of a --norm-prior model equals plain per-file normalisation"
    run "$R" transcribe -m bad.safetensors -o - "$clip"
    expect_rc 3 "a model with a negative variance"
    expect_in "$tmp/err" "norm" "the message names the broken setting"
    run "$R" train --task ctc --manifest data/train.tsv --resume np.safetensors --norm-prior 100
    expect_rc 2 "--norm-prior with --resume"
}

# --pad-ms: the padding travels in the model file; times stay those of the recording, features -m shows
# the padded frames, export sets it, and a model file asking for too much padding is refused.
# padded_by_200ms PLAIN.npy PADDED.npy: the second has 2 x 200 ms of 10 ms frames more, as many mels.
padded_by_200ms() {
    "$PY" - "$1" "$2" <<'PY'
import struct, sys
def shape(p):
    raw = open(p, "rb").read()
    n = struct.unpack("<H", raw[8:10])[0]
    return eval(raw[10:10 + n].decode())["shape"]
a, b = shape(sys.argv[1]), shape(sys.argv[2])
assert b[0] == a[0] + 40 and b[1] == a[1], (a, b)
PY
}

case_pad() {
    fixtures
    run train_small plain.safetensors --max-steps 150
    expect_rc 0 "train without padding"
    run train_small pad.safetensors --max-steps 150 --pad-ms 200
    expect_rc 0 "train with --pad-ms 200"
    expect_wer_below pad.safetensors 0.1 "with --pad-ms"
    cut -f1 data/test.tsv | head -20 | sed 's|^|data/|' > clips.txt
    run "$R" transcribe -m plain.safetensors -f jsonl -o - -q $(cat clips.txt)
    expect_rc 0 "transcribe, no padding"
    cp "$tmp/out" plain.jsonl
    run "$R" transcribe -m pad.safetensors -f jsonl -o - -q $(cat clips.txt)
    expect_rc 0 "transcribe with padding"
    cp "$tmp/out" pad.jsonl
    # the same words at about the same times: 200 ms of padding left in would move every start by 200
    "$PY" - plain.jsonl pad.jsonl pad.safetensors <<'PY' || fail "padded model: times or metadata wrong"
import json, struct, sys, wave
plain = {d["file"]: d for d in map(json.loads, open(sys.argv[1]))}
pad = {d["file"]: d for d in map(json.loads, open(sys.argv[2]))}
shifts = []
for f, d in pad.items():
    with wave.open(f) as w:
        seconds = w.getnframes() / w.getframerate()
    assert abs(d["duration"] - seconds) < 0.002, (f, d["duration"], seconds)
    words = [w for s in d["segments"] for w in s["words"]]
    for w in words:
        assert 0 <= w["start"] <= w["end"] <= d["duration"] * 1000 + 1, (f, w)
    ref = [w for s in plain[f]["segments"] for w in s["words"]]
    if [w["word"] if "word" in w else w["text"] for w in words] == [w["word"] if "word" in w else w["text"] for w in ref]:
        shifts += [a["start"] - b["start"] for a, b in zip(words, ref)]
assert len(shifts) >= 20, len(shifts)
mean = sum(shifts) / len(shifts)
print("word starts, padded model minus plain: mean %.1f ms over %d words" % (mean, len(shifts)))
assert abs(mean) < 80, mean
raw = open(sys.argv[3], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
fe = json.loads(json.loads(raw[8:8 + n])["__metadata__"]["rnnhost.frontend"])
assert fe["pad_ms"] == 200, fe
PY
    local clip; clip=$(head -n 1 clips.txt)
    run "$R" features -m plain.safetensors "$clip" -o plain.npy
    expect_rc 0 "features -m, no padding"
    run "$R" features -m pad.safetensors "$clip" -o pad.npy
    expect_rc 0 "features -m with padding"
    padded_by_200ms plain.npy pad.npy || fail "features -m does not show the padding"
    frontend_edit pad.safetensors hostile.safetensors 'fe["pad_ms"] = 3600000  # an hour around every file' ||
        fail "could not write the hostile model"
    run "$R" transcribe -m hostile.safetensors -o - "$clip"
    expect_rc 3 "a model asking for an hour of padding"
    expect_in "$tmp/err" "pad_ms" "the message names the setting"
    # export keeps a speech model as it is, or sets its padding: there and back again gives the same file
    run "$R" export plain.safetensors -o same.safetensors
    expect_rc 0 "export a speech model"
    cmp -s same.safetensors plain.safetensors || fail "export changed a speech model"
    run "$R" export plain.safetensors --pad-ms 200 --dtype f16 -o padded.safetensors
    expect_rc 0 "export --pad-ms 200 --dtype f16"
    run "$R" features -m padded.safetensors "$clip" -o padded.npy
    expect_rc 0 "features -m of the exported model"
    padded_by_200ms plain.npy padded.npy || fail "export --pad-ms did not set the padding"
    run "$R" export padded.safetensors --pad-ms 0 --dtype f16 -o unpadded.safetensors
    expect_rc 0 "export --pad-ms 0"
    run "$R" export plain.safetensors --dtype f16 -o plain16.safetensors
    cmp -s unpadded.safetensors plain16.safetensors || fail "padding set and removed again is not the model it was"
    run "$R" export "$SOURCE_ROOT/presets/dinos.safetensors" --pad-ms 100 -o x.safetensors
    expect_rc 2 "--pad-ms for a language model"
    [ -e x.safetensors ] && fail "a refused export wrote its output"
    run "$R" train --task ctc --manifest data/train.tsv --pad-ms 1001
    expect_rc 2 "--pad-ms above a second"
    run "$R" train --task ctc --manifest data/train.tsv --resume pad.safetensors --pad-ms 100
    expect_rc 2 "--pad-ms with --resume"
}

# --fmin and --cepstra: the model file carries them, features -m computes what features computes with the
# same settings by hand, the tones are still learnt, and settings out of range are refused.
case_frontend() {
    fixtures
    run train_small cep.safetensors --max-steps 150 --fmin 100 --cepstra 12
    expect_rc 0 "train with --fmin 100 --cepstra 12"
    expect_wer_below cep.safetensors 0.1 "with --cepstra"
    frontend_edit cep.safetensors hostile.safetensors '
assert fe["cepstra"] == 12 and fe["fmin"] == 100, fe
fe["cepstra"] = fe["n_mels"] + 1  # a hostile copy: more coefficients than channels
' || fail "the front-end settings are not in the model file"
    local clip; clip=data/$(head -n 1 data/test.tsv | cut -f1)
    run "$R" features -m cep.safetensors "$clip" -o -
    expect_rc 0 "features -m"
    cp "$tmp/out" model.npy
    features_8k "$clip" --fmin 100 --cepstra 12
    expect_rc 0 "features --cepstra 12"
    cmp -s "$tmp/out" model.npy || fail "features -m differs from features with the model's settings"
    features_8k "$clip" --fmin 100
    cmp -s "$tmp/out" model.npy && fail "--cepstra 12 changed nothing"
    run "$R" transcribe -m hostile.safetensors -o - "$clip"
    expect_rc 3 "a model with more cepstra than mels"
    expect_in "$tmp/err" "cepstra" "the message names the setting"
    run "$R" train --task ctc --manifest data/train.tsv --n-mels 20 --cepstra 21
    expect_rc 2 "--cepstra above --n-mels"
    run "$R" train --task ctc --manifest data/train.tsv --sample-rate 8000 --fmin 4000
    expect_rc 2 "--fmin at half the sample rate"
}

# Inputs whose outputs would share a name: told apart by their extension, or refused naming both; never
# one output silently standing for two inputs.
case_collisions() {
    local ex=$SOURCE_ROOT/presets/digits-example.wav want f
    want=$(cat "$SOURCE_ROOT/presets/digits-example.txt")
    mkdir -p same d1 d2
    cp "$ex" same/a.wav
    sox "$ex" same/a.flac && sox "$ex" same/a.ogg || { fail "sox cannot make the FLAC and OGG fixtures"; return; }
    cp "$ex" same/b.wav
    run "$R" transcribe -m digits -f txt,json same
    expect_rc 0 "a.wav, a.flac and a.ogg in one folder"
    expect_in "$tmp/err" "differ only in extension" "the renaming is said"
    for f in a.wav a.flac a.ogg; do
        [ "$(cat "same/$f.txt" 2>/dev/null)" = "$want" ] || fail "same/$f.txt: '$(cat "same/$f.txt" 2>/dev/null)'"
        [ -s "same/$f.json" ] || fail "same/$f.json missing"
    done
    [ -e same/a.txt ] && fail "a.txt written for three inputs"
    [ -s same/b.txt ] || fail "b.wav, which collides with nothing, keeps the plain name b.txt"
    # the same through --output-dir, with --skip-existing finding the kept names again
    run "$R" transcribe -m digits -q --output-dir res same
    expect_rc 0 "the same folder into --output-dir"
    for f in a.wav a.flac a.ogg; do [ -s "res/$f.txt" ] || fail "res/$f.txt missing"; done
    run "$R" transcribe -m digits --output-dir res --skip-existing same
    expect_rc 0 "--skip-existing"
    expect_in "$tmp/err" "4 of 4 files already have their outputs" "--skip-existing finds the kept names"
    # two folders each holding e01.wav, one --output-dir: refused before anything is written
    cp "$ex" d1/e01.wav
    cp "$ex" d2/e01.wav
    run "$R" transcribe -m digits --output-dir both d1 d2
    expect_rc 2 "two folders' e01.wav into one --output-dir"
    expect_in "$tmp/err" "d1/e01.wav and d2/e01.wav" "both inputs are named"
    expect_in "$tmp/err" "both/e01.txt" "the output they would share is named"
    [ -e both ] && fail "a refused batch wrote something"
    run "$R" transcribe -m digits -q same/b.wav same/b.wav
    expect_rc 2 "one file given twice"
    # -o - (one stream for every input) has nothing to collide
    run "$R" transcribe -m digits -q -f jsonl -o - d1 d2
    expect_rc 0 "two folders' e01.wav into -o -"
    [ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "-o -: $(wc -l <"$tmp/out") lines for two inputs"
}

# A sound file through a pipe, a FIFO or stdin decodes as the file itself does, FLAC included (its decoder
# seeks, so a stream is read whole into memory first).
case_pipes() {
    local ex=$SOURCE_ROOT/presets/digits-example.wav want e
    want=$(cat "$SOURCE_ROOT/presets/digits-example.txt")
    for e in flac ogg wav; do
        sox "$ex" "v.$e" || { fail "sox cannot make v.$e"; continue; }
        run "$R" transcribe -m digits -q "v.$e" -o -
        [ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = "$want" ] || fail "$e as a file: exit $rc, '$(cat "$tmp/out")'"
        cat "v.$e" | "$R" transcribe -m digits -q - >"$tmp/out" 2>"$tmp/err"
        rc=$?
        expect_rc 0 "$e through a pipe"
        [ "$(cat "$tmp/out")" = "$want" ] || fail "$e through a pipe: '$(cat "$tmp/out")'"
        run "$R" transcribe -m digits -q - <"v.$e"
        [ "$rc" -eq 0 ] && [ "$(cat "$tmp/out")" = "$want" ] || fail "$e on stdin from a file: exit $rc"
    done
    mkfifo fifo.flac
    { cat v.flac >fifo.flac & } 2>/dev/null
    run timeout 60 "$R" transcribe -m digits -q -o - fifo.flac
    expect_rc 0 "FLAC from a FIFO named as a file"
    [ "$(cat "$tmp/out")" = "$want" ] || fail "FLAC from a FIFO: '$(cat "$tmp/out")'"
    cat v.flac | "$R" features - -o - --sample-rate 8000 >pipe.npy 2>"$tmp/err" || fail "features of FLAC through a pipe"
    "$R" features v.flac -o file.npy --sample-rate 8000 2>/dev/null || fail "features of the FLAC file"
    cmp -s pipe.npy file.npy || fail "features: FLAC through a pipe differs from the file"
    run "$R" transcribe -m digits -q missing.flac
    expect_rc 1 "a missing file"
    expect_in "$tmp/err" "missing.flac: no such file" "a missing file is called so"
}

case_preset_digits() {
    local fsdd="$SOURCE_ROOT/../shared/data/fsdd"
    need_data "$fsdd"
    run "$R" transcribe -m digits -q "$SOURCE_ROOT/presets/digits-example.wav" -o -
    expect_rc 0 "the example recording"
    [ "$(cat "$tmp/out")" = "$(cat "$SOURCE_ROOT/presets/digits-example.txt")" ] ||
        fail "example: '$(cat "$tmp/out")', expected '$(cat "$SOURCE_ROOT/presets/digits-example.txt")'"
    # every 10th take of every digit and speaker: 200 recordings
    local names=(zero one two three four five six seven eight nine)
    : > test.tsv
    for f in "$fsdd"/*_[0-9]0.wav "$fsdd"/*_[0-9].wav; do
        [ -e "$f" ] || continue
        local b; b=$(basename "$f"); local d=${b%%_*}
        printf '%s\t%s\n' "$f" "${names[$d]}" >> test.tsv
    done
    run "$R" eval -m digits --manifest test.tsv
    expect_rc 0 "eval digits"
    local exact; exact=$(awk '$1 == "exact" { print $2 }' "$tmp/out")
    awk -v e="$exact" 'BEGIN { exit !(e >= 0.9) }' || fail "digits: $exact of FSDD recordings exactly right, expected >= 0.9"
}

# record_value MODEL KEY: the value of KEY in the model file's training record (rnnhost.training), or a
# metadata entry itself when KEY is one ("rnnhost.frontend").
record_value() {
    "$PY" - "$1" "$2" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
meta = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])["__metadata__"]
key = sys.argv[2]
print(meta[key] if key.startswith("rnnhost.") else json.loads(meta["rnnhost.training"])[key])
PY
}

# wer_of MODEL MANIFEST: eval's word error rate.
wer_of() { "$R" eval -m "$1" --manifest "$2" -j 1 | awk '$1 == "wer" { print $2 }'; }

# Enrolment: a model of the tones fine-tuned on 20 clips of another voice (every tone higher) with
# --init-from and nothing else takes the fine-tuning defaults (train --help says them; the record and
# the step count show them), no augmentation although the base model had some, keeps the front-end and
# the units, and fits the new voice better than before; options given still win, and those the model
# fixes are usage errors.
case_finetune() {
    fixtures 120
    "$PY" "$here/make_tones.py" voice --count 120 --seed 7 --voice 1.4 || fail "make_tones.py --voice"
    head -n 20 voice/train.tsv > voice/enrol.tsv
    run train_small base.safetensors --max-steps 150 --augment-noise 20 --augment-gain 3 --augment-mask 1 \
        --checkpoint-dir ck
    expect_rc 0 "the base model"
    run "$R" train --task ctc --help
    expect_rc 0 "train --task ctc --help"
    local lr batch epochs
    lr=$(sed -n 's/.*--learning-rate \([0-9.]*\), --batch-size.*/\1/p' "$tmp/out")
    batch=$(sed -n 's/.*--batch-size \([0-9]*\), --max-epochs.*/\1/p' "$tmp/out")
    epochs=$(sed -n 's/.*--max-epochs \([0-9]*\).*/\1/p' "$tmp/out")
    [ -n "$lr" ] && [ -n "$batch" ] && [ -n "$epochs" ] || fail "train --help does not say the fine-tuning defaults"
    run "$R" train --task ctc --init-from base.safetensors --manifest voice/enrol.tsv --threads 1 -q \
        --checkpoint-dir ck -o mine.safetensors
    expect_rc 0 "fine-tuning with --init-from and no other training option"
    [ "$(record_value mine.safetensors learning_rate)" = "$lr" ] || fail "the record's learning rate is not $lr"
    [ "$(record_value mine.safetensors batch_size)" = "$batch" ] || fail "the record's batch size is not $batch"
    local steps=$(( epochs * ((20 + batch - 1) / batch) ))
    [ "$(record_value mine.safetensors rnnhost.trained_steps)" = "$steps" ] ||
        fail "fine-tuning took $(record_value mine.safetensors rnnhost.trained_steps) steps, not $epochs epochs ($steps)"
    local k
    for k in augment_noise augment_gain augment_mask; do
        [ "$(record_value mine.safetensors $k)" = 0 ] || fail "$k is not 0 (off) when fine-tuning"
    done
    for k in rnnhost.frontend rnnhost.units rnnhost.bidirectional rnnhost.hidden_size; do
        [ "$(record_value mine.safetensors $k)" = "$(record_value base.safetensors $k)" ] || fail "$k changed"
    done
    local before after
    before=$(wer_of base.safetensors voice/test.tsv) after=$(wer_of mine.safetensors voice/test.tsv)
    awk -v b="$before" -v a="$after" 'BEGIN { exit !(a < b - 0.1) }' ||
        fail "the new voice's word error rate went from $before to $after, not 10 points lower"
    # options given win over the fine-tuning defaults
    run "$R" train --task ctc --init-from base.safetensors --manifest voice/enrol.tsv --threads 1 -q \
        --checkpoint-dir ck -o given.safetensors --learning-rate 0.002 --max-steps 3 --augment-noise 30
    expect_rc 0 "fine-tuning with options"
    [ "$(record_value given.safetensors learning_rate)" = "0.002" ] || fail "--learning-rate given was not taken"
    [ "$(record_value given.safetensors augment_noise)" = "30" ] || fail "--augment-noise given was not taken"
    [ "$(record_value given.safetensors rnnhost.trained_steps)" = "3" ] || fail "--max-steps given was not taken"
    for k in "--sample-rate 16000" "--units chars" "--norm-prior 300" "--rnn-size 64" "--dropout 0.1"; do
        run "$R" train --task ctc --init-from base.safetensors --manifest voice/enrol.tsv -q $k
        expect_rc 2 "$k with --init-from"
    done
}

# The LSTM as the recurrent core, both directions: it learns the tones, transcribes, and resumes bit for bit.
case_lstm() {
    fixtures 120
    run train_small lstm.safetensors --cell lstm --max-steps 150 --checkpoint-dir a
    expect_rc 0 "train --cell lstm, 150 steps"
    expect_wer_below lstm.safetensors 0.1 "with --cell lstm"
    local clip words
    clip=data/$(head -n 1 data/test.tsv | cut -f 1) words=$(head -n 1 data/test.tsv | cut -f 2)
    run "$R" transcribe -m lstm.safetensors -o - "$clip"
    expect_rc 0 "transcribe with the lstm model"
    expect_in "$tmp/out" "$words" "the lstm's transcript of $clip"
    run train_small straight.safetensors --cell lstm --max-steps 30 --checkpoint-dir b
    run train_small half.safetensors --cell lstm --max-steps 15 --checkpoint-dir c
    expect_rc 0 "15 steps"
    run "$R" train --task ctc --manifest data/train.tsv --resume c/ctc_step0000015.safetensors --max-steps 30 \
        --threads 1 -q -o resumed.safetensors --checkpoint-dir c
    expect_rc 0 "resume the lstm to 30"
    cmp -s straight.safetensors resumed.safetensors || fail "the resumed lstm differs from the straight run"
}

finish "$1"
