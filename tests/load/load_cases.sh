#!/usr/bin/env bash
# Long inputs and many files, one meson test per case: load_cases.sh CASE. The environment gives
# $RNNHOST, $PYTHON3 and $SOURCE_ROOT. Cases named slow-* are suite 'slow' (minutes, gigabytes of
# scratch space avoided: every big input is generated in the test's own temporary directory).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cases.sh"

small=(--rnn-size 24 --num-layers 1 --seq-length 16 --batch-size 6 --quiet)
same_model() { "$PYTHON3" "$here/same_model.py" "$1" "$2" || fail "$3"; }

# train from a file (streamed from disk) and from stdin (held in memory): every loss, every checkpoint
# and the model agree, and a checkpoint of one resumes under the other.
fixtures() {
    "$PYTHON3" "$SOURCE_ROOT/tests/lm/make_corpus.py" "$tmp" || exit 1
    "$PYTHON3" "$here/make_text.py" accents.txt 30000 || exit 1
}

case_stream_vs_stdin() {
    fixtures
    local o=("${small[@]}" --max-steps 60 --eval-every 20 --eval-streams 3 --val-frac 0.1)
    run "$RNNHOST" train "${o[@]}" --data accents.txt --checkpoint-dir ckf --log-json f.jsonl -o f.safetensors
    expect_rc 0 "train from a file"
    "$RNNHOST" train "${o[@]}" --data - --checkpoint-dir cks --log-json s.jsonl -o s.safetensors \
        <accents.txt >"$tmp/out" 2>"$tmp/err"
    rc=$?
    expect_rc 0 "train from stdin"
    [ "$(grep -c '"type":"val"' f.jsonl)" -eq 3 ] || fail "expected 3 validations in the log"
    cmp -s f.jsonl s.jsonl || { fail "file and stdin logs differ"; diff f.jsonl s.jsonl | head -5 >&2; }
    same_model f.safetensors s.safetensors "file and stdin trained different models"
    for ck in ckf/*.safetensors; do
        same_model "$ck" "cks/$(basename "$ck")" "checkpoint $(basename "$ck") differs"
    done
    [ "$(ls ckf | wc -l)" -eq 3 ] || fail "expected 3 checkpoints, got $(ls ckf | wc -l)"
    # a checkpoint made from stdin continues from the file (the data hash is the same)
    local ck
    ck=$(ls cks/lm_step0000020_*.safetensors)
    run "$RNNHOST" train "${o[@]}" --data accents.txt --checkpoint-dir ckr --resume "$ck" --log-json r.jsonl \
        -o r.safetensors
    expect_rc 0 "resume a stdin checkpoint from the file"
    cmp -s f.safetensors r.safetensors || fail "20 steps from stdin + 40 resumed from the file differ from 60"
    # and the streamed validation reads a separate --val-data file as the in-memory path does
    o=("${small[@]}" --max-steps 20 --eval-every 10 --eval-streams 2)
    run "$RNNHOST" train "${o[@]}" --data corpus.txt --val-data val.txt --checkpoint-dir ck1 --log-json v1.jsonl \
        -o v1.safetensors
    expect_rc 0 "train with --val-data (both streamed)"
    "$RNNHOST" train "${o[@]}" --data corpus.txt --val-data - --checkpoint-dir ck2 --log-json v2.jsonl \
        -o v2.safetensors <val.txt >"$tmp/out" 2>"$tmp/err"
    rc=$?
    expect_rc 0 "train with --val-data - (in memory)"
    grep -q '"type":"val"' v1.jsonl || fail "no validation in the --val-data log"
    cmp -s v1.jsonl v2.jsonl || fail "--val-data streamed and from stdin give other losses"
}

case_stream_directory() {
    fixtures
    mkdir -p tree/b tree/.hidden
    head -n 200 corpus.txt >tree/a.txt
    sed -n '201,350p' corpus.txt >tree/b/x.txt
    : >tree/b/y-empty.txt
    sed -n '351,$p' corpus.txt >tree/c.txt
    printf '\377\n' >tree/.hidden/skip.txt
    local o=("${small[@]}" --max-steps 30 --eval-every 15)
    run "$RNNHOST" train "${o[@]}" --data tree --checkpoint-dir ckd --log-json d.jsonl -o d.safetensors
    expect_rc 0 "train on a directory"
    cat tree/a.txt tree/b/x.txt tree/c.txt | "$RNNHOST" train "${o[@]}" --data - --checkpoint-dir cks \
        --log-json s.jsonl -o s.safetensors >"$tmp/out" 2>"$tmp/err"
    rc=$?
    expect_rc 0 "train on the concatenation from stdin"
    cmp -s d.jsonl s.jsonl || fail "directory and concatenated stdin give other losses"
    same_model d.safetensors s.safetensors "directory and concatenated stdin trained different models"
    printf 'ok\n\xe2\x82' >tree/b/z.txt
    run "$RNNHOST" train "${o[@]}" --data tree -o bad.safetensors
    expect_rc 1 "a directory with a truncated file"
    expect_in "$tmp/err" "tree/b/z.txt: invalid UTF-8 at byte 3 (0xe2): truncated sequence at end of input" \
        "the bad file and byte named"
}

# Refusals name the same place as the in-memory reader does.
case_stream_errors() {
    fixtures
    "$PYTHON3" -c 'import sys; d=open("corpus.txt","rb").read(); open("bad.txt","wb").write(d[:5000]+b"\xc3\x28"+d[5000:])'
    run "$RNNHOST" train "${small[@]}" --data bad.txt -o x.safetensors
    expect_rc 1 "invalid UTF-8 in a file"
    expect_in "$tmp/err" "bad.txt: invalid UTF-8 at byte 5000 (0xc3): missing continuation byte" "file message"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "more than one line for invalid UTF-8"
    "$RNNHOST" train "${small[@]}" --data - -o x.safetensors <bad.txt >"$tmp/out" 2>"$tmp/err"
    rc=$?
    expect_rc 1 "invalid UTF-8 on stdin"
    expect_in "$tmp/err" "standard input: invalid UTF-8 at byte 5000 (0xc3)" "stdin message, the same byte"
    # a vocabulary given by --init-from: the first stranger with its line and column
    run "$RNNHOST" train "${small[@]}" --data corpus.txt --max-steps 2 --eval-every 0 --checkpoint-dir ck -o m.safetensors
    expect_rc 0 "a model to start from"
    awk 'NR == 3 { $0 = substr($0, 1, 4) "Z" substr($0, 5) } { print }' corpus.txt >other.txt
    run "$RNNHOST" train "${small[@]}" --data other.txt --init-from ./m.safetensors --max-steps 2 -o y.safetensors
    expect_rc 1 "a symbol outside the given vocabulary (file)"
    expect_in "$tmp/err" "other.txt: symbol 'Z' at line 3, column 5 is not in the model's vocabulary" "file message"
    "$RNNHOST" train "${small[@]}" --data - --init-from ./m.safetensors --max-steps 2 -o y.safetensors \
        <other.txt >"$tmp/out" 2>"$tmp/err"
    rc=$?
    expect_rc 1 "a symbol outside the given vocabulary (stdin)"
    expect_in "$tmp/err" "symbol 'Z' at line 3, column 5 is not in the model's vocabulary" "stdin message"
    printf 'the cat\nsat Q\n' >val-bad.txt
    run "$RNNHOST" train "${small[@]}" --data corpus.txt --val-data val-bad.txt --init-from ./m.safetensors -o y.safetensors
    expect_rc 1 "a stranger in --val-data"
    expect_in "$tmp/err" "val-bad.txt: symbol 'Q' at line 2, column 5" "--val-data message"
    [ -e y.safetensors ] && fail "a refused training wrote its output"
}

# Suite slow: 100 MB of text trains in little more memory than 1 MB does.
case_slow_train_100mb() {
    "$PYTHON3" "$here/make_text.py" big.txt 100000000 || exit 1
    "$PYTHON3" "$here/make_text.py" small.txt 1000000 || exit 1
    local o=(--rnn-size 32 --num-layers 1 --seq-length 64 --batch-size 32 --max-steps 20 --eval-every 20
             --eval-streams 8 --val-frac 0.002 --quiet --checkpoint-dir ck)
    local small_kb big_kb
    small_kb=$("$PYTHON3" "$here/peak_rss.py" "$tmp/out" "$tmp/err" -- "$RNNHOST" train "${o[@]}" --data small.txt \
        -o s.safetensors)
    rc=$?
    expect_rc 0 "train on 1 MB"
    big_kb=$("$PYTHON3" "$here/peak_rss.py" "$tmp/out" "$tmp/err" -- "$RNNHOST" train "${o[@]}" --data big.txt \
        -o b.safetensors)
    rc=$?
    expect_rc 0 "train on 100 MB"
    echo "peak RSS: 1 MB corpus ${small_kb} KiB, 100 MB corpus ${big_kb} KiB"
    [ "$big_kb" -lt $((small_kb + 16 * 1024)) ] ||
        fail "training on 100 MB peaked at ${big_kb} KiB, more than 16 MiB over the 1 MB run's ${small_kb} KiB"
    "$RNNHOST" sample -m ./b.safetensors -n 50 --seed 1 >sample.txt || fail "the 100 MB model does not sample"
}

# Peak RSS of one command, in KiB, into the named variable; its output in $tmp/out, stderr in $tmp/err.
peak() { # VAR COMMAND...
    local var=$1
    shift
    local kb
    # Under AddressSanitizer freed memory waits in a quarantine of up to 256 MB, so a longer run peaks
    # higher whatever the program keeps; without the quarantine the comparison means the same as in a
    # plain build. (A plain build ignores the variable.)
    kb=$(ASAN_OPTIONS="quarantine_size_mb=0:thread_local_quarantine_size_kb=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        "$PYTHON3" "$here/peak_rss.py" "$tmp/out" "$tmp/err" -- "$@")
    rc=$?
    printf -v "$var" '%s' "${kb:-0}"
}

digits="$SOURCE_ROOT/presets/digits.safetensors"
transcribe=("$RNNHOST" transcribe -q -m "$digits" -f jsonl -o -)

# A folder of N short files: -j 2 writes what -j 1 writes, byte for byte, in no more memory than SMALL
# files take plus a margin of MARGIN_KB.
batch_case() { # N SMALL MARGIN_KB
    "$PYTHON3" "$here/make_wavs.py" many "$1" 9 || exit 1
    "$PYTHON3" "$here/make_wavs.py" few "$2" 9 || exit 1
    local j1 j2 few
    peak j1 "${transcribe[@]}" -j 1 many; expect_rc 0 "-j 1 over $1 files"; cp "$tmp/out" j1.jsonl
    peak j2 "${transcribe[@]}" -j 2 many; expect_rc 0 "-j 2 over $1 files"; cp "$tmp/out" j2.jsonl
    peak few "${transcribe[@]}" -j 2 few; expect_rc 0 "-j 2 over $2 files"
    echo "peak RSS: $2 files -j 2 ${few} KiB; $1 files -j 1 ${j1} KiB, -j 2 ${j2} KiB"
    [ "$(wc -l <j1.jsonl)" -eq "$1" ] || fail "$(wc -l <j1.jsonl) lines for $1 files"
    [ "$(grep -c '"text":"[a-z]' j1.jsonl)" -ge $(($1 / 2)) ] || fail "fewer than half the files have words"
    cmp -s j1.jsonl j2.jsonl || fail "-j 1 and -j 2 wrote different results"
    "$PYTHON3" -c 'import json,sys; f=[json.loads(l)["file"] for l in open(sys.argv[1])]; sys.exit(0 if f == sorted(f) else 1)' \
        j1.jsonl || fail "results not in input order"
    [ "$j2" -lt $((few + $3)) ] || fail "$1 files peaked at ${j2} KiB, over $2 files' ${few} KiB + $3 KiB"
}

case_transcribe_500() { batch_case 500 20 2048; }
case_slow_transcribe_10000() { batch_case 10000 100 2048; }

# Suite slow: a 3-hour recording streams in the memory of a 1-hour one (the transcript itself, a few
# hundred kilobytes of words an hour, is all that grows).
case_slow_transcribe_hours() {
    "$PYTHON3" "$here/make_long.py" 1h.wav 60 || exit 1
    "$PYTHON3" "$here/make_long.py" 3h.wav 180 || exit 1
    local one three
    peak one "$RNNHOST" transcribe -q -m "$digits" -f txt -o - 1h.wav; expect_rc 0 "1 hour"; cp "$tmp/out" 1h.txt
    peak three "$RNNHOST" transcribe -q -m "$digits" -f txt -o - 3h.wav; expect_rc 0 "3 hours"
    echo "peak RSS: 1 hour ${one} KiB, 3 hours ${three} KiB"
    [ "$(wc -w <"$tmp/out")" -gt $((2 * $(wc -w <1h.txt))) ] || fail "3 hours gave no more than twice 1 hour's words"
    [ "$three" -lt $((one + 4096)) ] || fail "3 hours peaked at ${three} KiB, over 1 hour's ${one} KiB + 4 MiB"
}

finish "$1"
