#!/usr/bin/env bash
# Trains the `dinos` preset: the Dinosaur Island exercise reproduced. A tanh RNN with 50 hidden units
# over one-hot characters, SGD at learning rate 0.01 on one name per step, every gradient clipped to
# [-5, 5], 35,000 steps over the lower-cased names. Prints the loss smoothed the way the exercise does
# (0.999 old + 0.001 new, from 7 ln 27) and ten sampled names, and says whether the model is the shipped
# preset bit for bit (it is on a CPU of the reference machine's kind: see presets/README.md).
# Usage: presets/train-dinos.sh [RNNHOST] [WORKDIR]   (defaults: build/host/rnnhost, a new temporary folder)
# Writes WORKDIR/dinos.safetensors, never presets/: copy it there to ship it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rnnhost=${1:-$root/build/host/rnnhost}
work=${2:-$(mktemp -d)}
data=$root/../shared/data/dinos/dinos.txt
[ -f "$data" ] || { echo "train-dinos: $data not found" >&2; exit 1; }
mkdir -p "$work"

tr '[:upper:]' '[:lower:]' <"$data" |
  "$rnnhost" train --data - --per-line --val-frac 0 \
    --cell rnn --rnn-size 50 --num-layers 1 --seq-length 32 --batch-size 1 \
    --optimizer sgd --learning-rate 0.01 --lr-decay 1 --clip-value 5 --grad-clip 0 \
    --max-steps 35000 --eval-every 0 --checkpoint-every 0 --seed 1 --threads 1 --print-every 5000 \
    --checkpoint-dir "$work/ck" --log-json "$work/log.jsonl" -o "$work/trained.safetensors"
"$rnnhost" export "$work/trained.safetensors" -o "$work/dinos.safetensors" \
  --description "Dinosaur names, one per line: the Dinosaur Island exercise's tanh RNN of 50 on 1,536 names"

python3 - "$work/log.jsonl" <<'PY'
import json, math, sys
smooth = 7 * math.log(27)
print("step  smoothed loss per name")
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] != "train":
        continue
    smooth = 0.999 * smooth + 0.001 * r["loss"]
    if r["step"] % 2000 == 0 or r["step"] == 34000:
        print(f"{r['step']:5d}  {smooth:.2f}")
PY
"$rnnhost" sample -m "$work/dinos.safetensors" --num-samples 10 --stop-at-newline --seed 1
if cmp -s "$work/dinos.safetensors" "$root/presets/dinos.safetensors"; then
  echo "$work/dinos.safetensors is the shipped preset, bit for bit"
else
  echo "$work/dinos.safetensors differs from the shipped preset (another CPU kind or OpenBLAS build sums" \
    "in another order); to ship it: cp $work/dinos.safetensors $root/presets/"
fi
