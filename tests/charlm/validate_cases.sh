#!/usr/bin/env bash
# One `rnnhost validate charlm ...` case per call: validate_cases.sh CASE. Needs $RNNHOST and $LSTM (the
# template LSTM module, example.lstm; the core `lstm` is the shipped plugin). Exits 0 when the case behaves
# as expected, 1 otherwise, saying why.
set -u
case_name=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $case_name: $*"
  echo "--- stdout"; cat "$tmp/out"
  echo "--- stderr"; cat "$tmp/err"
  exit 1
}

# validate ARGS...: runs the host, keeps stdout, stderr and the exit status.
validate() {
  "$RNNHOST" validate charlm "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

# Every check passes, and the per-config ones really ran on charlm over the wanted core.
expect_all_pass() {
  local core=$1
  [ "$rc" -eq 0 ] || fail "exit status $rc, want 0"
  grep -q "^FAIL" "$tmp/out" && fail "a check failed"
  grep -q "^PASS gradients (charlm, tokens .* core=$core" "$tmp/out" || fail "no gradients check of charlm over $core"
  grep -q "^PASS step-equals-forward (charlm, " "$tmp/out" || fail "no step-equals-forward check"
  grep -q "^13 passed, 0 failed$" "$tmp/out" || fail "not the 13 checks expected"
}

case "$case_name" in
  gru) validate --core gru; expect_all_pass gru ;;
  rnn) validate --core rnn; expect_all_pass rnn ;;
  lstm) validate --core lstm; expect_all_pass lstm ;;
  gru-embed)
    validate --core gru --options embed=4; expect_all_pass gru
    grep -q "options=embed=4" "$tmp/out" || fail "the options did not reach the config" ;;
  rnn-embed)
    validate --core rnn --options embed=4; expect_all_pass rnn
    grep -q "options=embed=4" "$tmp/out" || fail "the options did not reach the config" ;;
  lstm-core-embed)
    validate --core lstm --options embed=4; expect_all_pass lstm
    grep -q "options=embed=4" "$tmp/out" || fail "the options did not reach the config" ;;
  lstm-embed)
    validate --plugin-path "$LSTM" --core example.lstm --options embed=4; expect_all_pass example.lstm ;;
  lstm-onehot-refused)
    # The LSTM reads dense input only: without an embedding charlm must refuse it, not crash or hang.
    validate --plugin-path "$LSTM" --core example.lstm
    [ "$rc" -eq 1 ] || fail "exit status $rc, want 1 (checks failed, nothing else)"
    grep -Eq "crashed|timed out" "$tmp/out" && fail "a check crashed or hung"
    grep -q "^FAIL create (charlm, .*core=example.lstm): create_model('charlm') failed: unsupported.*embed=N" \
      "$tmp/out" || fail "create was not refused as unsupported with a hint at embed=N"
    grep -q "^PASS exports (plugin)" "$tmp/out" || fail "the plugin-level checks should still pass"
    grep -q "^PASS bad-config (charlm)" "$tmp/out" || fail "bad-config should still pass" ;;
  *) echo "unknown case $case_name"; exit 1 ;;
esac
echo "ok: $case_name"
exit 0
