#!/usr/bin/env bash
# rnnhost transcribe on two (and three) ranks, mpirun --oversubscribe on loopback, against one process:
# the same output files, the same stream and the same --summary, byte for byte but for the timings.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cases.sh"

R=$RNNHOST
PY=$PYTHON3
example=$SOURCE_ROOT/presets/digits-example.wav

# mpi N CMD...: CMD on N ranks, each rank's lines tagged ([job,rank]<stderr>:), as run gives them.
mpi() { local n=$1; shift; run "$MPIRUN" --oversubscribe --tag-output -np "$n" "$@"; }

# The cases that need ranks are listed (tests/mpi/meson.build) only in a build with MPI.
need_mpi() {
    [ "$RNNHOST_HAS_MPI" = 1 ] || { fail "this rnnhost is built without MPI"; return 1; }
    [ -n "$MPIRUN" ] || { fail "mpirun is not installed (.ci/install-deps installs openmpi-bin)"; return 1; }
}

# untag FILE: the text of every rank's lines without the launcher's tags.
untag() { sed -E 's/^\[[0-9]+,[0-9]+\]<std(out|err)>://' "$1"; }

# ranks_saying FILE STRING: the ranks whose stderr lines hold STRING, one per line, sorted.
ranks_saying() { grep -F -- "$2" "$1" | sed -nE 's/^\[[0-9]+,([0-9]+)\]<stderr>:.*/\1/p' | sort -n | tr '\n' ' '; }

# Eight recordings in a folder and a subfolder: the example, copies and pieces of it, so a block of files
# on each rank has recordings of different lengths.
recordings() {
    mkdir -p in/sub
    cp "$example" in/a.wav
    sox "$example" in/b.wav trim 0 1.5 || fail "sox"
    sox "$example" in/c.wav trim 1.0 || fail "sox"
    sox "$example" in/d.wav trim 0.4 1.9 || fail "sox"
    sox "$example" -r 16000 in/sub/e.wav || fail "sox"
    sox "$example" in/sub/f.wav trim 2.0 || fail "sox"
    cp "$example" in/sub/g.wav
    sox "$example" "$example" in/sub/h.wav || fail "sox"
}

# same_summary ONE TWO: the JSON summaries agree in everything but the timings (the audio's length is a
# sum of the files' in another order: the same to rounding).
same_summary() {
    "$PY" - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    for k in ("wall_seconds", "real_time_factor", "speed_vs_real_time", "rtf"):
        assert k in d, k
        del d[k]
assert abs(a.pop("audio_seconds") - b.pop("audio_seconds")) < 1e-9, "audio_seconds"
assert a == b, (a, b)
PY
}

case_transcribe_shards() {
    need_mpi || return
    recordings
    run "$R" transcribe -m digits -q -f txt,json --output-dir one --summary one.json in
    expect_rc 0 "one process"
    mpi 2 "$R" transcribe -m digits -f txt,json --output-dir two --summary two.json in
    expect_rc 0 "two ranks"
    [ "$(find one -type f | wc -l)" -eq 16 ] || fail "one process: expected 16 outputs, got $(find one -type f | wc -l)"
    diff -r one two >&2 || fail "two ranks wrote other outputs than one process"
    same_summary one.json two.json || fail "two ranks' --summary differs from one process's"
    "$PY" -c 'import json,sys; d=json.load(open("two.json")); assert d["files"]==8 and d["transcribed"]==8 and d["failed"]==[] and d["audio_seconds"]>20, d' ||
        fail "the summary of two ranks does not count every rank's files"
    # rank 0 alone says the last line, over all eight files
    [ "$(ranks_saying "$tmp/err" "8/8 files")" = "0 " ] ||
        fail "the last line ('8/8 files') is not said once, by rank 0: $(ranks_saying "$tmp/err" "8/8 files")"
    [ -z "$(find two -name '*.tmp.*')" ] || fail "temporary files left behind"

    # resuming under mpirun: the files left to do are shared, the others left alone
    rm two/b.txt two/b.json two/sub/f.json two/sub/h.txt
    touch -d '2001-01-01' two/a.txt
    mpi 3 "$R" transcribe -m digits -q -f txt,json --output-dir two --skip-existing --summary resume.json in
    expect_rc 0 "--skip-existing on three ranks"
    diff -r one two >&2 || fail "--skip-existing on three ranks did not write what was missing"
    [ "$(date -r two/a.txt +%Y)" = 2001 ] || fail "--skip-existing rewrote a finished file"
    "$PY" -c 'import json,sys; d=json.load(open("resume.json")); assert d["files"]==8 and d["skipped"]==5 and d["transcribed"]==3, d' ||
        fail "the resumed run's summary does not count 5 skipped and 3 transcribed"

    # outputs beside the inputs (no --output-dir), srt and vtt too
    cp -r in in1 && cp -r in in2
    run "$R" transcribe -m digits -q -f txt,srt,vtt in1
    expect_rc 0 "beside the inputs, one process"
    mpi 2 "$R" transcribe -m digits -q -f txt,srt,vtt in2
    expect_rc 0 "beside the inputs, two ranks"
    diff -r in1 in2 >&2 || fail "two ranks wrote other outputs beside the inputs than one process"
}

