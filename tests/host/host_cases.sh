#!/usr/bin/env bash
# Host test cases, one per meson test: host_cases.sh CASE. The environment (set by meson.build) gives
# $RNNHOST, $PYTHON3 and one variable per test plugin ($TINY, $TINY_WRONG_ABI, ...).
# Each case asserts exit codes and the exact check names or one-line reasons. Exit 0 pass, 1 fail.
set -u

fails=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rnnhost-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# run CMD...: stdout in $tmp/out, stderr in $tmp/err, exit code in $rc.
run() {
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

expect_rc() {
    if [ "$rc" -ne "$1" ]; then
        fail "$2: exit code $rc, expected $1"
        sed 's/^/  stdout: /' "$tmp/out" | head -40 >&2
        sed 's/^/  stderr: /' "$tmp/err" | head -40 >&2
    fi
}

expect_in() { # FILE STRING WHAT
    grep -qF -- "$2" "$1" || { fail "$3: '$2' not in $(basename "$1")"; sed 's/^/  | /' "$1" | head -40 >&2; }
}

expect_not_in() {
    if grep -qF -- "$2" "$1"; then fail "$3: '$2' unexpectedly in $(basename "$1")"; fi
}

# A load failure is one line on stderr naming the file, and exit code 3.
expect_load_error() { # WHAT REASON PATH-ARGS...
    local what=$1 reason=$2
    shift 2
    run "$RNNHOST" validate "$@"
    expect_rc 3 "$what"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$what: stderr has $(wc -l <"$tmp/err") lines, expected 1"
    expect_in "$tmp/err" "rnnhost: cannot load plugin $1: $reason" "$what"
    [ -s "$tmp/out" ] && fail "$what: unexpected stdout"
}

json() { # PYTHON-EXPR over the parsed $tmp/out as `d`; fails when it is false or the JSON does not parse
    "$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$tmp/out" "$1" "${3:-}" || { fail "$2: JSON assertion failed: $1"; head -60 "$tmp/out" >&2; }
}

# An rnnhost copied out of the build tree: its built-in plugin directory is the installed one, so
# --plugin-path alone decides what it sees.
isolated_rnnhost() {
    local sdkdir
    sdkdir=$(ldd "$RNNHOST" | awk '/librnnhost-sdk/ { print $3 }' | xargs dirname)
    mkdir -p "$tmp/bin"
    cp "$RNNHOST" "$tmp/bin/rnnhost"
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %s "$@"\n' \
        "$sdkdir" "$tmp/bin/rnnhost" >"$tmp/bin/rnnhost-isolated"
    chmod +x "$tmp/bin/rnnhost-isolated"
    echo "$tmp/bin/rnnhost-isolated"
}

case_cli() {
    run "$RNNHOST" --help
    expect_rc 0 "--help"
    expect_in "$tmp/out" "validate" "--help lists commands"
    expect_in "$tmp/out" "130  interrupted" "--help lists exit codes"
    expect_in "$tmp/out" "3    a model or plugin could not be loaded" "--help lists exit codes"
    run "$RNNHOST" --version
    expect_rc 0 "--version"
    expect_in "$tmp/out" "rnnhost 0." "--version"
    expect_in "$tmp/out" "plugin ABI 1" "--version"
    # RNNHOST_CPU forces a kernel level the CPU runs; one it lacks, or no level at all, is a usage error.
    local runs level
    runs=$(sed -n 's/^CPU kernels: .* (this CPU runs: \(.*\))$/\1/p' "$tmp/out")
    case " $runs " in *" plain "*) ;; *) fail "--version: the CPU levels line lacks plain: '$runs'" ;; esac
    for level in plain avx2 avx512; do
        RNNHOST_CPU=$level run "$RNNHOST" plugins
        case " $runs " in
        *" $level "*)
            expect_rc 0 "RNNHOST_CPU=$level (this CPU runs it)"
            RNNHOST_CPU=$level run "$RNNHOST" --version
            expect_in "$tmp/out" "CPU kernels: $level " "RNNHOST_CPU=$level --version" ;;
        *)
            expect_rc 2 "RNNHOST_CPU=$level (this CPU lacks it)"
            expect_in "$tmp/err" "RNNHOST_CPU=$level: this CPU cannot run the $level kernels" "RNNHOST_CPU=$level" ;;
        esac
    done
    RNNHOST_CPU=sse9 run "$RNNHOST" plugins
    expect_rc 2 "RNNHOST_CPU=sse9"
    expect_in "$tmp/err" "RNNHOST_CPU='sse9' is not a kernel level; use plain, avx2 or avx512" "RNNHOST_CPU=sse9"
    run "$RNNHOST" --no-such-option
    expect_rc 2 "bad global option"
    expect_in "$tmp/err" "try 'rnnhost --help'" "bad global option"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "bad option: more than one line"
    run "$RNNHOST" frobnicate
    expect_rc 2 "unknown command"
    expect_in "$tmp/err" "unknown command 'frobnicate'" "unknown command"
    run "$RNNHOST"
    expect_rc 2 "no command"
    run "$RNNHOST" validate --help
    expect_rc 0 "validate --help"
    expect_in "$tmp/out" "--seed N            seed of every random input and parameter (default: 1)" "validate --help"
    expect_in "$tmp/out" "--core ID           config.core for composite models (default: gru)" "validate --help"
    expect_in "$tmp/out" "hostile-weights" "validate --help lists checks"
    run "$RNNHOST" plugins --help
    expect_rc 0 "plugins --help"
    expect_in "$tmp/out" "--plugin-path PATH" "plugins --help"
    run "$RNNHOST" validate --bogus "$TINY"
    expect_rc 2 "validate bad option"
    expect_in "$tmp/err" "try 'rnnhost --help'" "validate bad option"
    run "$RNNHOST" validate --seed banana "$TINY"
    expect_rc 2 "validate bad seed"
    run "$RNNHOST" validate
    expect_rc 2 "validate without a plugin"
    run "$RNNHOST" plugins --plugin-path
    expect_rc 2 "plugins option missing its argument"
    # a bad value names its option as it was written, never the value in its place
    local args want
    while IFS='|' read -r args want; do
        run "$RNNHOST" $args
        expect_rc 2 "$args"
        expect_in "$tmp/err" "$want" "$args"
        [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$args: not one line"
    done <<'LIST'
sample -m dinos -n -5|-n needs a whole number >= 0, not '-5'
sample -m dinos --length=-5|--length needs a whole number >= 0, not '-5'
sample -m dinos --num-samples x|--num-samples needs a whole number >= 0, not 'x'
generate -m folk -o x.mid -s -1|-s needs a whole number >= 0, not '-1'
generate -m folk -o x.mid --program 200|--program needs a whole number from 0 to 127, not '200'
generate -m folk -o x.mid -t -1|-t needs a number from 0 to 1000, not '-1'
score -m dinos --streams -1|--streams needs a whole number from 1 to 65536, not '-1'
eval -m folk --data x --streams 0|--streams needs a whole number from 1 to 65536, not '0'
play -m folk --record x.mid --latency-ms -3|--latency-ms needs a whole number from 0 to 10000, not '-3'
transcribe -m digits -j -1 x.wav|-j needs a whole number from 1 to 256, not '-1'
transcribe -m digits --jobs -1 x.wav|--jobs needs a whole number from 1 to 256, not '-1'
train --data x.txt --max-steps -3|--max-steps needs a whole number >= 0, not '-3'
train --data x.txt --time-budget 3d|--time-budget needs a duration such as 90s, 500ms, 1.5m or 2h, not '3d'
play -m folk --record x.mid --duration 0|--duration needs a duration above 0 such as 90s, 500ms, 1.5m or 2h, not '0'
play -m folk --record x.mid -d 1y|-d needs a duration above 0 such as 90s, 500ms, 1.5m or 2h, not '1y'
play -m folk --record x.mid -t 1001|-t needs a number from 0 to 1000, not '1001'
generate -m folk -o x.mid --length 1.5x|--length is a duration of music (30s, 1.5m) or a number of model steps (512), not '1.5x'
generate -m folk -o x.mid --length 0|--length is a duration of music (30s, 1.5m) or a number of model steps (512), not '0'
LIST
}

