#!/usr/bin/env bash
# Enrolment of a new voice into the `digits` preset, measured on a speaker of the FSDD folder that the
# base model never heard (a model from `presets/train-digits.sh RNNHOST WORK SPEAKER`).
#
# Usage: presets/enrol-digits.sh RNNHOST BASE_MODEL SPEAKER WORKDIR [TRAIN OPTIONS...]
#   Enrolment: takes 0 and 1 of each digit of SPEAKER (20 clips, WORKDIR/enrol.tsv); the test: every
#   other take of that speaker (WORKDIR/rest.tsv, 480 clips in FSDD). Prints the share of the test clips
#   exactly right before (BASE_MODEL) and after enrolment (WORKDIR/mine.safetensors, fine-tuned by
#   `rnnhost train --task ctc --init-from BASE_MODEL --manifest enrol.tsv -o mine.safetensors` and
#   nothing else but the TRAIN OPTIONS given, for experiments), and the fine-tuning's wall time.
#   FSDD: ../shared/data/fsdd beside the project, or $FSDD.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 4 ] || { sed -n '4,11p' "$0" >&2; exit 2; }
rnnhost=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
base=$2 speaker=$3 work=$4
shift 4
case $base in */*) base=$(cd "$(dirname "$base")" && pwd)/$(basename "$base") ;; esac # a preset name stays one
fsdd=$(cd "${FSDD:-$root/../shared/data/fsdd}" && pwd)
mkdir -p "$work"
cd "$work"
names=(zero one two three four five six seven eight nine)
: > enrol.tsv
: > rest.tsv
for d in 0 1 2 3 4 5 6 7 8 9; do
  for f in "$fsdd/${d}_${speaker}_"*.wav; do
    [ -e "$f" ] || { echo "enrol-digits: no recording of ${names[$d]} by $speaker in $fsdd" >&2; exit 1; }
    take=${f##*_}; take=${take%.wav}
    if [ "$take" -le 1 ]; then
      printf '%s\t%s\n' "$f" "${names[$d]}" >> enrol.tsv
    else
      printf '%s\t%s\n' "$f" "${names[$d]}" >> rest.tsv
    fi
  done
done
exact() { "$rnnhost" eval -m "$1" --manifest rest.tsv -j 1 | awk '$1 == "exact" { print $2 }'; }
before=$(exact "$base")
start=$(date +%s.%N)
"$rnnhost" train --task ctc --init-from "$base" --manifest enrol.tsv -o mine.safetensors -q "$@"
seconds=$(echo "$(date +%s.%N) - $start" | bc)
after=$(exact mine.safetensors)
printf '%s: %s enrolment clips, %s test clips; exactly right before %s, after %s; fine-tuning %.1f s\n' \
  "$speaker" "$(wc -l < enrol.tsv)" "$(wc -l < rest.tsv)" "$before" "$after" "$seconds"