case_transcribe_corrupt() {
    need_mpi || return
    recordings
    head -c 3000 "$example" > in/sub/truncated.wav   # the 7th of 10 in order: rank 1's block
    printf 'RIFF\x10\x00\x00\x00WAVEjunkjunkjunk' > in/aa-garbage.wav   # the 2nd: rank 0's
    run "$R" transcribe -m digits -f txt,json --output-dir one --summary one.json in
    expect_rc 4 "one process, two bad files"
    mpi 2 "$R" transcribe -m digits -f txt,json --output-dir two --summary two.json in
    expect_rc 4 "two ranks, two bad files"
    diff -r one two >&2 || fail "two ranks wrote other outputs than one process"
    [ "$(find two -type f | wc -l)" -eq 16 ] || fail "expected the 8 good files' 16 outputs, got $(find two -type f | wc -l)"
    [ ! -e two/sub/truncated.txt ] && [ ! -e two/aa-garbage.json ] || fail "a failed file left an output behind"
    same_summary one.json two.json || fail "two ranks' --summary differs from one process's"
    "$PY" - two.json <<'PY' || fail "the summary does not list both failures, in input order"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["files"] == 10 and d["transcribed"] == 8 and d["not_written"] == 0, d
assert [f["file"] for f in d["failed"]] == ["in/aa-garbage.wav", "in/sub/truncated.wav"], d["failed"]
assert "truncated" in d["failed"][1]["error"], d["failed"]
PY
    # each failure said once, by the rank whose block held it; the last lines by rank 0 alone
    [ "$(ranks_saying "$tmp/err" "in/sub/truncated.wav: truncated")" = "1 " ] ||
        fail "the truncated file is not reported once, by rank 1: ranks '$(ranks_saying "$tmp/err" "in/sub/truncated.wav:")'"
    [ "$(ranks_saying "$tmp/err" "in/aa-garbage.wav:")" = "0 " ] ||
        fail "the garbage file is not reported once, by rank 0: ranks '$(ranks_saying "$tmp/err" "in/aa-garbage.wav:")'"
    [ "$(ranks_saying "$tmp/err" "2 of 10 files could not be transcribed (the others are written)")" = "0 " ] ||
        fail "the closing line is not said once, by rank 0"
    [ "$(ranks_saying "$tmp/err" "10/10 files")" = "0 " ] || fail "the last progress line is not rank 0's, over all files"
    expect_in "$tmp/err" "| 2 failed" "the last progress line counts both ranks' failures"

    # every file bad: exit 1 on every rank, as one process
    mkdir bad && cp in/sub/truncated.wav bad/1.wav && cp in/aa-garbage.wav bad/2.wav && cp bad/1.wav bad/3.wav
    mpi 2 "$R" transcribe -m digits -q --output-dir bad-out bad
    expect_rc 1 "two ranks, no file could be transcribed"
}