case_load_errors() {
    expect_load_error "wrong abi" "built for plugin ABI 999, this host speaks ABI 1" "$TINY_WRONG_ABI"
    expect_load_error "no entry" "no entry symbol 'rnnhost_plugin_entry' (not an rnnhost plugin)" "$TINY_NO_ENTRY"
    expect_load_error "null descriptor" "invalid descriptor: model 0 is NULL" "$TINY_NULL_DESCRIPTOR"
    printf 'hello, I am not a plugin\n' >"$tmp/text.so"
    expect_load_error "text file" "not a shared object" "$tmp/text.so"
    : >"$tmp/empty.so"
    expect_load_error "empty file" "not a shared object" "$tmp/empty.so"
    expect_load_error "missing file" "no such file" "$tmp/does-not-exist.so"
    expect_load_error "directory" "is a directory" "$tmp/"
    # by id: nothing on the search path provides it
    run "$RNNHOST" validate no-such-plugin-id --plugin-path "$TINY"
    expect_rc 3 "unknown id"
    expect_in "$tmp/err" "no plugin or model 'no-such-plugin-id'" "unknown id"
}

case_system_library() {
    local lib
    lib=$(ldd "$RNNHOST" | awk '$1 ~ /^libm\.so/ { print $3 }' | head -1)
    if [ -z "$lib" ] || [ ! -f "$lib" ]; then
        lib=$(ldd "$RNNHOST" | awk '$1 ~ /^libc\.so/ { print $3 }' | head -1)
    fi
    [ -f "$lib" ] || { fail "found no system library through ldd"; return; }
    expect_load_error "system library $lib" "no entry symbol 'rnnhost_plugin_entry' (not an rnnhost plugin)" "$lib"
    [ "$rc" -lt 128 ] || fail "system library: killed by a signal ($rc)"
}

