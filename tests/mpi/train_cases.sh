#!/usr/bin/env bash
# rnnhost train on two ranks (mpirun --oversubscribe -np 2, loopback) against one process: the same steps,
# the same weights within summation differences, rank 0 alone writing, resume, Ctrl-C, a killed rank.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cases.sh"
R=${RNNHOST:?}
PY=${PYTHON3:-python3}

# mpi2 CMD...: CMD on two ranks; stdout, stderr and rc as run gives them.
mpi2() { run "$MPIRUN" --oversubscribe -np 2 "$@"; }

need_mpi() {
    [ -n "${MPIRUN:-}" ] || { fail "mpirun is not installed (.ci/install-deps installs openmpi-bin)"; return 1; }
    [ "${RNNHOST_HAS_MPI:-0}" = 1 ] || { fail "this build has no MPI (.ci/install-deps installs libopenmpi-dev)"; return 1; }
}

text() { # a corpus of ten words in random order, one line of twelve a line
    "$PY" -c "
import random
r = random.Random(5)
w = 'the cat sat on a mat and dog ran far'.split()
print('\n'.join(' '.join(r.choice(w) for _ in range(12)) for _ in range(3000)))" >t.txt
}

# same_log A B TOLERANCE WHAT: two JSON logs of the same steps, losses within TOLERANCE.
same_log() {
    "$PY" - "$1" "$2" "$3" <<'EOF' || fail "$4: the logs differ"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
tol = float(sys.argv[3])
assert len(a) == len(b) and len(a) >= 40, (len(a), len(b))
for x, y in zip(a, b):
    assert x["type"] == y["type"] and x["step"] == y["step"], (x, y)
    for k in ("loss", "nats_per_symbol", "error_rate"):
        if k in x or k in y:
            assert abs(x[k] - y[k]) <= tol * max(1.0, abs(x[k])), (k, x, y)
EOF
}

