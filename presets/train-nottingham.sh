#!/usr/bin/env bash
# Trains the `nottingham` preset: a GRU of 256 units over the 88-pitch multi-hot piano-roll frames of the
# Nottingham folk tunes (the data set's own time steps), with sigmoid outputs; -o is the weights of the best
# validation on the data set's validation tunes (its test tunes are held back). About 15 minutes on one core.
# Usage: presets/train-nottingham.sh [RNNHOST] [WORKDIR]   (defaults: build/host/rnnhost, a temp dir)
# Writes WORKDIR/nottingham.safetensors, never presets/: copy it there to ship it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rnnhost=${1:-$root/build/host/rnnhost}
work=${2:-$(mktemp -d)}
data=$root/../shared/data/nottingham/nottingham-pianoroll.json
[ -f "$data" ] || { echo "train-nottingham: $data not found" >&2; exit 1; }
mkdir -p "$work"

"$rnnhost" train --task pianoroll --data "$data" --split train --val-split valid \
  --cell gru --rnn-size 256 --num-layers 1 --batch-size 8 --seq-length 200 \
  --optimizer adam --learning-rate 0.005 --lr-decay 0.97 --lr-decay-after 10 --grad-clip 5 \
  --max-epochs 40 --eval-every 146 --patience 6 --threads 1 --seed 1 --quiet \
  --checkpoint-dir "$work/ck" --log-json "$work/log.jsonl" -o "$work/best.safetensors"
"$rnnhost" export "$work/best.safetensors" -o "$work/nottingham.safetensors" \
  --description "Folk tunes of the Nottingham collection as piano rolls: a GRU of 256 trained on the Nottingham data set"
"$rnnhost" eval -m "$work/nottingham.safetensors" --data "$data" --split valid | tail -n 1
"$rnnhost" generate -m "$work/nottingham.safetensors" -o "$work/tune.mid" --seed 7
if cmp -s "$work/nottingham.safetensors" "$root/presets/nottingham.safetensors"; then
  echo "$work/nottingham.safetensors is the shipped preset, bit for bit"
else
  echo "$work/nottingham.safetensors differs from the shipped preset; to ship it: cp $work/nottingham.safetensors $root/presets/"
fi
