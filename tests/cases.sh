# Shared by the command-line test scripts (tests/*/*_cases.sh), sourced after `here` is set:
# a private working directory, and assertions that count failures instead of stopping, so one run
# reports every broken property. The script ends with `finish CASE`.
set -u
fails=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rnnhost-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# run CMD...: stdout in $tmp/out, stderr in $tmp/err, exit code in $rc.
run() { "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }

expect_rc() { # CODE WHAT
    if [ "$rc" -ne "$1" ]; then
        fail "$2: exit code $rc, expected $1"
        sed 's/^/  stdout: /' "$tmp/out" | head -20 >&2
        sed 's/^/  stderr: /' "$tmp/err" | head -20 >&2
    fi
}

expect_in() { # FILE STRING WHAT
    grep -qF -- "$2" "$1" || { fail "$3: '$2' not in $(basename "$1")"; sed 's/^/  | /' "$1" | head -20 >&2; }
}

# need_data PATH: skips the case (exit 77) when PATH, a part of ../shared/data, is not there at all. Anything
# that is there, even a broken link, an empty folder or a directory where a file belongs, goes on to the
# case and fails it: a skip must never stand for a fault.
need_data() {
    if [ ! -e "$1" ] && [ ! -L "$1" ]; then
        echo "skip: $1 is absent"
        exit 77
    fi
}

# Runs case_NAME (dashes become underscores) and turns the failure count into the exit status.
finish() {
    declare -F "case_${1//-/_}" >/dev/null || { echo "unknown case '$1'" >&2; exit 1; }
    "case_${1//-/_}"
    [ "$fails" -eq 0 ] || { echo "$fails failure(s) in $1" >&2; exit 1; }
    echo "ok: $1"
}
