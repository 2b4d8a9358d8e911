#!/usr/bin/env bash
# memcheck over the commands on small inputs: no invalid access, no uninitialised value steering a branch,
# and no leak (definite, indirect or possible) on the way out, whether the command succeeds or refuses its
# input. One case per invocation; suite 'valgrind' (`meson test --suite valgrind`).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cases.sh"
R=${RNNHOST:?}
PY=${PYTHON3:-python3}
command -v valgrind >/dev/null || { echo "FAIL: valgrind is not installed (.ci/install-deps --tests installs it)"; exit 1; }
# One BLAS thread: the checks are about our memory, and memcheck serialises threads anyway.
export OPENBLAS_NUM_THREADS=1

# vg EXPECTED-RC WHAT CMD...: runs CMD under memcheck; any memcheck error turns the exit code into 99.
vg() {
    local want=$1 what=$2; shift 2
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
        --show-leak-kinds=definite,indirect,possible --track-origins=yes --num-callers=30 \
        --log-file="$tmp/vg.log" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ -s "$tmp/vg.log" ] || [ "$rc" -eq 99 ]; then
        fail "$what: memcheck reports errors"
        head -80 "$tmp/vg.log" >&2
    fi
    expect_rc "$want" "$what"
}

corpus() { "$PY" -c 'import random,sys; r=random.Random(1); sys.stdout.write("".join(r.choice("abcdefgh \n") for _ in range(20000)))' >c.txt; }

case_train() {
    corpus
    vg 0 "train lm" "$R" train --data c.txt --rnn-size 16 --num-layers 1 --batch-size 4 --seq-length 16 \
        --max-steps 20 --checkpoint-every 10 --checkpoint-dir ck -o m.safetensors -q
    vg 0 "train --resume" "$R" train --data c.txt --rnn-size 16 --num-layers 1 --batch-size 4 --seq-length 16 \
        --max-steps 30 --checkpoint-every 10 --checkpoint-dir ck -o m.safetensors --resume ck/lm_step0000010.safetensors -q
    printf 'ab\xffcd' >bad.txt
    vg 1 "train on invalid UTF-8" "$R" train --data bad.txt --max-steps 1 -o x.safetensors
    "$PY" "$here/../asr/make_tones.py" data --count 24 || fail "make_tones.py"
    vg 0 "train ctc" "$R" train --task ctc --manifest data/train.tsv --units words --sample-rate 8000 \
        --rnn-size 8 --num-layers 1 --bidirectional --batch-size 4 --threads 1 --max-steps 4 --augment-noise 20 \
        --augment-speed 1.05 --augment-mask 1 --augment-warp 0.1 --checkpoint-dir ckc -o ctc.safetensors -q
}

case_sample() {
    vg 0 "sample" "$R" sample -m dinos -n 200 --seed 3
    [ -s "$tmp/out" ] || fail "sample wrote nothing"
    printf 'not a model' >bad.safetensors
    vg 3 "sample from a corrupt model" "$R" sample -m bad.safetensors -n 10
}

case_transcribe() {
    mkdir in
    cp "$SOURCE_ROOT/presets/digits-example.wav" in/a.wav
    head -c 3000 in/a.wav >in/truncated.wav
    vg 4 "transcribe a batch with a truncated file" "$R" transcribe -m digits -f json,srt --output-dir res -j 2 -q in
    [ -s res/a.json ] && [ -s res/a.srt ] || fail "the good file was not transcribed"
    vg 0 "transcribe with beam and phrases" "$R" transcribe -m digits --beam-size 4 -o - in/a.wav -q
}

case_generate() {
    vg 0 "generate events" "$R" generate -m folk -o g.mid --length 5s --seed 2
    [ -s g.mid ] || fail "no MIDI written"
    vg 0 "generate piano roll" "$R" generate -m chorales --num-outputs 2 --output-dir gen --length 4s
    [ -s gen/gen_001.mid ] && [ -s gen/gen_002.mid ] || fail "no piano-roll MIDI written"
}

finish "$1"
