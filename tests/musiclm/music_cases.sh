#!/usr/bin/env bash
# Music end to end (train --task pianoroll|midi-lm, eval, generate), one case per meson test.
# The environment gives $RNNHOST, $PYTHON3 and $SOURCE_ROOT. Exit 0 pass, 1 fail, 77 skip.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cases.sh"
"$PYTHON3" "$here/make_music.py" "$tmp" || exit 1
lt() { "$PYTHON3" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$1" "$2"; }

case_pianoroll() {
    run "$RNNHOST" train --task pianoroll --data rolls.json --cell gru --rnn-size 32 --num-layers 1 \
        --batch-size 8 --seq-length 64 --learning-rate 0.01 --max-steps 150 --eval-every 50 --quiet \
        --checkpoint-dir ck --log-json log.jsonl -o roll.safetensors
    expect_rc 0 "train --task pianoroll"
    run "$RNNHOST" eval -m ./roll.safetensors --data rolls.json --split valid
    expect_rc 0 "eval"
    [ "$(tail -n 1 "$tmp/out" | cut -d' ' -f1)" = nll ] || fail "eval's last line is not 'nll X'"
    local nll val
    nll=$(tail -n 1 "$tmp/out" | cut -d' ' -f2)
    val=$("$PYTHON3" -c 'import json,sys; print([r for r in map(json.loads, open(sys.argv[1])) if r["type"]=="val"][-1]["loss"])' log.jsonl)
    "$PYTHON3" -c 'import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b) < 1e-4*max(1,a) else 1)' "$nll" "$val" ||
        fail "eval says $nll, training reported $val on the same split"
    # untrained: 88 pitches at p = 0.5 is 61 nats per step; three notes of a progression are easy
    lt "$nll" 10 || fail "150 steps left the nll at $nll"
    run "$RNNHOST" generate -m ./roll.safetensors -o a.mid --seed 7 --length 16
    expect_rc 0 "generate from a piano-roll model"
    "$RNNHOST" generate -m ./roll.safetensors -o b.mid --seed 7 --length 16 2>/dev/null
    "$RNNHOST" generate -m ./roll.safetensors -o c.mid --seed 8 --length 16 2>/dev/null
    cmp -s a.mid b.mid || fail "the same seed generated different files"
    cmp -s a.mid c.mid && fail "different seeds generated the same file"
    run "$RNNHOST" eval -m ./roll.safetensors --data rolls.json --split test
    expect_rc 1 "eval on a split the file lacks"
}

# A piano-roll model straight from MIDI files on an eighth-note grid: nine files in ten train.
case_pianoroll_midi() {
    run "$RNNHOST" train --task pianoroll --data midi --grid eighth --cell rnn --rnn-size 16 --num-layers 1 \
        --batch-size 4 --seq-length 128 --learning-rate 0.01 --max-steps 40 --eval-every 20 --quiet \
        --checkpoint-dir ck --log-json log.jsonl -o mroll.safetensors
    expect_rc 0 "train --task pianoroll on MIDI files"
    run "$RNNHOST" eval -m ./mroll.safetensors --data midi --split valid
    expect_rc 0 "eval on the validation files"
    expect_in "$tmp/out" "sequences 1" "one validation file in twelve"
    local val nll
    nll=$(tail -n 1 "$tmp/out" | cut -d' ' -f2)
    val=$("$PYTHON3" -c 'import json,sys; print([r for r in map(json.loads, open(sys.argv[1])) if r["type"]=="val"][-1]["loss"])' log.jsonl)
    "$PYTHON3" -c 'import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b) < 1e-4*max(1,a) else 1)' "$nll" "$val" ||
        fail "eval says $nll, training reported $val"
    run "$RNNHOST" generate -m ./mroll.safetensors -o g.mid --length 8 --qpm 120
    expect_rc 0 "generate on the eighth-note grid"
    run "$RNNHOST" train --task pianoroll --data midi --grid thirds --quiet -o x.safetensors
    expect_rc 2 "an unknown grid"
}

case_midi_lm() {
    run "$RNNHOST" train --task midi-lm --data midi --transpose 1 --cell gru --rnn-size 64 --num-layers 1 \
        --batch-size 4 --seq-length 32 --learning-rate 0.01 --max-steps 400 --eval-every 100 --quiet \
        --checkpoint-dir ck -o ev.safetensors
    expect_rc 0 "train --task midi-lm"
    run "$RNNHOST" eval -m ./ev.safetensors --data midi
    expect_rc 0 "eval on the MIDI folder"
    local nll
    nll=$(tail -n 1 "$tmp/out" | cut -d' ' -f2)
    # the fixtures' tokens have a unigram entropy of 3.2 nats: a model that learned their patterns is well below
    echo "event model on its training folder: $nll nats per event"
    lt "$nll" 2.5 || fail "nats per event $nll, not below 2.5 (unigram entropy 3.2, uniform 5.96)"
    run "$RNNHOST" generate -m ./ev.safetensors -o x.mid --seed 7 --length 10s
    expect_rc 0 "generate from an event model"
    "$RNNHOST" generate -m ./ev.safetensors -o y.mid --seed 7 --length 10s 2>/dev/null
    cmp -s x.mid y.mid || fail "the same seed generated different files"
    run "$RNNHOST" generate -m ./ev.safetensors --num-outputs 3 --output-dir many --length 5s --primer-pitches 60,64,67
    expect_rc 0 "three outputs with a primer"
    [ "$(ls many | wc -l)" -eq 3 ] || fail "--num-outputs 3 wrote $(ls many | wc -l) files"
    run "$RNNHOST" generate -m ./ev.safetensors -o z.mid --primer-midi midi/tune00.mid --length 4s
    expect_rc 0 "generate with a MIDI primer"
    if command -v midicsv >/dev/null; then
        midicsv x.mid >x.csv || fail "midicsv cannot read a generated file"
        grep -q Note_on_c x.csv || fail "midicsv finds no notes in a generated file"
    fi
    run "$RNNHOST" generate -m ./ev.safetensors -o forwav.mid --length 3s --wav out.wav
    if [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] && command -v fluidsynth >/dev/null; then
        expect_rc 0 "--wav with FluidSynth"
        [ -s out.wav ] || fail "--wav wrote no audio"
    else
        expect_rc 1 "--wav without FluidSynth"
        expect_in "$tmp/err" "FluidSynth" "--wav says what it needs"
        [ -s forwav.mid ] || fail "--wav without FluidSynth lost the MIDI file"
    fi
    printf 'MThd\0\0\0\6\0\1\0\1\1\340MTrk\0\0\1\0' >broken.mid
    run "$RNNHOST" generate -m ./ev.safetensors -o w.mid --primer-midi broken.mid
    expect_rc 1 "a truncated primer file"
    expect_in "$tmp/err" "byte " "truncated primer message names the byte"
    [ -e w.mid ] && fail "a failed generate left its output"
}

case_music_errors() {
    "$PYTHON3" -c 'open("t.txt","w").write("abc abc abc\n" * 100)'
    "$RNNHOST" train --quiet --data t.txt --rnn-size 8 --num-layers 1 --seq-length 8 --batch-size 2 --max-steps 2 \
        --checkpoint-dir ck -o text.safetensors || fail "text model"
    run "$RNNHOST" generate -m ./text.safetensors -o x.mid
    expect_rc 3 "generate with a text model"
    run "$RNNHOST" eval -m ./text.safetensors --data rolls.json
    expect_rc 3 "eval with a text model"
    run "$RNNHOST" generate -m ./text.safetensors
    expect_rc 2 "generate without -o"
    run "$RNNHOST" train --task pianoroll --data t.txt --quiet -o r.safetensors
    expect_rc 1 "pianoroll training on a text file"
    # augmentation: --transpose 1 triples the corpus, --stretch 1.1 triples it again
    local plain aug
    plain=$("$RNNHOST" train --task midi-lm --data midi --val-frac 0 --batch-size 2 --seq-length 16 --rnn-size 8 --num-layers 1 --max-steps 1 \
        --checkpoint-dir ck -o a.safetensors 2>&1 | sed -n 's/.* on \([0-9]*\) symbols.*/\1/p')
    aug=$("$RNNHOST" train --task midi-lm --data midi --val-frac 0 --batch-size 2 --seq-length 16 --transpose 1 --stretch 1.1 --rnn-size 8 \
        --num-layers 1 --max-steps 1 --checkpoint-dir ck -o a.safetensors 2>&1 | sed -n 's/.* on \([0-9]*\) symbols.*/\1/p')
    [ -n "$plain" ] && [ -n "$aug" ] && "$PYTHON3" -c 'import sys; p,a=map(int,sys.argv[1:]); sys.exit(0 if 8.5*p < a < 9.5*p else 1)' "$plain" "$aug" ||
        fail "augmented corpus has '$aug' tokens against '$plain' plain (expected about 9x)"
    run "$RNNHOST" train --task midi-lm --data nowhere --quiet -o r.safetensors
    expect_rc 1 "midi-lm training on a missing folder"
}

# The shipped chorales preset on the JSB Chorales validation split (needs ../shared/data).
case_preset_chorales() {
    local data=$SOURCE_ROOT/../shared/data/jsb-chorales/jsb-chorales-pianoroll.json
    need_data "$data"
    run "$RNNHOST" eval -m chorales --data "$data" --split valid
    expect_rc 0 "eval -m chorales"
    local nll
    nll=$(tail -n 1 "$tmp/out" | cut -d' ' -f2)
    lt "$nll" 8.54 || fail "chorales: validation nll $nll, not below 8.54"
    echo "chorales validation nll: $nll"
    run "$RNNHOST" generate -m chorales -o ch.mid --seed 7
    expect_rc 0 "generate -m chorales"
}

# The shipped nottingham preset on the Nottingham validation tunes (needs ../shared/data): the figure
# presets/README.md gives, and tunes that are Standard MIDI Files.
case_preset_nottingham() {
    local data=$SOURCE_ROOT/../shared/data/nottingham/nottingham-pianoroll.json
    need_data "$data"
    run "$RNNHOST" eval -m nottingham --data "$data" --split valid
    expect_rc 0 "eval -m nottingham"
    local nll
    nll=$(tail -n 1 "$tmp/out" | cut -d' ' -f2)
    "$PYTHON3" -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 3.3567) <= 0.0005 else 1)' "$nll" ||
        fail "nottingham: validation nll $nll, not the 3.3567 of presets/README.md"
    run "$RNNHOST" generate -m nottingham -o tune.mid --seed 7
    expect_rc 0 "generate -m nottingham"
    [ "$(head -c 4 tune.mid)" = MThd ] || fail "generate -m nottingham did not write a Standard MIDI File"
}