case_transcribe_stdout() {
    need_mpi || return
    recordings
    head -c 3000 "$example" > in/sub/truncated.wav
    # -o -: rank 0 writes the stream, the other ranks' transcripts after its own, in input order
    for f in jsonl txt; do
        run "$R" transcribe -m digits -q -f "$f" -o - in
        expect_rc 4 "-o - -f $f, one process"
        cp "$tmp/out" one.$f
        for n in 2 3; do
            run "$MPIRUN" --oversubscribe -np $n "$R" transcribe -m digits -q -f "$f" -o - in
            expect_rc 4 "-o - -f $f, $n ranks"
            cmp one.$f "$tmp/out" || {
                fail "-o - -f $f: $n ranks print other bytes than one process"
                diff one.$f "$tmp/out" | head -n 6 | cut -c 1-300 >&2
                sed 's/^/  stderr: /' "$tmp/err" | head -n 10 >&2
            }
        done
    done
    [ "$(wc -l < one.jsonl)" -eq 9 ] || fail "-o - -f jsonl: expected 9 lines (8 and an error), got $(wc -l < one.jsonl)"
    # /dev/stdout is the same stream
    run "$MPIRUN" --oversubscribe -np 2 "$R" transcribe -m digits -q -f jsonl -o /dev/stdout in
    expect_rc 4 "-o /dev/stdout, two ranks"
    cmp one.jsonl "$tmp/out" || {
        fail "-o /dev/stdout: two ranks print other bytes than one process"
        diff one.jsonl "$tmp/out" | head -n 6 | cut -c 1-300 >&2
    }
    # a FIFO, opened by rank 0 alone: its reader sees every transcript, then one end
    mkfifo fifo
    cat fifo > fifo.jsonl &
    run "$MPIRUN" --oversubscribe -np 2 "$R" transcribe -m digits -q -f jsonl -o fifo in
    expect_rc 4 "-o FIFO, two ranks"
    wait
    cmp one.jsonl fifo.jsonl || {
        fail "-o FIFO: two ranks wrote other bytes than one process"
        diff one.jsonl fifo.jsonl | head -n 6 | cut -c 1-300 >&2
    }

    # --summary -: once, on standard output
    run "$MPIRUN" --oversubscribe -np 2 "$R" transcribe -m digits -q --output-dir o --summary - in
    expect_rc 4 "--summary -, two ranks"
    "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["files"]==9 and d["transcribed"]==8, d' < "$tmp/out" ||
        fail "--summary - on two ranks is not one JSON object counting every rank's files"

    # standard input reaches rank 0 alone: refused, in one line, on every rank
    mpi 2 "$R" transcribe -m digits - < "$example"
    expect_rc 2 "'-' on two ranks"
    expect_in "$tmp/err" "'-' (stdin): under mpirun" "the stdin refusal"
    [ "$(grep -c 'rnnhost:' "$tmp/err")" -eq 1 ] || fail "the stdin refusal is not one line: $(grep -c 'rnnhost:' "$tmp/err")"
    # a usage error every rank finds is said once too (one file twice)
    mpi 2 "$R" transcribe -m digits in/a.wav in/a.wav
    expect_rc 2 "one file twice, two ranks"
    [ "$(ranks_saying "$tmp/err" "would both write")" = "0 " ] || fail "the collision is not said once, by rank 0"
    # a model that cannot be loaded: exit 3, said once
    mpi 2 "$R" transcribe -m ./missing.safetensors in
    expect_rc 3 "a missing model, two ranks"
    [ "$(untag "$tmp/err" | grep -c '^rnnhost: ')" -eq 1 ] || {
        fail "the load failure is not said once"
        sed 's/^/  stderr: /' "$tmp/err" | head -n 20 >&2
    }
}

# A long batch: 120 links to one recording of a minute, so the ranks are busy for seconds.
long_batch() {
    mkdir -p long
    sox "$example" one-minute.wav repeat 19 || fail "sox"
    for i in $(seq -w 1 120); do ln -s ../one-minute.wav "long/f$i.wav"; done
    run "$R" transcribe -m digits -q -o minute.txt one-minute.wav
    expect_rc 0 "one minute, one process"
}

# wait_outputs DIR N: until DIR holds N transcripts (at most 30 s).
wait_outputs() {
    local waited=0
    while [ "$(find "$1" -name '*.txt' 2>/dev/null | wc -l)" -lt "$2" ] && [ $waited -lt 300 ]; do
        sleep 0.1; waited=$((waited + 1))
    done
}

