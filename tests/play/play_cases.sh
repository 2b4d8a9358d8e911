#!/usr/bin/env bash
# `rnnhost midi-devices` and `rnnhost play` from the command line, one case per meson test:
# play_cases.sh CASE. The environment gives $RNNHOST and $PYTHON3. Exit 0 pass, 1 fail.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cases.sh"
expect_lines() {
    local n
    n=$(wc -l <"$1")
    [ "$n" -eq "$2" ] || { fail "$3: $n lines in $(basename "$1"), expected $2"; sed 's/^/  | /' "$1" | head -20 >&2; }
}

# Whether this machine has any MIDI port at all: ALSA's sequencer is what PortMidi uses on Linux.
have_midi() { [ -e /dev/snd/seq ]; }

no_ports_line="rnnhost: no MIDI output '0' (this machine has no MIDI ports; 'rnnhost play --record FILE.mid' runs without one, and 'rnnhost generate -o FILE.mid' writes a file)"

case_midi_devices() {
    run "$RNNHOST" midi-devices
    expect_rc 0 "midi-devices"
    [ -s "$tmp/err" ] && { fail "midi-devices wrote to stderr"; sed 's/^/  | /' "$tmp/err" >&2; }
    run "$RNNHOST" midi-devices --json
    expect_rc 0 "midi-devices --json"
    "$PYTHON3" - "$tmp/out" <<'EOF' || fail "midi-devices --json is not the documented JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1, d
for dev in d["devices"]:
    assert set(dev) == {"index", "name", "interface", "input", "output", "opened"}, dev
    assert dev["input"] or dev["output"], dev
EOF
    if ! have_midi; then
        run "$RNNHOST" midi-devices
        [ "$(cat "$tmp/out")" = "no MIDI devices (this machine has no MIDI ports; use 'rnnhost generate -o FILE.mid' instead)" ] ||
            fail "without MIDI: midi-devices said '$(cat "$tmp/out")'"
        run "$RNNHOST" midi-devices --json
        [ "$(cat "$tmp/out")" = '{"schema":1,"devices":[]}' ] || fail "without MIDI: --json said '$(cat "$tmp/out")'"
    fi
    run "$RNNHOST" midi-devices extra
    expect_rc 2 "midi-devices with an argument"
}

case_no_output_port() {
    # a port that exists nowhere: one line, exit 1, whether or not the machine has MIDI
    run "$RNNHOST" play -m whatever --output-port no-such-port-xyz
    expect_rc 1 "play --output-port no-such-port-xyz"
    expect_lines "$tmp/err" 1 "no such port"
    expect_in "$tmp/err" "rnnhost: no MIDI output 'no-such-port-xyz' (" "no such port"
    run "$RNNHOST" play -m whatever --record x.mid --input-port no-such-port-xyz
    expect_rc 1 "play --input-port no-such-port-xyz"
    expect_lines "$tmp/err" 1 "no such input"
    expect_in "$tmp/err" "rnnhost: no MIDI input 'no-such-port-xyz'" "no such input"
    [ -e x.mid ] && fail "a refused play wrote its record"
    if ! have_midi; then
        # the acceptance case: no device, no model named, and still the one line about MIDI
        run "$RNNHOST" play --output-port 0
        expect_rc 1 "play --output-port 0 without MIDI"
        [ "$(cat "$tmp/err")" = "$no_ports_line" ] || fail "play --output-port 0 said '$(cat "$tmp/err")'"
        [ -s "$tmp/out" ] && fail "play --output-port 0 wrote to stdout"
        # neither a port nor --record: the default output, which does not exist here
        run "$RNNHOST" play -m whatever
        expect_rc 1 "play without a port on a machine without MIDI"
        expect_lines "$tmp/err" 1 "no default output"
        expect_in "$tmp/err" "rnnhost: no MIDI output (this machine has no MIDI ports" "no default output"
    fi
}

case_usage() {
    run "$RNNHOST" play --help
    expect_rc 0 "play --help"
    expect_in "$tmp/out" "1 no such MIDI port, or no MIDI device on this machine" "play --help documents exit 1"
    expect_in "$tmp/out" "130 interrupted" "play --help documents exit 130"
    run "$RNNHOST" --help
    expect_in "$tmp/out" "midi-devices" "rnnhost --help lists midi-devices"
    expect_in "$tmp/out" "  play " "rnnhost --help lists play"
    run "$RNNHOST" play --record x.mid
    expect_rc 2 "play without -m"
    expect_in "$tmp/err" "-m MODEL is required" "play without -m"
    for bad in "--duration abc" "--duration 0" "--latency-ms -3" "--latency-ms 99999" "--temperature hot" "--top-k x"; do
        # shellcheck disable=SC2086
        run "$RNNHOST" play -m whatever --record x.mid $bad
        expect_rc 2 "play $bad"
    done
    run "$RNNHOST" play -m whatever --record x.mid stray
    expect_rc 2 "play with a stray argument"
}

