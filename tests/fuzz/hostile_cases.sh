#!/usr/bin/env bash
# Model files that lie (shapes that do not match the plugin, offsets past the end, huge header lengths,
# a NaN weight, a cut-off file, metadata of another task) given to sample, transcribe and generate: each
# is refused with exit code 3 and one line that says what is wrong, and no command grows large in memory
# on a file of kilobytes. Needs RNNHOST, PYTHON3, SOURCE_ROOT.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../cases.sh"
presets=$SOURCE_ROOT/presets
lie() { "$PYTHON3" "$here/make_lies.py" "$@" || fail "make_lies.py $*"; }

# run_peak CMD...: like run, and $peak_kb is the command's peak resident memory.
run_peak() {
    "$PYTHON3" - "$@" >"$tmp/out" 2>"$tmp/err" <<'PY'
import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:])
with open("peak_kb", "w") as f:
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=f)
sys.exit(rc)
PY
    rc=$?
    peak_kb=$(cat peak_kb 2>/dev/null)
}

# refused WHAT WORD CMD...: exit code 3, an error line containing WORD, modest memory.
refused() {
    local what=$1 word=$2
    shift 2
    run_peak "$@"
    [ -n "${HOSTILE_VERBOSE:-}" ] && echo "$what: exit $rc, ${peak_kb} kB: $(head -n 1 "$tmp/err")"
    expect_rc 3 "$what"
    grep -qiF -- "$word" "$tmp/err" || { fail "$what: no '$word' in the message"; sed 's/^/  | /' "$tmp/err" | head -5 >&2; }
    # the message names the file it refuses
    local prev= model=
    for a in "$@"; do [ "$prev" = -m ] && model=$a; prev=$a; done
    grep -qF -- "$(basename "$model")" "$tmp/err" || fail "$what: the message does not name $model"
    [ "$(grep -c . "$tmp/err")" -eq 1 ] || fail "$what: not one line"
    # a sanitizer build maps much but touches little; 400 MB leaves room for it and none for a header's lie
    [ -n "$peak_kb" ] && [ "$peak_kb" -lt 400000 ] || fail "$what: peak memory ${peak_kb:-unknown} kB"
}

case_text_model() {
    local m=$presets/dinos.safetensors
    lie shape "$m" shape.safetensors
    refused "a tensor of another shape" "shape" "$RNNHOST" sample -m ./shape.safetensors -n 5
    lie offsets "$m" offsets.safetensors
    refused "data past the end" "offset" "$RNNHOST" sample -m ./offsets.safetensors -n 5
    lie header-huge "$m" huge.safetensors
    refused "a header length of 2^62" "header" "$RNNHOST" sample -m ./huge.safetensors -n 5
    lie header-long "$m" long.safetensors
    refused "a header longer than the file" "header" "$RNNHOST" sample -m ./long.safetensors -n 5
    lie nan "$m" nan.safetensors
    refused "a NaN weight" "finite" "$RNNHOST" sample -m ./nan.safetensors -n 5
    lie truncated "$m" cut.safetensors
    refused "a file cut short" "past" "$RNNHOST" sample -m ./cut.safetensors -n 5
    lie meta:rnnhost.task=ctc "$m" task.safetensors
    refused "a text model that says it is a speech model" "ctc" "$RNNHOST" sample -m ./task.safetensors -n 5
    # the genuine file samples, so the refusals above are the lies' doing
    run "$RNNHOST" sample -m "$m" -n 5
    expect_rc 0 "the genuine text model"
}