case_plugins_json() {
    local iso
    iso=$(isolated_rnnhost)
    run "$iso" plugins --json --plugin-path "$TINY"
    expect_rc 0 "plugins --json with tiny only"
    json 'd["schema"] == 1 and len(d["plugins"]) == 1 and d["errors"] == []' "plugins json shape"
    json 'd["plugins"][0]["id"] == "tiny" and d["plugins"][0]["abi_version"] == 1' "plugin fields"
    json 'd["plugins"][0]["path"] == sys.argv[3]' "plugin path" "$TINY"
    json '[m["id"] for m in d["plugins"][0]["models"]] == ["tiny"]' "model ids"
    json 'd["plugins"][0]["models"][0]["inputs"] == ["dense", "tokens"]' "model inputs"
    json 'all(k in d["plugins"][0] for k in ("name", "vendor", "version", "models"))' "plugin keys"
    json 'all(k in d["plugins"][0]["models"][0] for k in ("name", "version", "description"))' "model keys"

    # a directory on the path contributes its .so files; one broken file makes the exit code 3
    mkdir -p "$tmp/dir"
    cp "$TINY" "$tmp/dir/a_tiny.so"
    cp "$TINY_WRONG_ABI" "$tmp/dir/b_wrong_abi.so"
    printf 'not elf' >"$tmp/dir/c_text.so"
    run "$iso" plugins --json --plugin-path "$tmp/dir"
    expect_rc 3 "plugins with a broken plugin in the directory"
    json '[p["id"] for p in d["plugins"]] == ["tiny"]' "directory listing"
    json 'sorted(e["path"].split("/")[-1] for e in d["errors"]) == ["b_wrong_abi.so", "c_text.so"]' "errors listed"
    json 'any("ABI 999" in e["error"] for e in d["errors"])' "error reason"
    [ "$(grep -c 'cannot load plugin' "$tmp/err")" -eq 2 ] || fail "plugins: expected one stderr line per failure"

    # the environment variable works like --plugin-path and comes after it
    RNNHOST_PLUGIN_PATH="$TINY" run "$iso" plugins
    expect_rc 0 "RNNHOST_PLUGIN_PATH"
    expect_in "$tmp/out" "model tiny 1.0.0 [dense+tokens]" "text listing"
    # empty path elements do not mean the current directory
    (cd "$tmp/dir" && run "$iso" plugins --json --plugin-path "::" && cp "$tmp/out" "$tmp/out.cwd" && echo "$rc" >"$tmp/rc.cwd")
    cp "$tmp/out.cwd" "$tmp/out"
    json 'd["plugins"] == [] and d["errors"] == []' "empty path elements"
}