case_preset_folk() {
    run "$RNNHOST" generate -m folk -o f1.mid --seed 7 --length 10s
    expect_rc 0 "generate -m folk"
    "$RNNHOST" generate -m folk -o f2.mid --seed 7 --length 10s 2>/dev/null
    cmp -s f1.mid f2.mid || fail "folk: the same seed generated different files"
    # one duration syntax across commands: a sixth of a minute is ten seconds
    "$RNNHOST" generate -m folk -o f3.mid --seed 7 --length 0.1667m 2>/dev/null || fail "generate --length in minutes"
    [ -s f3.mid ] && [ "$(stat -c %s f3.mid)" -ge "$(stat -c %s f1.mid)" ] || fail "folk: --length 0.1667m wrote less than 10s"
}

# Generation keeps to what the model was trained on: the record in a model file is what its training data
# spans (pitches, with --transpose; the longest note), and 100 pieces at a high temperature from barely
# trained models, which left alone would sound any pitch and hold notes for seconds, never leave it.
case_limits() {
    local lim=("$PYTHON3" "$here/midi_limits.py") rec want low high longest
    run "$RNNHOST" train --task midi-lm --data midi --transpose 1 --val-frac 0 --cell gru --rnn-size 32 \
        --num-layers 1 --batch-size 4 --seq-length 32 --max-steps 20 --quiet --checkpoint-dir ck -o ev.safetensors
    expect_rc 0 "train an event model for 20 steps"
    rec=$("${lim[@]}" record ev.safetensors) || fail "the event model has no rnnhost.music record"
    want=$("${lim[@]}" midi midi 1)
    "$PYTHON3" -c 'import sys; a, b = (list(map(float, s.split())) for s in sys.argv[1:]); sys.exit(a[:2] != b[:2] or abs(a[2] - b[2]) > 0.005)' \
        "$rec" "$want" || fail "event model: record '$rec', the data spans '$want'"
    read -r low high longest <<<"$rec"
    run "$RNNHOST" generate -m ./ev.safetensors --num-outputs 100 --output-dir ev --length 5s --temperature 2
    expect_rc 0 "100 pieces from the event model"
    run "${lim[@]}" check "$low" "$high" "$longest" ev/*.mid
    expect_rc 0 "the event model's pieces keep to its training data"
    run "$RNNHOST" play -m ./ev.safetensors --record played.mid --duration 3s --temperature 2
    expect_rc 0 "play the event model for 3 s (recorded, no device needed)"
    run "${lim[@]}" check "$low" "$high" "$longest" played.mid
    expect_rc 0 "what play sends keeps to the event model's training data"
    run "$RNNHOST" generate -m ./ev.safetensors -o short.mid --length 10s --temperature 2 --seed 3 --max-note 100ms
    expect_rc 0 "generate --max-note 100ms"
    run "${lim[@]}" check "$low" "$high" 0.1 short.mid
    expect_rc 0 "no note longer than --max-note"
    # --length counts what follows the primer: a primer of 7 s and --length 10s make a piece of about 17 s
    local primer after
    primer=$("${lim[@]}" notes midi/tune00.mid)
    run "$RNNHOST" generate -m ./ev.safetensors -o primed.mid --primer-midi midi/tune00.mid --length 10s --seed 3 \
        --temperature 2
    expect_rc 0 "generate after a primer (7 s) for 10 s"
    after=$("${lim[@]}" notes primed.mid)
    "$PYTHON3" -c 'import sys; (n, e), (m, f) = (s.split() for s in sys.argv[1:]); sys.exit(not (int(m) > int(n) and float(f) > float(e) + 9))' \
        "$primer" "$after" || fail "after the primer ($primer: notes, end) the piece has $after"

    run "$RNNHOST" train --task pianoroll --data rolls.json --cell gru --rnn-size 16 --num-layers 1 \
        --batch-size 8 --seq-length 64 --max-steps 10 --quiet --checkpoint-dir ck -o roll.safetensors
    expect_rc 0 "train a piano-roll model for 10 steps"
    rec=$("${lim[@]}" record roll.safetensors) || fail "the piano-roll model has no rnnhost.music record"
    want=$("${lim[@]}" rolls rolls.json train)
    [ "$rec" = "$want" ] || fail "piano-roll model: record '$rec', the data spans '$want'"
    read -r low high longest <<<"$rec"
    run "$RNNHOST" generate -m ./roll.safetensors --num-outputs 100 --output-dir roll --length 24 --temperature 2
    expect_rc 0 "100 pieces from the piano-roll model"
    # a frame is a quarter note at 120 qpm: half a second
    run "${lim[@]}" check "$low" "$high" "$("$PYTHON3" -c "print($longest * 0.5)")" roll/*.mid
    expect_rc 0 "the piano-roll model's pieces keep to its training data"
}

# The LSTM as the core of both music models: each learns what the gru's cases ask for, and generates.
case_lstm() {
    run "$RNNHOST" train --task pianoroll --data rolls.json --cell lstm --rnn-size 32 --num-layers 1 \
        --batch-size 8 --seq-length 64 --learning-rate 0.01 --max-steps 150 --eval-every 50 --quiet \
        --checkpoint-dir ck -o roll.safetensors
    expect_rc 0 "train --task pianoroll --cell lstm"
    run "$RNNHOST" eval -m ./roll.safetensors --data rolls.json --split valid
    expect_rc 0 "eval the lstm piano-roll model"
    local nll
    nll=$(tail -n 1 "$tmp/out" | cut -d' ' -f2)
    lt "$nll" 10 || fail "150 steps left the lstm piano-roll model's nll at $nll"
    run "$RNNHOST" generate -m ./roll.safetensors -o a.mid --seed 7 --length 16
    expect_rc 0 "generate from the lstm piano-roll model"
    run "$RNNHOST" train --task midi-lm --data midi --transpose 1 --cell lstm --rnn-size 64 --num-layers 1 \
        --batch-size 4 --seq-length 32 --learning-rate 0.01 --max-steps 400 --eval-every 100 --quiet \
        --checkpoint-dir ck -o ev.safetensors
    expect_rc 0 "train --task midi-lm --cell lstm"
    run "$RNNHOST" eval -m ./ev.safetensors --data midi
    expect_rc 0 "eval the lstm event model"
    nll=$(tail -n 1 "$tmp/out" | cut -d' ' -f2)
    echo "lstm event model on its training folder: $nll nats per event"
    lt "$nll" 2.5 || fail "nats per event $nll, not below 2.5 (unigram entropy 3.2, uniform 5.96)"
    run "$RNNHOST" generate -m ./ev.safetensors -o x.mid --seed 7 --length 10s
    expect_rc 0 "generate from the lstm event model"
    "$RNNHOST" generate -m ./ev.safetensors -o y.mid --seed 7 --length 10s 2>/dev/null
    cmp -s x.mid y.mid || fail "the same seed generated different files"
}

finish "$1"