# interrupted_batch DIR SUMMARY: what an interrupted batch leaves: some transcripts, each whole, no
# temporary file, a summary saying so over every rank's files, and the interruption said once.
interrupted_batch() {
    local written; written=$(find "$1" -name '*.txt' | wc -l)
    [ "$written" -ge 4 ] && [ "$written" -lt 120 ] || fail "interrupted after 4 files: $written of 120 written"
    for f in "$1"/*.txt; do cmp -s "$f" minute.txt || fail "$f is not the whole transcript"; done
    [ -z "$(find "$1" -name '*.tmp.*')" ] || fail "temporary files left behind"
    [ "$(grep -c 'interrupted: ' "$tmp/err")" -eq 1 ] || { fail "the interruption is not said once"; sed 's/^/  | /' "$tmp/err" >&2; }
    "$PY" - "$2" "$written" <<'PY' || fail "the summary does not say interrupted, with every rank's files"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["interrupted"] is True and d["files"] == 120, d
assert d["transcribed"] == int(sys.argv[2]), (d["transcribed"], sys.argv[2])
PY
}

# SIGTERM to rank 1 alone: it stops after its file in progress; rank 0 does its whole share, then every
# rank agrees the batch was interrupted: rank 0's summary says so and mpirun exits 130 (a batch system
# stopping the job signals every rank: the same, sooner). --skip-existing then finishes the batch.
case_transcribe_interrupt() {
    need_mpi || return
    long_batch
    printf '#!/bin/sh\necho $$ > "pid.$OMPI_COMM_WORLD_RANK"\nexec "$@"\n' > with-pid
    chmod +x with-pid
    "$MPIRUN" --oversubscribe -np 2 ./with-pid "$R" transcribe -m digits -j 1 --output-dir two \
        --summary two.json long >"$tmp/out" 2>"$tmp/err" &
    local pid=$!
    wait_outputs two 4
    kill -TERM "$(cat pid.1)"
    wait $pid
    rc=$?
    expect_rc 130 "SIGTERM to rank 1"
    interrupted_batch two two.json
    for i in $(seq -w 1 120 | head -60); do [ -e two/f$i.txt ] || { fail "rank 0 stopped too: no f$i.txt"; break; }; done
    mpi 2 "$R" transcribe -m digits -q -j 1 --output-dir two --skip-existing long
    expect_rc 0 "--skip-existing after the interruption"
    [ "$(find two -name '*.txt' | wc -l)" -eq 120 ] || fail "--skip-existing did not finish the batch"
    for f in two/*.txt; do cmp -s "$f" minute.txt || fail "$f differs from one process's"; done

    # Ctrl-C to mpirun: it sends the ranks SIGTERM after odls_base_sigkill_timeout seconds (and SIGKILL as
    # long after that), then exits 1 whatever they do; what they wrote by then is whole and the summary says so
    "$MPIRUN" --mca odls_base_sigkill_timeout 2 --oversubscribe -np 2 "$R" transcribe -m digits -j 1 \
        --output-dir ctrl-c --summary ctrl-c.json long >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    wait_outputs ctrl-c 4
    kill -INT $pid
    wait $pid
    rc=$?
    [ $rc -ne 0 ] || fail "mpirun interrupted exits 0"
    interrupted_batch ctrl-c ctrl-c.json
}

# The build at hand without a launcher, and under mpirun as one of one, is one process; a build without
# MPI under mpirun as one of two refuses in one line (exit 1) on each rank.
case_transcribe_one_rank() {
    [ -n "$MPIRUN" ] || { fail "mpirun is not installed (.ci/install-deps installs openmpi-bin)"; return; }
    recordings
    run "$R" transcribe -m digits -q -f jsonl -o - in
    expect_rc 0 "no launcher"
    cp "$tmp/out" plain.jsonl
    [ "$(wc -l < plain.jsonl)" -eq 8 ] || fail "no launcher: expected 8 lines"
    run "$MPIRUN" -np 1 "$R" transcribe -m digits -q -f jsonl -o - in
    expect_rc 0 "mpirun -np 1"
    cmp plain.jsonl "$tmp/out" || fail "mpirun -np 1 prints other bytes than no launcher"
    if [ "$RNNHOST_HAS_MPI" = 1 ]; then
        run "$MPIRUN" --oversubscribe -np 2 "$R" transcribe -m digits -q -f jsonl -o - in
        expect_rc 0 "two ranks"
        cmp -s plain.jsonl "$tmp/out" || {
            fail "two ranks print other transcripts than one process"
            diff plain.jsonl "$tmp/out" | head -n 6 | cut -c 1-400 >&2
        }
        # tagged by rank (the launcher tags each piece it forwards, so only the tags are compared)
        mpi 2 "$R" transcribe -m digits -q -f jsonl -o - in
        [ -z "$(grep -v '^\[[0-9]*,0\]<stdout>:' "$tmp/out")" ] || fail "a rank other than 0 wrote to standard output"
    else
        mpi 2 "$R" transcribe -m digits -q -f jsonl -o - in
        expect_rc 1 "two ranks, a build without MPI"
        [ ! -s "$tmp/out" ] || fail "a build without MPI transcribed under mpirun -np 2"
        [ "$(grep -c 'built without MPI' "$tmp/err")" -eq 2 ] || fail "each rank does not say in one line that this build has no MPI"
    fi
}

finish "$1"