case_no_current_directory() {
    mkdir -p "$tmp/cwd"
    cp "$TINY" "$tmp/cwd/tiny.so"
    cd "$tmp/cwd" || return
    run "$RNNHOST" plugins --json
    json 'all(p["id"] != "tiny" for p in d["plugins"])' "plugins must not search the current directory"
    json 'all("/cwd/" not in e["path"] for e in d["errors"])' "no error from the current directory either"
    run "$RNNHOST" validate tiny
    expect_rc 3 "validate by id must not find ./tiny.so"
    run "$RNNHOST" validate tiny.so
    expect_rc 3 "a name without '/' is an id, not a file"
    run "$RNNHOST" validate ./tiny.so --model tiny --timeout 60
    expect_rc 0 "an explicit ./ path is a path"
    cd - >/dev/null || true
}

case_duplicate_model() {
    local iso
    iso=$(isolated_rnnhost)
    run "$iso" plugins --plugin-path "$TINY:$TINY_DUP_MODEL"
    expect_rc 3 "duplicate model id"
    expect_in "$tmp/err" "rnnhost: cannot load plugin $TINY_DUP_MODEL: model id 'tiny' is already provided by $TINY" \
        "duplicate model id"
    expect_in "$tmp/out" "$TINY" "the first plugin wins"
    run "$iso" plugins --plugin-path "$TINY_DUP_MODEL:$TINY"
    expect_rc 3 "duplicate model id, other order"
    expect_in "$tmp/err" "rnnhost: cannot load plugin $TINY: model id 'tiny' is already provided by $TINY_DUP_MODEL" \
        "duplicate model id, other order"
    # the same file twice is the same plugin, not a duplicate
    run "$iso" plugins --plugin-path "$TINY:$TINY"
    expect_rc 0 "the same file twice"
}

all_checks="exports unknown-model bad-config create gradients dropout step-equals-forward half-step determinism finite batch-shapes weights-roundtrip hostile-weights"

case_validate_tiny() {
    run "$RNNHOST" validate "$TINY"
    expect_rc 0 "validate tiny"
    for c in $all_checks; do
        expect_in "$tmp/out" "PASS $c (" "validate tiny"
    done
    expect_in "$tmp/out" "PASS gradients (tiny, dense D=5 H=6 L=2 O=4)" "validate tiny dense"
    expect_in "$tmp/out" "PASS gradients (tiny, tokens V=7 H=5 L=2 O=7)" "validate tiny tokens"
    expect_in "$tmp/out" "PASS exports (plugin): only rnnhost_plugin_entry is exported" "exports"
    expect_not_in "$tmp/out" "FAIL" "validate tiny"
    expect_in "$tmp/out" "23 passed, 0 failed" "summary"
}

case_validate_json_seeded() {
    run "$RNNHOST" validate "$TINY" --json --seed 7
    expect_rc 0 "validate --json"
    cp "$tmp/out" "$tmp/seed7a"
    json 'd["schema"] == 1 and d["plugin"] == "tiny" and d["abi_version"] == 1 and d["path"] == sys.argv[3]' \
        "validate json header" "$TINY"
    json 'd["failed"] == 0 and d["passed"] == len(d["checks"]) == 23' "validate json counts"
    json 'all(c["status"] == "pass" and c["detail"] for c in d["checks"])' "validate json statuses"
    json '{c["name"] for c in d["checks"]} == set(sys.argv[3].split())' "validate json names" "$all_checks"
    json 'all(c["model"] is None for c in d["checks"] if c["name"] == "exports")' "plugin checks have no model"
    run "$RNNHOST" validate "$TINY" --json --seed 7
    cmp -s "$tmp/out" "$tmp/seed7a" || fail "same --seed gave different output"
    run "$RNNHOST" validate "$TINY" --json --seed 8
    cmp -s "$tmp/out" "$tmp/seed7a" && fail "a different --seed gave the same output (the seed is unused)"
}