case_other_task() {
    "$PYTHON3" "$here/make_seeds.py" seeds >/dev/null || fail "make_seeds.py"
    "$PYTHON3" -c "
import struct,sys
d=bytes(1600)
sys.stdout.buffer.write(b'RIFF'+struct.pack('<I',36+len(d))+b'WAVEfmt '+struct.pack('<IHHIIHH',16,1,1,8000,16000,2,16)+b'data'+struct.pack('<I',len(d))+d)" >x.wav
    refused "transcribe given a text model" "ctc" "$RNNHOST" transcribe -m "$presets/dinos.safetensors" x.wav
    refused "generate given a text model" "lm" "$RNNHOST" generate -m "$presets/dinos.safetensors" -o out.mid
    [ -e out.mid ] && fail "a refused generate wrote its output"
    refused "sample given a speech model" "ctc" "$RNNHOST" sample -m "$presets/digits.safetensors" -n 5
    refused "sample given a music model" "pianoroll" "$RNNHOST" sample -m "$presets/chorales.safetensors" -n 5
    refused "transcribe given a music model" "ctc" "$RNNHOST" transcribe -m "$presets/chorales.safetensors" x.wav
    # every command says which task the model is and which it needs, before reading any weights
    refused "generate given a speech model" "is a 'ctc' model; generate needs a 'midi-lm' or 'pianoroll' model" \
        "$RNNHOST" generate -m "$presets/digits.safetensors" -o out.mid
    refused "eval --data given a speech model" "is a 'ctc' model; eval needs a 'pianoroll', 'midi-lm', 'classify' or 'tag' model" \
        "$RNNHOST" eval -m "$presets/digits.safetensors" --data x.json
    refused "classify given a speech model" "is a 'ctc' model; classify needs a 'classify' model" \
        "$RNNHOST" classify -m "$presets/digits.safetensors" x.txt
    refused "tag given a text model" "is a 'lm' model; tag needs a 'tag' model" \
        "$RNNHOST" tag -m "$presets/dinos.safetensors" x.txt
    refused "eval --data given a text model" "is a 'lm' model; eval needs" \
        "$RNNHOST" eval -m "$presets/dinos.safetensors" --data x.json
    refused "eval --manifest given a music model" "is a 'midi-lm' model; eval needs a 'ctc'" \
        "$RNNHOST" eval -m "$presets/folk.safetensors" --manifest x.tsv
    refused "play given a speech model" "is a 'ctc' model; play needs a 'midi-lm' model" \
        "$RNNHOST" play -m "$presets/digits.safetensors" --record out.mid --duration 1s
    refused "score given a music model" "is a 'pianoroll' model; score needs a 'lm' model" \
        "$RNNHOST" score -m "$presets/chorales.safetensors" x.wav
    refused "sample given a speech model, by name" "sample needs a 'lm' model" \
        "$RNNHOST" sample -m "$presets/digits.safetensors" -n 5
    refused "features given a music model" "features needs a 'ctc' (speech) model" \
        "$RNNHOST" features -m "$presets/folk.safetensors" x.wav
    [ -e out.mid ] && fail "a refused command wrote its output"
    # a speech model whose front-end does not fit its input width, one with weights missing, one whose
    # output count disagrees with its units, and a text model whose vocabulary is not sorted
    local fe='{"sample_rate":8000,"n_fft":256,"win_length":200,"hop_length":80,"n_mels":20,"fmin":20,"fmax":4000,"stack":3}'
    lie "meta:rnnhost.frontend=$fe" "$presets/digits.safetensors" fe.safetensors
    refused "a speech model with a lying front-end" "front-end" "$RNNHOST" transcribe -m ./fe.safetensors x.wav
    refused "a speech model without its weights" "missing" "$RNNHOST" transcribe -m ./seeds/weights/ctc.safetensors x.wav
    lie meta:rnnhost.output_dim=12 "$presets/digits.safetensors" out.safetensors
    refused "a speech model with one output too many" "units" "$RNNHOST" transcribe -m ./out.safetensors x.wav
    lie $'meta:rnnhost.vocab=ba\n' "$presets/dinos.safetensors" voc.safetensors
    refused "a text model with an unsorted vocabulary" "vocab" "$RNNHOST" sample -m ./voc.safetensors -n 5
}

finish "$1"