# same_weights A B TOLERANCE WHAT: two model files with the same tensors, within TOLERANCE.
same_weights() {
    "$PY" - "$1" "$2" "$3" <<'EOF' || fail "$4: the weights differ"
import array, json, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    d = b[8 + n:]
    return {k: array.array("f", d[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in h.items() if k != "__metadata__" and v["dtype"] == "F32"}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a.keys() == b.keys() and a, (a.keys(), b.keys())
worst = max(abs(x - y) for k in a for x, y in zip(a[k], b[k]))
assert worst <= float(sys.argv[3]), worst
EOF
}

LM=(train --data t.txt --rnn-size 48 --num-layers 2 --seq-length 32 --batch-size 8 --eval-every 20 --threads 1)

case_lm() {
    need_mpi || return
    text
    run "$R" "${LM[@]}" --max-steps 40 --log-json one.jsonl --checkpoint-dir c1 -o one.safetensors
    expect_rc 0 "one process"
    mpi2 "$R" "${LM[@]}" --max-steps 40 --log-json two.jsonl --checkpoint-dir c2 -o two.safetensors
    expect_rc 0 "two ranks"
    same_log one.jsonl two.jsonl 1e-5 "lm streams"
    same_weights one.safetensors two.safetensors 1e-4 "lm streams"
    # the carried state of both ranks' streams is in the checkpoint
    same_weights c1/lm_step0000040_*.safetensors c2/lm_step0000040_*.safetensors 1e-4 "lm checkpoint"
    [ "$(grep -c 'rnnhost: training' "$tmp/err")" -eq 1 ] || fail "not one 'training' line from two ranks"
    expect_in "$tmp/err" "each batch shared by 2 ranks" "the training line names the ranks"
    # lines: batches of 3 over 2 ranks, and a last batch one rank has nothing of
    head -n 301 t.txt >lines.txt
    local L=(train --data lines.txt --per-line --rnn-size 32 --num-layers 1 --batch-size 3 --eval-every 10 --threads 1)
    run "$R" "${L[@]}" --max-steps 40 --log-json l1.jsonl --checkpoint-dir l1 -o l1.safetensors -q
    expect_rc 0 "lines, one process"
    mpi2 "$R" "${L[@]}" --max-steps 40 --log-json l2.jsonl --checkpoint-dir l2 -o l2.safetensors -q
    expect_rc 0 "lines, two ranks"
    same_log l1.jsonl l2.jsonl 1e-5 "lm lines"
    same_weights l1.safetensors l2.safetensors 1e-4 "lm lines"
    # dropout of the outputs and of the recurrent state: each rank drops in its share what one process drops
    # in the whole batch
    local D=(--dropout 0.3 --recurrent-dropout 0.2 --max-steps 40)
    run "$R" "${L[@]}" "${D[@]}" --log-json d1.jsonl --checkpoint-dir d1 -o d1.safetensors -q
    expect_rc 0 "lines with dropout, one process"
    mpi2 "$R" "${L[@]}" "${D[@]}" --log-json d2.jsonl --checkpoint-dir d2 -o d2.safetensors -q
    expect_rc 0 "lines with dropout, two ranks"
    same_log d1.jsonl d2.jsonl 1e-5 "lm lines with dropout"
    same_weights d1.safetensors d2.safetensors 1e-4 "lm lines with dropout"
}

# --patience: every rank has the same validation figure, so two ranks stop at the step one process stops
# at, with one line (rank 0's). The rate is high enough for the figures to part by about 1e-5 (the sums'
# rounding, grown), against gaps between validations of 1e-2: the steps must agree, not the bits.
case_patience() {
    need_mpi || return
    text
    local P=("${LM[@]}" --learning-rate 0.05 --eval-every 5 --patience 2 --max-steps 300 --checkpoint-every 0 -q)
    run "$R" "${P[@]}" --log-json one.jsonl --checkpoint-dir c1 -o one.safetensors
    expect_rc 0 "--patience 2, one process"
    local line; line=$(grep 'no better validation loss in 2 evaluations' "$tmp/err")
    [ -n "$line" ] || { fail "one process: no --patience line"; cat "$tmp/err" >&2; return; }
    mpi2 "$R" "${P[@]}" --log-json two.jsonl --checkpoint-dir c2 -o two.safetensors
    expect_rc 0 "--patience 2, two ranks"
    [ "$(grep -c '^rnnhost:' "$tmp/err")" -eq 1 ] || { fail "not one line from two ranks"; cat "$tmp/err" >&2; }
    expect_in "$tmp/err" "${line%% (best*}" "two ranks stop where one process stops"
    "$PY" - one.jsonl two.jsonl <<'EOF' || fail "--patience: two ranks logged other steps than one process"
import json, sys
a, b = ([(x["type"], x["step"]) for x in map(json.loads, open(p))] for p in sys.argv[1:])
assert a == b and len(a) > 20, (a[-3:], b[-3:])
EOF
    [ -f two.safetensors ] || fail "--patience, two ranks: no model"
}

case_ctc() {
    need_mpi || return
    "$PY" "$SOURCE_ROOT/tests/asr/make_tones.py" data --count 120 >/dev/null || { fail "make_tones.py"; return; }
    # every augmentation on: each utterance's draws must not depend on which rank makes it
    local C=(train --task ctc --manifest data/train.tsv --val-manifest data/test.tsv --units words --sample-rate 8000
        --rnn-size 32 --num-layers 1 --bidirectional --batch-size 8 --learning-rate 0.01 --threads 1 -q
        --max-steps 40 --augment-noise 10 --augment-speed 1.1 --augment-mask 1 --augment-warp 0.1
        --augment-reverb 0.5)
    run "$R" "${C[@]}" --log-json one.jsonl --checkpoint-dir c1 -o one.safetensors
    expect_rc 0 "one process"
    mpi2 "$R" "${C[@]}" --log-json two.jsonl --checkpoint-dir c2 -o two.safetensors
    expect_rc 0 "two ranks"
    same_log one.jsonl two.jsonl 1e-4 "ctc"
    same_weights one.safetensors two.safetensors 1e-3 "ctc"
    run "$R" eval -m two.safetensors --manifest data/test.tsv
    expect_rc 0 "the two ranks' model evaluates"
}

# classify and tag (with both dropouts; the tagger spelled, with word dropout): two ranks follow one process
# over 40 steps, and the model the two ranks write evaluates.
case_classify() {
    need_mpi || return
    "$PY" "$SOURCE_ROOT/tests/classify/make_data.py" . || { fail "make_data.py"; return; }
    local task data val words
    for task in classify tag; do
        [ "$task" = classify ] && data=contains.tsv val=contains_val.tsv words=() ||
            data=tag.txt val=tag_val.txt words=(--spelling 4 --word-dropout 0.2)
        local C=(train --task "$task" --data "$data" --val-data "$val" --rnn-size 16 --batch-size 8 --eval-every 10
            --max-steps 40 --dropout 0.2 --recurrent-dropout 0.2 "${words[@]}" --threads 1 -q)
        run "$R" "${C[@]}" --log-json "$task-1.jsonl" --checkpoint-dir "$task-c1" -o "$task-1.safetensors"
        expect_rc 0 "$task, one process"
        mpi2 "$R" "${C[@]}" --log-json "$task-2.jsonl" --checkpoint-dir "$task-c2" -o "$task-2.safetensors"
        expect_rc 0 "$task, two ranks"
        same_log "$task-1.jsonl" "$task-2.jsonl" 1e-4 "$task"
        same_weights "$task-1.safetensors" "$task-2.safetensors" 1e-4 "$task"
        run "$R" eval -m "./$task-2.safetensors" --data "$val"
        expect_rc 0 "the two ranks' $task model evaluates"
    done
}

case_resume() {
    need_mpi || return
    text
    mpi2 "$R" "${LM[@]}" --max-steps 40 --checkpoint-dir a -o straight.safetensors -q
    expect_rc 0 "40 steps on two ranks"
    mpi2 "$R" "${LM[@]}" --max-steps 20 --checkpoint-dir b -o half.safetensors -q
    expect_rc 0 "20 steps on two ranks"
    local ck; ck=$(ls b/lm_step0000020_*.safetensors 2>/dev/null)
    [ -n "$ck" ] || { fail "no checkpoint at step 20"; return; }
    mpi2 "$R" train --data t.txt --resume "$ck" --max-steps 40 --threads 1 --checkpoint-dir b -q -o resumed.safetensors
    expect_rc 0 "resumed on two ranks"
    cmp -s straight.safetensors resumed.safetensors || fail "resumed on two ranks differs from the straight run"
    # the batch order is global: one process continues the same training
    run "$R" train --data t.txt --resume "$ck" --max-steps 40 --threads 1 --checkpoint-dir c -q -o one.safetensors
    expect_rc 0 "resumed in one process"
    same_weights straight.safetensors one.safetensors 1e-4 "resumed in one process"
}

case_interrupt() {
    need_mpi || return
    text
    # mpirun passes Ctrl-C on to the ranks as SIGTERM after odls_base_sigkill_timeout seconds, and kills
    # them as many seconds later: 5 leaves the ranks time to agree on a step and write the checkpoint
    "$MPIRUN" --oversubscribe -np 2 --mca odls_base_sigkill_timeout 5 "$R" "${LM[@]}" --max-steps 1000000 \
        --checkpoint-dir ck -o m.safetensors -q >out.txt 2>err.txt &
    local pid=$!
    sleep 3
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    [ "$rc" -ne 0 ] || fail "Ctrl-C: mpirun exit code 0"
    [ "$(grep -c 'interrupted at step' err.txt)" -eq 1 ] || { fail "not one 'interrupted' line"; cat err.txt >&2; }
    local step ck
    step=$(sed -n 's/.*interrupted at step \([0-9]*\);.*/\1/p' err.txt)
    ck=$(sed -n 's/.*continue with --resume \(.*\))$/\1/p' err.txt)
    [ -n "$ck" ] && [ -f "$ck" ] || { fail "the checkpoint the line names is not there"; return; }
    case $ck in *"step$(printf %07d "$step")"*) ;; *) fail "checkpoint $ck is not of step $step" ;; esac
    mpi2 "$R" train --data t.txt --resume "$ck" --max-steps $((step + 5)) --threads 1 --checkpoint-dir ck -q \
        -o m.safetensors
    expect_rc 0 "resume after Ctrl-C"
}