case_validate_wrong_grad() {
    run "$RNNHOST" validate "$TINY_WRONG_GRAD"
    expect_rc 1 "wrong gradient"
    expect_in "$tmp/out" "FAIL gradients (tiny_wrong_grad, dense D=5 H=6 L=2 O=4)" "wrong gradient dense"
    expect_in "$tmp/out" "FAIL gradients (tiny_wrong_grad, tokens V=7 H=5 L=2 O=7)" "wrong gradient tokens"
    grep 'FAIL gradients' "$tmp/out" | grep -qE 'worst b[01]\[' || fail "wrong gradient: the worst entry is not a bias"
    expect_in "$tmp/out" "PASS step-equals-forward (tiny_wrong_grad, dense" "other checks still pass"
    expect_in "$tmp/out" "21 passed, 2 failed" "wrong gradient summary"
}

case_validate_crash_create() {
    run "$RNNHOST" validate "$TINY_CRASH_CREATE"
    expect_rc 1 "crash in create"
    [ "$rc" -lt 128 ] || fail "the validator itself died"
    expect_in "$tmp/out" "FAIL create (tiny_crash_create, dense D=5 H=6 L=2 O=4): crashed with SIGSEGV" "crash named"
    expect_in "$tmp/out" "FAIL unknown-model (plugin): crashed with SIGSEGV" "crash named"
    expect_in "$tmp/out" "PASS exports (plugin)" "checks without create still pass"
    expect_in "$tmp/out" "1 passed, 22 failed" "summary after crashes"
}

case_validate_two_exports() {
    run "$RNNHOST" validate "$TINY_TWO_EXPORTS"
    expect_rc 1 "two exports"
    expect_in "$tmp/out" "FAIL exports (plugin): 1 exported symbol(s) besides rnnhost_plugin_entry: tiny_extra_export" \
        "two exports"
    expect_in "$tmp/out" "22 passed, 1 failed" "two exports summary"
}

case_validate_hang() {
    run "$RNNHOST" validate "$TINY_HANG_STEP" --timeout 1
    expect_rc 1 "a hanging step"
    expect_in "$tmp/out" "FAIL step-equals-forward (tiny_hang_step, dense D=5 H=6 L=2 O=4): timed out after 1 s" \
        "hang reported as a timeout"
    expect_in "$tmp/out" "PASS gradients (tiny_hang_step, dense" "checks without step still pass"
    expect_in "$tmp/out" "21 passed, 2 failed" "hang summary"
}

# A crash inside step is reported by the plugin's name and the check, and the checks that never step still run.
case_validate_crash_step() {
    run "$RNNHOST" validate "$TINY_CRASH_STEP"
    expect_rc 1 "a crash in step"
    [ "$rc" -lt 128 ] || fail "the validator itself died"
    expect_in "$tmp/out" "FAIL step-equals-forward (tiny_crash_step, dense D=5 H=6 L=2 O=4): crashed with SIGSEGV" \
        "crash in step named"
    expect_in "$tmp/out" "PASS gradients (tiny_crash_step, dense" "checks without step still pass"
    expect_in "$tmp/out" "21 passed, 2 failed" "crash in step summary"
}

