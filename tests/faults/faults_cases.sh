#!/usr/bin/env bash
# Files and faults, one case per meson test: faults_cases.sh CASE. Training killed with SIGKILL at random
# moments, a disk that fills up part-way through a write, an output folder that cannot exist, and SIGINT
# or SIGTERM during every long-running command. The environment gives $RNNHOST, $PYTHON3 and
# $SOURCE_ROOT. Exit 0 pass, 1 fail.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cases.sh"
R=${RNNHOST:?}
PY=${PYTHON3:-python3}
src=${SOURCE_ROOT:-$here/../..}
midi_ok() { "$PY" "$src/tests/play/midi_messages.py" "$1" >"$1.txt" 2>/dev/null && [ -s "$1.txt" ]; }
no_temps() { # DIR WHAT
    local t
    t=$(find "$1" -name '*.tmp.*' 2>/dev/null)
    [ -z "$t" ] || fail "$2: temporary files left: $t"
}

small=(--rnn-size 24 --num-layers 2 --seq-length 16 --batch-size 6 --threads 1 --eval-every 0 --quiet)
ckpt_re='^lm_step[0-9]{7}\.safetensors$'
newest_step() { # DIR: the step of the newest checkpoint, 0 without one
    local f
    f=$(ls "$1" 2>/dev/null | grep -E "$ckpt_re" | tail -n 1)
    [ -n "$f" ] && echo $((10#${f:7:7})) || echo 0
}

# Waits (up to 20 s) for a file to exist and be non-empty; a glob is allowed.
wait_for() {
    local i f
    for i in $(seq 200); do
        for f in $1; do [ -s "$f" ] && return 0; done
        sleep 0.1
    done
    return 1
}

# SIGKILL at random moments, ROUNDS times (default 50). After every kill each checkpoint on disk loads
# and at most one temporary file (the write the kill cut short) is there; the next run resumes from
# the newest checkpoint. FAULTS_SEED=N replays one sequence of delays. At the end the killed-and-resumed
# training equals the same training run straight through, bit for bit.
case_sigkill() {
    local rounds=${FAULTS_ROUNDS:-50}
    "$PY" "$src/tests/lm/make_corpus.py" . || { fail "make_corpus.py"; return; }
    local seed=${FAULTS_SEED:-$(((RANDOM << 15) | RANDOM))}
    echo "sigkill: seed $seed (FAULTS_SEED=$seed replays these delays)"
    RANDOM=$seed
    local o=("${small[@]}" --data corpus.txt --checkpoint-every 3 --checkpoint-dir ck)
    local -A checked=()
    local good=0 in_write=0 newest=0 round f key n rc resume pid ms bad
    # How long this build takes from launch to its first checkpoint (a sanitizer build is much slower), so
    # the kills spread over start-up and a good stretch of training alike.
    local t0 startup i
    t0=$(date +%s%N)
    "$R" train "${o[@]}" --checkpoint-dir calib --max-steps 100000000 -o never.safetensors 2>/dev/null &
    pid=$!
    for i in $(seq 2000); do
        ls calib 2>/dev/null | grep -qE "$ckpt_re" && break
        sleep 0.005
    done
    startup=$((($(date +%s%N) - t0) / 1000000))
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    rm -rf calib
    echo "sigkill: $startup ms from launch to the first checkpoint; kills come 1 to $((startup + 120)) ms after launch"
    for round in $(seq "$rounds"); do
        bad=$fails
        resume=()
        [ "$newest" -gt 0 ] && resume=(--resume "ck/$(printf 'lm_step%07d' "$newest").safetensors")
        "$R" train "${o[@]}" "${resume[@]}" --max-steps 100000000 --log-json "log$round.jsonl" \
            -o never.safetensors 2>"err$round" &
        pid=$!
        # mostly inside the training loop (half of it spent writing checkpoints), sometimes at start-up
        ms=$((RANDOM % (startup + 120) + 1))
        sleep "$(printf '0.%03d' "$ms")"
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
        rc=$?
        [ "$rc" -eq 137 ] || { fail "round $round: exit $rc, not killed (137)"; sed 's/^/  | /' "err$round" >&2; }
        # every file named as a checkpoint is a whole one; files unchanged since a check are not re-read
        for f in ck/*.safetensors; do
            [ -e "$f" ] || continue
            key=$(stat -c '%i %s %Y' "$f")
            [ "${checked[$f]:-}" = "$key" ] && continue
            if "$R" sample -m "./$f" -n 10 >/dev/null 2>"$tmp/err"; then
                checked[$f]=$key
            else
                fail "round $round (kill after $ms ms): $f does not load: $(head -n 1 "$tmp/err")"
            fi
        done
        n=$(find ck -name '*.tmp.*' | wc -l)
        [ "$n" -le 1 ] || fail "round $round: $n temporary files pile up in ck"
        [ "$n" -eq 1 ] && in_write=$((in_write + 1))
        n=$(newest_step ck)
        [ "$n" -ge "$newest" ] || fail "round $round: the newest checkpoint went back from step $newest to $n"
        # the resumed run went on from the newest checkpoint: its first logged step is the next one (a line
        # the kill cut short does not count)
        f=$(head -n 1 "log$round.jsonl" 2>/dev/null)
        if [ "$newest" -gt 0 ] && [ -f "log$round.jsonl" ] && [ "$(wc -l <"log$round.jsonl")" -ge 1 ]; then
            case $f in *"\"step\":$((newest + 1)),"*) ;; *) fail "round $round: resumed from $newest but logged '$f'" ;; esac
        fi
        newest=$n
        # keep the folder small: the newest two stay for the next rounds' checks, older ones were checked
        ls ck | grep -E "$ckpt_re" | head -n -2 | while read -r f; do rm -f "ck/$f"; done
        [ "$fails" -eq "$bad" ] && good=$((good + 1))
    done
    [ "$newest" -gt 0 ] || fail "no checkpoint was ever written"
    echo "sigkill: $good of $rounds kills left every checkpoint loadable and the newest resumable" \
        "($in_write cut a checkpoint write short; the last checkpoint is step $newest)"
    [ "$good" -eq "$rounds" ] || return
    # one more resume to a fixed end, and the same training without kills: the same bytes
    local end=$((newest + 7))
    run "$R" train "${o[@]}" --resume "ck/$(printf 'lm_step%07d' "$newest").safetensors" --max-steps "$end" -o resumed.safetensors
    expect_rc 0 "the last resume to step $end"
    no_temps ck "after a finished resume"
    run "$R" train "${small[@]}" --data corpus.txt --checkpoint-every 0 --checkpoint-dir straight \
        --max-steps "$end" -o straight.safetensors
    expect_rc 0 "the same $end steps straight"
    cmp -s resumed.safetensors straight.safetensors ||
        fail "$rounds kills and resumes ended with other weights than $end steps straight"
}

# The full-disk body runs in $FAULTS_WORK, either inside a user+mount namespace whose disk/ is a small
# tmpfs (FAULTS_MECH=tmpfs), or with writes capped by RLIMIT_FSIZE and SIGXFSZ ignored so write() fails
# with EFBIG (FAULTS_MECH=fsize, the fallback where namespaces are not allowed).
limit_kb=0
leave_free() { # KB: what a limited command may still write on disk/
    if [ "$FAULTS_MECH" = tmpfs ]; then
        rm -f disk/filler
        head -c 64M /dev/zero >disk/filler 2>/dev/null
        [ "$1" -gt 0 ] && truncate -s "-$1K" disk/filler
    fi
    limit_kb=$1
}
limited() {
    if [ "$FAULTS_MECH" = tmpfs ]; then
        run "$@"
    else
        # stderr through a pipe: the cap would stop the error message itself on its way to a file
        { bash -c 'trap "" XFSZ; ulimit -f "$0"; exec "$@"' "$limit_kb" "$@" 2>&1 >"$tmp/out" | cat >"$tmp/err"; }
        rc=${PIPESTATUS[0]}
    fi
}
one_line() { # WHAT
    local n
    n=$(wc -l <"$tmp/err")
    [ "$n" -eq 1 ] || { fail "$1: $n lines on stderr, expected one"; sed 's/^/  | /' "$tmp/err" >&2; }
    echo "$1: $(head -n 1 "$tmp/err")"
    grep -qE "No space left on device|File too large" "$tmp/err" ||
        fail "$1: the error does not say the disk is full: $(head -n 1 "$tmp/err")"
}

case_full_disk_body() {
    cd "$FAULTS_WORK" || exit 1
    # training: the checkpoint at step 15 does not fit; the one at step 10 stays whole
    cp corpus.txt disk/ && cp -r ck disk/ || fail "copy the fixtures onto disk/"
    cp disk/ck/lm_step0000010.safetensors before.safetensors
    leave_free 40
    limited "$R" train "${small[@]}" --data disk/corpus.txt --checkpoint-dir disk/ck --checkpoint-every 5 \
        --resume disk/ck/lm_step0000010.safetensors --max-steps 20 -o disk/m.safetensors
    expect_rc 1 "training on a full disk"
    one_line "training on a full disk"
    expect_in "$tmp/err" "lm_step0000015" "the error names the checkpoint"
    cmp -s before.safetensors disk/ck/lm_step0000010.safetensors || fail "the previous checkpoint changed"
    run "$R" sample -m ./disk/ck/lm_step0000010.safetensors -n 10
    expect_rc 0 "the previous checkpoint loads"
    [ -e disk/ck/lm_step0000015.safetensors ] && fail "a checkpoint that did not fit is there"
    [ -e disk/m.safetensors ] && fail "a failed training wrote its model"
    no_temps disk "training on a full disk"

    # transcription: an earlier output stays as it was
    rm -f disk/filler
    cp digits.json disk/out.json
    leave_free 0
    limited "$R" transcribe -m digits -q -f json -o disk/out.json "$src/presets/digits-example.wav"
    expect_rc 1 "transcription onto a full disk"
    one_line "transcription onto a full disk"
    cmp -s digits.json disk/out.json || fail "the earlier transcription changed"
    no_temps disk "transcription on a full disk"

    # generation: a long piece, cut off part-way through the file
    rm -f disk/filler
    cp g.mid disk/g.mid
    leave_free 8
    limited "$R" generate -m folk -o disk/g.mid --length 3000 --seed 2
    expect_rc 1 "generation onto a full disk"
    one_line "generation onto a full disk"
    cmp -s g.mid disk/g.mid || fail "the earlier MIDI file changed"
    no_temps disk "generation on a full disk"

    # sampling to a file
    leave_free 8
    limited "$R" sample -m dinos -n 100000 -o disk/s.txt
    expect_rc 1 "sampling onto a full disk"
    one_line "sampling onto a full disk"
    [ -e disk/s.txt ] && fail "a failed sample left its file"
    no_temps disk "sampling on a full disk"
    rm -f disk/filler
}

full_disk() { # MECH: tmpfs, or fsize; auto: tmpfs where this machine allows it
    local mech=$1
    "$PY" "$src/tests/lm/make_corpus.py" . || { fail "make_corpus.py"; return; }
    run "$R" train "${small[@]}" --data corpus.txt --checkpoint-dir ck --max-steps 10 -o m0.safetensors
    expect_rc 0 "10 steps before the disk fills"
    "$R" transcribe -m digits -q -f json -o digits.json "$src/presets/digits-example.wav" || fail "transcribe"
    "$R" generate -m folk -o g.mid --length 100 2>/dev/null || fail "generate"
    mkdir disk
    if [ "$mech" = auto ]; then
        mech=fsize
        unshare -rm sh -c 'mount -t tmpfs -o size=64k tmpfs "$0"' "$tmp/disk" 2>/dev/null && mech=tmpfs
    fi
    echo "full disk: $mech"
    local body=(env FAULTS_WORK="$tmp" FAULTS_MECH="$mech" bash "$here/faults_cases.sh" full-disk-body)
    if [ "$mech" = tmpfs ]; then
        unshare -rm sh -c 'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"' "$tmp/disk" "${body[@]}" ||
            fail "the full-disk cases on a 1 MB tmpfs"
    else
        "${body[@]}" || fail "the full-disk cases with RLIMIT_FSIZE"
    fi
}
case_full_disk() { full_disk auto; }
# The fallback on every machine, so it cannot rot where namespaces happen to work.
case_full_disk_fsize() { full_disk fsize; }

# An output folder that cannot be made (a path under a regular file: ENOTDIR, which holds as root too).
case_unwritable() {
    "$PY" "$src/tests/lm/make_corpus.py" . || { fail "make_corpus.py"; return; }
    touch file
    run "$R" train "${small[@]}" --data corpus.txt --checkpoint-dir file/ck --max-steps 5 -o m.safetensors
    expect_rc 1 "a checkpoint folder under a file"
    expect_in "$tmp/err" "Not a directory" "checkpoint folder error"
    run "$R" train "${small[@]}" --data corpus.txt --checkpoint-dir ck --max-steps 6 --checkpoint-every 3 \
        -o file/m.safetensors
    expect_rc 1 "a model path under a file"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "model path under a file: not one line: $(cat "$tmp/err")"
    expect_in "$tmp/err" "Not a directory" "model path error"
    run "$R" sample -m ./ck/lm_step0000006.safetensors -n 10
    expect_rc 0 "the checkpoints written before the failure load"
    local what
    for what in "transcribe -m digits -q -f json -o file/x.json $src/presets/digits-example.wav" \
        "generate -m folk --length 50 -o file/x.mid" "sample -m dinos -n 50 -o file/x.txt"; do
        run "$R" $what
        expect_rc 1 "${what%% *} into a path under a file"
        [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "${what%% *}: not one line: $(cat "$tmp/err")"
        expect_in "$tmp/err" "Not a directory" "${what%% *} error"
    done
    [ -z "$(ls -A . | grep -v -e '^file$' -e '^ck$' -e '\.txt$' -e '^out$' -e '^err$')" ] || fail "stray files: $(ls -A)"

    # a transcription that could not be written is not reported as done
    local ex=$src/presets/digits-example.wav
    run "$R" transcribe -m digits -f json -o file/x.json "$ex"
    expect_rc 1 "transcribe, its output unwritable"
    expect_in "$tmp/err" "| 1 not written" "the progress line counts the file not written"
    expect_in "$tmp/err" "1 of 1 files could not be written" "the last line says what failed"
    # one output of two unwritable (a folder where b's transcript belongs): the batch partly failed
    mkdir -p batch/out/b.txt
    cp "$ex" batch/a.wav
    cp "$ex" batch/b.wav
    run "$R" transcribe -m digits --output-dir batch/out --summary batch/summary.json batch/a.wav batch/b.wav
    expect_rc 4 "a batch with one output unwritable"
    expect_in "$tmp/err" "batch/out/b.txt: cannot write" "the output that failed is named"
    expect_in "$tmp/err" "1 of 2 files could not be written (the others are written)" "the last line"
    [ -s batch/out/a.txt ] || fail "the writable output of the batch is missing"
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["transcribed"] == 1 and d["not_written"] == 1 \
and [f["file"] for f in d["failed"]] == ["batch/b.wav"], d' batch/summary.json || fail "the summary does not name b.wav"
    # standard output on a full device: said once, not once per file
    "$R" transcribe -m digits -q -f jsonl -o - "$ex" "$ex" "$ex" >/dev/full 2>"$tmp/err"
    rc=$?
    expect_rc 1 "transcripts onto a full device"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "a full standard output: not one line: $(cat "$tmp/err")"
    expect_in "$tmp/err" "standard output: cannot write" "a full standard output is named"
}

# Output paths: every command that writes a file follows one rule. A link is written through (it stays a
# link, its target gets the content atomically); '-', /dev/stdout and a FIFO are streamed, never replaced.
# write_with CMD OUT runs CMD writing its output to OUT (run: stdout in $tmp/out); the outputs of
# out_cmds are the same bytes every time, so each path's content is compared with a plain file's
# (pianoroll draws generate's, so generate comes first).
out_cmds=(generate transcribe pianoroll export features sample)
write_with() { # CMD OUT
    local ex=$src/presets/digits-example.wav
    case $1 in
    generate) run "$R" generate -m folk --length 60 --seed 3 -o "$2" ;;
    transcribe) run "$R" transcribe -m digits -q -f json -o "$2" "$ex" ;;
    pianoroll) run "$R" pianoroll plain/generate -o "$2" --format svg ;; # generate's plain output
    export) run "$R" export dinos -o "$2" --dtype f16 ;;
    features) run "$R" features "$ex" -o "$2" --format pgm ;;
    sample) run "$R" sample -m dinos -n 300 --seed 4 -o "$2" ;;
    esac
}
plain_outputs() {
    local c
    mkdir -p plain
    for c in "${out_cmds[@]}"; do
        write_with "$c" "plain/$c"
        expect_rc 0 "$c into a plain file"
        [ -s "plain/$c" ] || fail "$c wrote nothing into plain/$c"
    done
}

case_output_links() {
    plain_outputs
    mkdir real links
    local c
    for c in "${out_cmds[@]}"; do
        # a link whose target does not exist yet, relative to the link's own folder
        ln -s "../real/$c" "links/$c"
        write_with "$c" "links/$c"
        expect_rc 0 "$c -o through a link to a new file"
        [ -L "links/$c" ] || fail "$c -o replaced the link with a file"
        cmp -s "real/$c" "plain/$c" || fail "$c -o through a link: its target does not hold the output"
        # a chain of two links onto an existing file, whose mode is kept
        echo old >"real/$c"
        chmod 600 "real/$c"
        ln -s "$c" "links/$c.chain"
        write_with "$c" "links/$c.chain"
        expect_rc 0 "$c -o through two links"
        [ -L "links/$c.chain" ] && [ -L "links/$c" ] || fail "$c -o replaced a link of the chain"
        cmp -s "real/$c" "plain/$c" || fail "$c -o through two links: the file at the end does not hold the output"
        [ "$(stat -c %a "real/$c")" = 600 ] || fail "$c -o through a link: the target's mode changed"
    done
    # the outputs whose content differs run to run: a model, a log, a record, a summary
    "$PY" "$src/tests/lm/make_corpus.py" . || { fail "make_corpus.py"; return; }
    ln -s ../real/m.safetensors links/m.safetensors
    ln -s ../real/log.jsonl links/log.jsonl
    run "$R" train "${small[@]}" --data corpus.txt --max-steps 4 --checkpoint-dir ck -o links/m.safetensors \
        --log-json links/log.jsonl
    expect_rc 0 "train -o and --log-json through links"
    [ -L links/m.safetensors ] && [ -L links/log.jsonl ] || fail "train replaced a link"
    run "$R" sample -m ./real/m.safetensors -n 5
    expect_rc 0 "the model written through a link loads"
    [ "$(grep -c '"step"' real/log.jsonl)" -ge 4 ] || fail "the log written through a link lacks its steps"
    ln -s ../real/r.mid links/r.mid
    run "$R" play -m folk --record links/r.mid --duration 0.3s
    expect_rc 0 "play --record through a link"
    [ -L links/r.mid ] && midi_ok real/r.mid || fail "play --record through a link"
    ln -s ../real/summary.json links/summary.json
    run "$R" transcribe -m digits -q --output-dir tx --summary links/summary.json "$src/presets/digits-example.wav"
    expect_rc 0 "transcribe --summary through a link"
    [ -L links/summary.json ] && "$PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))["files"] == 1' \
        real/summary.json || fail "transcribe --summary through a link"
    no_temps . "writing through links"
}

# Reads FIFO in the background into GOT for up to 30 s; $reader is its pid.
read_fifo() { # FIFO GOT
    timeout 30 cat "$1" >"$2" &
    reader=$!
}

case_output_streams() {
    plain_outputs
    local c kind before reader
    before=$(stat -c '%F %i' /dev/stdout)
    ln -s /dev/stdout to-stdout
    for c in "${out_cmds[@]}"; do
        for kind in - /dev/stdout /dev/fd/1 to-stdout; do
            write_with "$c" "$kind"
            expect_rc 0 "$c -o $kind"
            cmp -s "$tmp/out" "plain/$c" || fail "$c -o $kind: standard output does not hold the output"
        done
        [ "$(stat -c '%F %i' /dev/stdout)" = "$before" ] || fail "$c -o /dev/stdout replaced /dev/stdout"
        [ -L to-stdout ] || fail "$c -o to-stdout replaced the link"
        mkfifo "fifo.$c"
        read_fifo "fifo.$c" "got.$c"
        write_with "$c" "fifo.$c"
        expect_rc 0 "$c -o FIFO"
        wait "$reader" || fail "$c -o FIFO: the reader saw no end ($?)"
        [ -p "fifo.$c" ] || fail "$c -o FIFO replaced the FIFO with a file"
        cmp -s "got.$c" "plain/$c" || fail "$c -o FIFO: the reader did not get the output"
    done
    [ -e ./- ] && fail "a file named '-' was written"
    # several transcripts into one stream: one open and one end for the reader
    mkfifo fifo.jsonl
    read_fifo fifo.jsonl got.jsonl
    run "$R" transcribe -m digits -q -f jsonl -o fifo.jsonl "$src/presets/digits-example.wav" \
        "$src/presets/digits-example.wav"
    wait "$reader"
    [ "$(wc -l <got.jsonl)" -eq 2 ] || fail "transcribe -o FIFO with two inputs: $(wc -l <got.jsonl) lines"
    run "$R" play -m folk --record - --duration 0.3s
    expect_rc 0 "play --record -"
    [ "$(head -c 4 "$tmp/out")" = MThd ] || fail "play --record -: no MIDI file on standard output"
    run "$R" play -m folk --record - --json --duration 0.3s
    expect_rc 2 "play --record - with --json"
    run "$R" generate -m folk -o - --wav -
    expect_rc 2 "generate -o - --wav -"
    # a model is a file: train refuses a stream for -o, but its log may be one
    "$PY" "$src/tests/lm/make_corpus.py" . || { fail "make_corpus.py"; return; }
    for kind in - /dev/stdout fifo.generate; do
        run "$R" train "${small[@]}" --data corpus.txt --max-steps 2 -o "$kind"
        expect_rc 2 "train -o $kind"
    done
    run "$R" train "${small[@]}" --data corpus.txt --max-steps 3 --checkpoint-dir ck -o m.safetensors --log-json -
    expect_rc 0 "train --log-json -"
    [ "$(grep -c '"step"' "$tmp/out")" -ge 3 ] || fail "train --log-json -: the steps are not on standard output"
    [ -e ./- ] && fail "a file named '-' was written"
    no_temps . "streams"
}

# Sends SIG to PID, waits, and checks exit code 130.
stop_with() { # SIG PID WHAT
    kill "-$1" "$2"
    wait "$2"
    rc=$?
    [ "$rc" -eq 130 ] || { fail "$3 ($1): exit code $rc, expected 130"; sed 's/^/  | /' "$tmp/err" | head >&2; }
}

case_signal_train() {
    "$PY" "$src/tests/lm/make_corpus.py" . || { fail "make_corpus.py"; return; }
    local sig pid ck step
    for sig in INT TERM; do
        "$R" train "${small[@]}" --data corpus.txt --max-steps 100000000 --checkpoint-every 0 --checkpoint-dir "ck$sig" \
            --log-json "log$sig.jsonl" -o never.safetensors 2>"$tmp/err" &
        pid=$!
        wait_for "log$sig.jsonl" || fail "training wrote no log"
        sleep 0.2
        stop_with "$sig" "$pid" "training"
        expect_in "$tmp/err" "interrupted at step" "the interrupt message"
        "$PY" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "log$sig.jsonl" ||
            fail "$sig: the log is not one JSON object per line"
        ck=$(ls "ck$sig"/*.safetensors 2>/dev/null | tail -n 1)
        [ -n "$ck" ] || { fail "$sig: no checkpoint"; continue; }
        run "$R" sample -m "./$ck" -n 10
        expect_rc 0 "$sig: the checkpoint loads"
        step=$(newest_step "ck$sig")
        run "$R" train "${small[@]}" --data corpus.txt --checkpoint-dir "ck$sig" --resume "$ck" --max-steps $((step + 3)) \
            -o "m$sig.safetensors"
        expect_rc 0 "$sig: resume"
        no_temps "ck$sig" "$sig"
    done
    [ -e never.safetensors ] && fail "an interrupted training wrote its final model"
}

case_signal_train_ctc() {
    "$PY" "$src/tests/asr/make_tones.py" data --count 60 >/dev/null || { fail "make_tones.py"; return; }
    local pid ck
    "$R" train --task ctc --manifest data/train.tsv --units words --sample-rate 8000 --rnn-size 16 --num-layers 1 \
        --batch-size 8 --threads 1 --max-steps 100000 --checkpoint-dir ck --log-json log.jsonl -q \
        -o m.safetensors 2>"$tmp/err" &
    pid=$!
    wait_for log.jsonl || fail "ctc training wrote no log"
    sleep 0.2
    stop_with TERM "$pid" "ctc training"
    expect_in "$tmp/err" "interrupted at step" "the interrupt message"
    "$PY" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' log.jsonl || fail "the log is not JSON lines"
    ck=$(ls ck/ctc_step*.safetensors 2>/dev/null | tail -n 1)
    [ -n "$ck" ] || { fail "no checkpoint"; return; }
    run "$R" eval -m "$ck" --manifest data/test.tsv
    expect_rc 0 "the interrupt checkpoint is a usable model"
    no_temps ck "ctc"
}

case_signal_transcribe() {
    local want i pid sig
    want=$(cat "$src/presets/digits-example.txt")
    for sig in INT TERM; do
        rm -rf in tx
        mkdir in
        for i in $(seq -w 1 150); do ln -s "$src/presets/digits-example.wav" "in/c$i.wav"; done
        "$R" transcribe -m digits -j 1 -f json,txt --output-dir tx in 2>"$tmp/err" &
        pid=$!
        wait_for "tx/*.json" || fail "$sig: no output appeared"
        stop_with "$sig" "$pid" "transcription"
        local n
        n=$(ls tx/*.json 2>/dev/null | wc -l)
        [ "$n" -ge 1 ] && [ "$n" -lt 150 ] || fail "$sig: $n of 150 outputs (the stop came too late to test)"
        "$PY" - "$want" tx/*.json <<'PY' || fail "$sig: an output is partial or wrong"
import json, os, sys
want = sys.argv[1].strip()
for p in sys.argv[2:]:
    d = json.load(open(p))
    assert d["text"].strip() == want, (p, d["text"])
    assert open(p[:-5] + ".txt").read().strip() == want, p
PY
        no_temps tx "$sig"
    done
    run "$R" transcribe -m digits -j 1 -q -f json,txt --output-dir tx --skip-existing in
    expect_rc 0 "--skip-existing finishes the batch"
    [ "$(ls tx/*.json | wc -l)" -eq 150 ] || fail "after --skip-existing: $(ls tx/*.json | wc -l) of 150"
}

case_signal_generate() {
    local sig pid model
    for model in folk chorales; do
        for sig in INT TERM; do
            "$R" generate -m "$model" -o "$model$sig.mid" --length 1000000 2>"$tmp/err" &
            pid=$!
            sleep 1.5
            stop_with "$sig" "$pid" "generate -m $model"
            midi_ok "$model$sig.mid" || fail "$model $sig: the interrupted piece is not a MIDI file with notes"
            expect_in "$tmp/err" "interrupted" "the interrupt message"
        done
    done
    "$R" generate -m folk --num-outputs 1000 --output-dir many --length 150 2>"$tmp/err" &
    pid=$!
    wait_for many/gen_003.mid || fail "--num-outputs wrote nothing"
    stop_with TERM "$pid" "generate --num-outputs"
    local f n=0
    for f in many/gen_*.mid; do
        midi_ok "$f" || fail "$f is not a whole MIDI file"
        n=$((n + 1))
    done
    [ "$n" -ge 3 ] && [ "$n" -lt 1000 ] || fail "--num-outputs interrupted: $n files"
    no_temps . "generate"
}

case_signal_play() {
    local sig pid
    for sig in INT TERM; do
        "$R" play -m folk --record "r$sig.mid" --duration 60s >/dev/null 2>"$tmp/err" &
        pid=$!
        sleep 1.5
        stop_with "$sig" "$pid" "play --record"
        midi_ok "r$sig.mid" || fail "$sig: the record is not a MIDI file"
    done
    no_temps . "play"
}

case_signal_sample() {
    local sig pid
    for sig in INT TERM; do
        "$R" sample -m dinos -n 100000000000 >"out$sig.txt" 2>"$tmp/err" &
        pid=$!
        wait_for "out$sig.txt" || fail "sample wrote nothing"
        stop_with "$sig" "$pid" "sample to stdout"
        "$R" sample -m dinos -n 100000000000 -o "file$sig.txt" 2>"$tmp/err" &
        pid=$!
        wait_for "file$sig.txt.tmp.*" || fail "sample -o wrote nothing"
        stop_with "$sig" "$pid" "sample -o"
        for f in "out$sig.txt" "file$sig.txt"; do
            [ -s "$f" ] || { fail "$sig: $f is empty"; continue; }
            [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || fail "$sig: $f does not end its line"
            # dinos knows lower-case letters and the newline only
            LC_ALL=C grep -q '[^a-z]' "$f" && fail "$sig: $f holds a symbol the model cannot make"
        done
    done
    no_temps . "sample"
}

# watchdog PID: kills PID after 30 s unless stopped first with `kill $watchdog_pid`, which ends its sleep
# too, so nothing outlives the case.
watchdog() {
    (
        trap 'kill "$s" 2>/dev/null; exit 0' TERM
        sleep 30 &
        s=$!
        wait "$s"
        kill -KILL "$1" 2>/dev/null
    ) >/dev/null 2>&1 &
    watchdog_pid=$!
}

# score and eval stop between pieces of work: one line on stderr, nothing on stdout, exit 130.
interrupted_quietly() { # PID WHAT
    stop_with INT "$1" "$2"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "^rnnhost: interrupted" "$tmp/err" ||
        { fail "$2: not one line saying it was interrupted"; sed 's/^/  | /' "$tmp/err" >&2; }
    [ -s "$tmp/out" ] && fail "$2: printed figures after Ctrl-C: $(head -n 3 "$tmp/out")"
}

case_signal_score() {
    local pid
    # a text the shakespeare preset takes many seconds to score
    "$PY" -c "
import random
random.seed(1)
w = ['the', 'king', 'and', 'queen', 'of', 'love', 'my', 'lord']
print('\n'.join(' '.join(random.choice(w) for _ in range(10)) for _ in range(3000)))" >long.txt
    "$R" score -m shakespeare long.txt >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    sleep 1.5
    interrupted_quietly "$pid" "score"
    expect_in "$tmp/err" "long.txt is not scored" "score says what it did not do"
    "$R" score -m shakespeare --streams 4 - <long.txt >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    sleep 1.5
    interrupted_quietly "$pid" "score from stdin"
}

case_signal_eval() {
    local pid i
    # speech: a manifest of many copies of the example recording, one at a time: far more than can be done in
    # the time before the signal (400 took 1.7 s on one core: too close)
    for i in $(seq 4000); do printf '%s\tnine seven eight zero four zero\n' "$src/presets/digits-example.wav"; done >test.tsv
    "$R" eval -m digits --manifest test.tsv -j 1 >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    sleep 1.5
    interrupted_quietly "$pid" "eval --manifest"
    expect_in "$tmp/err" "test.tsv is not evaluated" "eval --manifest says what it did not do"
    # music: many links to a few generated pieces, scored by the event model
    "$R" generate -m folk --num-outputs 3 --length 60s --output-dir pieces 2>/dev/null || fail "generate the pieces"
    mkdir many
    for i in $(seq 100); do ln -s "../pieces/gen_00$((i % 3 + 1)).mid" "many/p$i.mid"; done
    "$R" eval -m folk --data many --streams 1 >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    sleep 1.5
    interrupted_quietly "$pid" "eval --data"
    expect_in "$tmp/err" "many is not evaluated" "eval --data says what it did not do"
}

# A command with nothing to stop cleanly still says it was interrupted: here blocked opening a FIFO that
# no one writes. One that stops cleanly but is stuck where it cannot look (transcribe's workers opening
# that FIFO) stops at once on a second signal.
case_signal_short() {
    local pid what
    mkfifo in.wav in.mid
    # a command that ignores the signal would wait on its FIFO for ever: it is killed after 30 s (exit 137)
    for what in "features in.wav -o x.npy" "pianoroll in.mid -o x.svg"; do
        "$R" $what >"$tmp/out" 2>"$tmp/err" &
        pid=$!
        watchdog "$pid"
        sleep 1
        interrupted_quietly "$pid" "${what%% *}"
        kill "$watchdog_pid" 2>/dev/null
    done
    "$R" transcribe -m digits -q in.wav >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    watchdog "$pid"
    sleep 1
    kill -INT "$pid"
    sleep 0.5
    interrupted_quietly "$pid" "transcribe stuck on a FIFO, a second Ctrl-C"
    kill "$watchdog_pid" 2>/dev/null
    [ -e x.npy ] || [ -e x.svg ] || [ -e in.txt ] && fail "an interrupted command wrote its output"
    no_temps . "short commands"
}

finish "${1:-}"