case_not_an_event_model() {
    run "$RNNHOST" play -m "$tmp/nothing-here.safetensors" --record x.mid --duration 1s
    expect_rc 3 "play with a missing model"
    expect_lines "$tmp/err" 1 "missing model"
    # a character language model is a model, but not an event model
    "$PYTHON3" -c "
import random
r = random.Random(3)
print('\n'.join(''.join(r.choice('abcde ') for _ in range(60)) for _ in range(200)))" >corpus.txt
    run "$RNNHOST" train --data corpus.txt --rnn-size 16 --num-layers 1 --seq-length 16 --batch-size 4 \
        --max-steps 2 --eval-every 0 --checkpoint-dir ck --quiet -o lm.safetensors
    expect_rc 0 "train a tiny character model"
    [ -f lm.safetensors ] || { fail "no lm.safetensors"; return; }
    run "$RNNHOST" play -m lm.safetensors --record x.mid --duration 1s
    expect_rc 3 "play with a character model"
    expect_lines "$tmp/err" 1 "character model"
    [ -e x.mid ] && fail "a refused play wrote its record"
}

# Needs `rnnhost train --task midi-lm` (the lead's part): not yet in the meson list of cases.
# Enable it by adding 'record' to the foreach in tests/play/meson.build.
case_record() {
    "$PYTHON3" - <<'EOF' || { fail "cannot write the MIDI fixtures"; return; }
import os, struct
os.makedirs("midi", exist_ok=True)
def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))
for f in range(4):
    body = b""
    for i in range(48):
        p = 60 + (i * (f + 2)) % 12
        body += vlq(0 if i == 0 else 120) + bytes([0x90, p, 70 + i % 40])
        body += vlq(120) + bytes([0x80, p, 0])
    body += vlq(0) + b"\xff\x2f\x00"
    with open(f"midi/f{f}.mid", "wb") as o:
        o.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(body)) + body)
EOF
    # enough steps that it plays: generation keeps to its training pitches, which a model of 3 steps seldom draws
    run "$RNNHOST" train --task midi-lm --data midi --rnn-size 16 --num-layers 1 --seq-length 16 --batch-size 4 \
        --max-steps 60 --eval-every 0 --checkpoint-dir ck --quiet -o ev.safetensors
    expect_rc 0 "train a tiny event model"
    [ -f ev.safetensors ] || { fail "no ev.safetensors"; return; }
    local t0 t1
    t0=$(date +%s.%N)
    run "$RNNHOST" play -m ev.safetensors --record x.mid --duration 2s --json --seed 3
    t1=$(date +%s.%N)
    expect_rc 0 "play --record for 2 s"
    expect_in "$tmp/err" "lateness over" "the lateness report on stderr"
    "$PYTHON3" - "$tmp/out" "$t0" "$t1" <<'EOF' || fail "the play --json statistics are wrong"
import json, sys
d = json.load(open(sys.argv[1]))
took = float(sys.argv[3]) - float(sys.argv[2])
l = d["lateness_ms"]
print("play --record 2 s: %d events, lateness median %.3f ms, p99 %.3f ms, max %.3f ms, %d underruns, %.2f s"
      % (l["count"], l["median"], l["p99"], l["max"], d["underruns"], took), file=sys.stderr)
assert d["schema"] == 1 and d["record"] == "x.mid" and d["interrupted"] is False, d
assert 0 <= l["median"] <= l["p99"] <= l["max"], l
assert l["p99"] < 5, l   # under 1 ms on an idle machine; room here for load and sanitizers
assert 2.0 <= took < 6, took
EOF
    [ -s x.mid ] || { fail "no record x.mid"; return; }
    "$PYTHON3" "$here/midi_messages.py" x.mid >x.txt || { fail "x.mid does not read back"; return; }
    [ -s x.txt ] || fail "x.mid holds no messages"
    # the same seed plays the same notes (the times differ by the lateness only)
    run "$RNNHOST" play -m ev.safetensors --record y.mid --duration 2s --seed 3
    expect_rc 0 "play --record again"
    "$PYTHON3" "$here/midi_messages.py" y.mid >y.txt || fail "y.mid does not read back"
    cut -d' ' -f2- x.txt >x.msg
    cut -d' ' -f2- y.txt >y.msg
    cmp -s x.msg y.msg || fail "two runs with one seed sent different messages"

    # Ctrl-C: exit 130, and the record ends with all-notes-off and all-sound-off on every channel
    "$RNNHOST" play -m ev.safetensors --record int.mid --duration 30s >"$tmp/out" 2>"$tmp/err" &
    local pid=$! started
    started=$(date +%s)
    sleep 1.5
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    expect_rc 130 "play interrupted"
    [ $(($(date +%s) - started)) -lt 10 ] || fail "play went on long after Ctrl-C"
    "$PYTHON3" "$here/midi_messages.py" int.mid >int.txt || { fail "int.mid does not read back"; return; }
    tail -n 32 int.txt | "$PYTHON3" -c '
import sys
seen = {(int(s, 16), int(d1)) for _, s, d1, d2 in (l.split() for l in sys.stdin)}
want = {(0xB0 | ch, cc) for ch in range(16) for cc in (120, 123)}
sys.exit(0 if seen == want else 1)' || { fail "the interrupted record does not end with CC 123 and 120 on 16 channels"; tail -n 34 int.txt >&2; }
}

finish "${1:-}"