# A tensor table that reaches past the parameter buffer is refused before any buffer is used, in validate
# and when a command builds a model on the plugin.
case_validate_bad_table() {
    run "$RNNHOST" validate "$TINY_BAD_TABLE"
    expect_rc 1 "a tensor table past the end"
    expect_in "$tmp/out" "FAIL create (tiny_bad_table, dense D=5 H=6 L=2 O=4): tensor table refused: tensor 'by':" \
        "bad table named"
    expect_in "$tmp/out" "lies past the end of 178 parameters" "bad table reason"
    expect_in "$tmp/out" "PASS exports (plugin)" "checks that do not create still pass"
    printf 'abcabcabcabc\n%.0s' $(seq 200) >"$tmp/corpus.txt"
    run "$RNNHOST" train --plugin-path "$TINY_BAD_TABLE" --cell tiny_bad_table --rnn-size 8 --num-layers 1 \
        --batch-size 4 --seq-length 16 --data "$tmp/corpus.txt" --max-steps 2 -o "$tmp/m.safetensors"
    expect_rc 3 "train on a plugin with a bad tensor table"
    expect_in "$tmp/err" "core 'tiny_bad_table': tensor 2 lies outside its 104 parameters" "train names the reason"
    [ -e "$tmp/m.safetensors" ] && fail "train wrote a model from a refused plugin"
}

# A half-step copy that rounds float parameters changes results: the half-step check fails, and only it.
# A plugin without the extension (tiny, built with the vtable of the first release) passes it as optional.
case_validate_bad_half() {
    run "$RNNHOST" validate "$TINY"
    expect_in "$tmp/out" "PASS half-step (tiny, dense D=5 H=6 L=2 O=4): not offered (optional)" "no extension"
    run "$RNNHOST" validate "$TINY_BAD_HALF"
    expect_rc 1 "a rounding half copy"
    expect_in "$tmp/out" "FAIL half-step (tiny_bad_half, dense D=5 H=6 L=2 O=4): float parameters: step 0:" \
        "a rounding half copy caught"
    expect_in "$tmp/out" "21 passed, 2 failed" "only the half-step check fails"
}

# Non-finite outputs on saturating inputs fail the finite check, and only it.
case_validate_nan_output() {
    run "$RNNHOST" validate "$TINY_NAN_OUTPUT"
    expect_rc 1 "NaN outputs"
    expect_in "$tmp/out" "FAIL finite (tiny_nan_output, dense D=5 H=6 L=2 O=4): forward gives non-finite outputs" \
        "NaN outputs caught"
    expect_in "$tmp/out" "22 passed, 1 failed" "only the finite check fails"
}

# A descriptor string that runs on past any sane length is refused with one line, not read to its end.
case_long_name() {
    expect_load_error "an overlong model name" \
        "invalid descriptor: model 'tiny_long_name' has a name, version or description that is too long" \
        "$TINY_LONG_NAME"
}

case_real_plugins_listed() {
    run "$RNNHOST" plugins --json
    expect_rc 0 "plugins from the build tree"
    json '{"rnn", "gru"} <= {p["id"] for p in d["plugins"]}' "rnn and gru listed"
    json 'all("/plugins/" in p["path"] for p in d["plugins"])' "from the build tree's plugins folder"
    json 'all(p["abi_version"] == 1 for p in d["plugins"])' "abi versions"
}

case_validate_real() { # ID
    run "$RNNHOST" validate "$1"
    expect_rc 0 "validate $1"
    expect_not_in "$tmp/out" "FAIL" "validate $1"
    expect_in "$tmp/out" "PASS gradients ($1," "validate $1"
    expect_in "$tmp/out" " 0 failed" "validate $1"
}