case_killed_rank() {
    need_mpi || return
    text
    "$MPIRUN" --oversubscribe -np 2 "$R" "${LM[@]}" --max-steps 1000000 --checkpoint-dir ck -o m.safetensors -q \
        >out.txt 2>err.txt &
    local pid=$! i victim=
    sleep 3
    victim=$(pgrep -P "$pid" | tail -n 1)
    [ -n "$victim" ] || { fail "no rank to kill"; kill "$pid"; wait "$pid"; return; }
    kill -KILL "$victim"
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { fail "the other rank did not stop within 20 s"; kill -KILL "$pid"; }
    wait "$pid"
    rc=$?
    [ "$rc" -ne 0 ] || fail "a killed rank: exit code 0"
    expect_in err.txt "exited on signal 9" "the launcher says which rank died"
    local ck; ck=$(ls ck/lm_step*.safetensors 2>/dev/null | tail -n 1)
    [ -n "$ck" ] || { fail "no checkpoint"; return; }
    local step; step=$(sed 's/.*_step0*\([0-9]*\).*/\1/' <<<"$ck")
    mpi2 "$R" train --data t.txt --resume "$ck" --max-steps $((step + 5)) --threads 1 --checkpoint-dir ck -q \
        -o m.safetensors
    expect_rc 0 "the last checkpoint resumes"
    run "$R" score -m "$ck" t.txt
    expect_rc 0 "the last checkpoint is whole"
}