# `rnnhost presets`: the shipped presets with their task, size and their own description; an unknown name
# lists them.
case_presets() {
    local shipped='["chorales", "digits", "dinos", "folk", "nottingham", "pos-en", "sentiment", "shakespeare", "splice"]'
    run "$RNNHOST" presets
    expect_rc 0 "presets"
    expect_in "$tmp/out" "DESCRIPTION" "presets: a header line"
    for line in "chorales     pianoroll" "digits       ctc" "dinos        lm" "folk         midi-lm" \
        "pos-en       tag" "sentiment    classify" "shakespeare  lm" "splice       classify"; do
        expect_in "$tmp/out" "$line" "presets: name and task"
    done
    expect_in "$tmp/out" "Dinosaur names, one per line" "presets: the file's own description"
    expect_in "$tmp/out" "searched: " "presets: the folders searched"
    run env RNNHOST_PRESET_PATH= "$RNNHOST" presets --json
    expect_rc 0 "presets --json"
    json 'd["schema"] == 1 and d["errors"] == [] and len(d["search_path"]) == 1' "presets --json: the envelope"
    json "[p['name'] for p in d['presets']] == $shipped" "presets --json: every shipped preset, sorted"
    json 'all(p["parameters"] > 0 and p["bytes"] > 0 and p["description"] and p["description_from"] == "metadata"
              and p["path"].endswith("/" + p["name"] + ".safetensors") for p in d["presets"])' \
        "presets --json: sizes and descriptions"
    json '{p["name"]: (p["task"], p["parameters"], p["dtype"]) for p in d["presets"]}["dinos"] == ("lm", 5277, "f32")' \
        "presets --json: dinos' task, parameters and storage type"
    json '{p["name"]: p["dtype"] for p in d["presets"]}["shakespeare"] == "f16"' "presets --json: a half-precision preset"
    run "$RNNHOST" presets --help
    expect_rc 0 "presets --help"
    expect_in "$tmp/out" "RNNHOST_PRESET_PATH" "presets --help names the preset path"
    run "$RNNHOST" presets --bogus
    expect_rc 2 "presets with an unknown option"
    run "$RNNHOST" presets dinos
    expect_rc 2 "presets with an argument"
    run "$RNNHOST" sample -m no-such-preset -n 5
    expect_rc 3 "sample -m with an unknown preset"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "unknown preset: $(wc -l <"$tmp/err") lines on stderr, expected 1"
    expect_in "$tmp/err" "no preset named 'no-such-preset' (presets: chorales, digits, dinos, folk, nottingham, pos-en, sentiment, shakespeare, splice in " \
        "unknown preset: the message lists the presets"
    expect_in "$tmp/err" "'rnnhost presets'" "unknown preset: the message points to 'rnnhost presets'"
    run "$RNNHOST" export dinos -o x.safetensors --description "$(printf 'two\nlines')"
    expect_rc 2 "export --description of two lines"
}

# RNNHOST_PRESET_PATH: its folders come first, in order, empty elements and the current directory never
# searched; a name there hides a shipped one; a file without a description gets one made from its
# metadata; an unreadable file is listed under errors with exit code 3.
case_preset_path() {
    mkdir -p "$tmp/a" "$tmp/b" "$tmp/c"
    "$RNNHOST" export dinos -o "$tmp/a/mine.safetensors" --description "my own dinosaurs" 2>/dev/null ||
        fail "export --description"
    "$RNNHOST" export "$tmp/a/mine.safetensors" -o "$tmp/a/again.safetensors" 2>/dev/null || fail "export again"
    "$RNNHOST" export chorales -o "$tmp/a/dinos.safetensors" 2>/dev/null || fail "export chorales as dinos"
    "$RNNHOST" export dinos -o "$tmp/b/plain.safetensors" --description "" 2>/dev/null || fail "export without a description"
    "$RNNHOST" export digits -o "$tmp/b/speech.safetensors" --description "" 2>/dev/null || fail "export digits"
    printf 'not a model' >"$tmp/b/broken.safetensors"
    cp "$tmp/a/mine.safetensors" "$tmp/c/here.safetensors"
    cp "$tmp/a/mine.safetensors" "$tmp/b/.hidden.safetensors"
    export RNNHOST_PRESET_PATH="::$tmp/a::$tmp/b:"
    run "$RNNHOST" presets --json
    expect_rc 3 "presets with an unreadable file on the path"
    json "d['search_path'][:2] == ['$tmp/a', '$tmp/b'] and len(d['search_path']) == 3" "the path's folders first, empty ones left out"
    json '[p["name"] for p in d["presets"]] == ["again", "chorales", "digits", "dinos", "folk", "mine", "nottingham", "plain", "pos-en", "sentiment", "shakespeare", "speech", "splice"]' \
        "every preset once, hidden files left out"
    json 'd["errors"][0]["name"] == "broken" and d["errors"][0]["path"].endswith("/b/broken.safetensors") and len(d["errors"]) == 1' \
        "the unreadable file under errors"
    json '{p["name"]: p for p in d["presets"]}["dinos"]["task"] == "pianoroll"' "a name on the path hides the shipped preset"
    json '{p["name"]: p for p in d["presets"]}["mine"]["description"] == "my own dinosaurs"' "--description kept in the file"
    json '{p["name"]: p for p in d["presets"]}["again"]["description"] == "my own dinosaurs"' "export keeps a description"
    json '{p["name"]: p for p in d["presets"]}["plain"]["description"] == "a character language model: rnn, 1 layer of 50, 27 symbols"' \
        "a description made from the metadata"
    json '{p["name"]: p for p in d["presets"]}["plain"]["description_from"] == "derived"' "description_from"
    json '"bidirectional, 10 words at 8000 Hz" in {p["name"]: p for p in d["presets"]}["speech"]["description"]' \
        "a speech model's description made from its metadata"
    run "$RNNHOST" presets
    expect_rc 3 "presets (text) with an unreadable file"
    expect_in "$tmp/err" "cannot read preset broken: " "the unreadable file on stderr"
    expect_in "$tmp/out" "my own dinosaurs" "presets (text) lists the path's presets"
    expect_in "$tmp/out" "searched: $tmp/a, $tmp/b, " "presets (text): the folders searched"
    run "$RNNHOST" sample -m mine -n 20 --seed 1
    expect_rc 0 "sample -m NAME from RNNHOST_PRESET_PATH"
    run "$RNNHOST" sample -m dinos -n 20
    expect_rc 3 "-m dinos opens the path's dinos (a piano-roll model) first"
    expect_in "$tmp/err" "$tmp/a/dinos.safetensors" "the path's dinos"
    run "$RNNHOST" sample -m nothing -n 5
    expect_rc 3 "an unknown name with RNNHOST_PRESET_PATH"
    expect_in "$tmp/err" "presets: again, broken, chorales," "the unknown name's message lists the path's presets"
    expect_in "$tmp/err" " in $tmp/a, $tmp/b, " "the unknown name's message names the folders"
    cd "$tmp/c" || return
    RNNHOST_PRESET_PATH= run "$RNNHOST" sample -m here -n 5
    expect_rc 3 "a preset in the current directory is never found by name"
    run "$RNNHOST" --help
    expect_in "$tmp/out" "RNNHOST_PRESET_PATH" "rnnhost --help names RNNHOST_PRESET_PATH"
    expect_in "$tmp/out" "presets " "rnnhost --help lists the presets command"
}

case "${1:-}" in
cli) case_cli ;;
load-errors) case_load_errors ;;
system-library) case_system_library ;;
plugins-json) case_plugins_json ;;
no-current-directory) case_no_current_directory ;;
duplicate-model) case_duplicate_model ;;
validate-tiny) case_validate_tiny ;;
validate-json-seeded) case_validate_json_seeded ;;
validate-wrong-grad) case_validate_wrong_grad ;;
validate-crash-create) case_validate_crash_create ;;
validate-two-exports) case_validate_two_exports ;;
validate-hang) case_validate_hang ;;
validate-crash-step) case_validate_crash_step ;;
validate-bad-table) case_validate_bad_table ;;
validate-nan-output) case_validate_nan_output ;;
validate-bad-half) case_validate_bad_half ;;
long-name) case_long_name ;;
real-plugins-listed) case_real_plugins_listed ;;
validate-rnn) case_validate_real rnn ;;
validate-gru) case_validate_real gru ;;
presets) case_presets ;;
preset-path) case_preset_path ;;
*) echo "unknown case '${1:-}'" >&2; exit 1 ;;
esac

if [ "$fails" -ne 0 ]; then
    echo "$1: $fails assertion(s) failed" >&2
    exit 1
fi
echo "$1: ok"
exit 0