case_options_differ() {
    need_mpi || return
    text
    # two programs in one job (MPMD) with a different learning rate: refused before the first step
    run "$MPIRUN" --oversubscribe -np 1 "$R" "${LM[@]}" --max-steps 40 --checkpoint-dir ck -q -o m.safetensors \
        : -np 1 "$R" "${LM[@]}" --max-steps 40 --checkpoint-dir ck -q -o m.safetensors --learning-rate 0.01
    [ "$rc" -ne 0 ] || fail "ranks with other options: exit code 0"
    expect_in "$tmp/err" "rank 1 was started with other options than rank 0" "the ranks' options compared"
    [ "$(grep -c '^rnnhost:' "$tmp/err")" -eq 1 ] || fail "not one line from two ranks"
    [ ! -e m.safetensors ] || fail "a refused run wrote its model"
}

case_usage() {
    need_mpi || return
    text
    mpi2 "$R" train --data t.txt --batch-size 1 --max-steps 1 -q -o m.safetensors
    expect_rc 2 "a batch smaller than the ranks"
    expect_in "$tmp/err" "--batch-size 1 cannot be shared by 2 ranks" "a batch smaller than the ranks"
    [ "$(grep -c '^rnnhost:' "$tmp/err")" -eq 1 ] || fail "not one line from two ranks"
    [ ! -e m.safetensors ] || fail "a refused run wrote its model"
}

# A build without MPI under mpirun: each rank says so in one line, nothing is written.
case_without_mpi() {
    [ -n "${MPIRUN:-}" ] || { fail "no mpirun"; return; }
    text
    mpi2 "$R" train --data t.txt --max-steps 1 -q -o m.safetensors
    [ "$rc" -ne 0 ] || fail "a build without MPI trained under mpirun"
    [ "$(grep -c 'built without MPI' "$tmp/err")" -eq 2 ] || fail "not one line from each rank"
    [ ! -e m.safetensors ] || fail "a refused run wrote its model"
}

finish "$1"
