#!/usr/bin/env bash
# Trains the `shakespeare` preset: a 2-layer GRU of 512 units over one-hot characters on the first 90 %
# of tiny-shakespeare's train.txt (the last 10 % is held out for validation), Adam, gradient norm clipped
# at 5, for 30 minutes of wall time on a 2-core machine. The preset is the checkpoint with the lowest
# validation loss (early stopping), exported without its training state in half precision.
# Usage: presets/train-shakespeare.sh [RNNHOST] [WORKDIR]   (defaults: build/host/rnnhost, a temp dir)
# Writes WORKDIR/shakespeare.safetensors, never presets/: copy it there to ship it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rnnhost=${1:-$root/build/host/rnnhost}
work=${2:-$(mktemp -d)}
data=$root/../shared/data/tinyshakespeare/train.txt
[ -f "$data" ] || { echo "train-shakespeare: $data not found" >&2; exit 1; }
mkdir -p "$work"

"$rnnhost" train --data "$data" --val-frac 0.1 \
  --cell gru --rnn-size 512 --num-layers 2 --batch-size 64 --seq-length 100 \
  --optimizer adam --learning-rate 0.002 --lr-decay 0.9 --lr-decay-after 4 --grad-clip 5 \
  --eval-every 140 --eval-streams 16 --print-every 20 --time-budget 30m --seed 1 \
  --checkpoint-dir "$work/ck" --log-json "$work/log.jsonl" -o "$work/final.safetensors"

# The checkpoint with the lowest validation loss becomes the preset.
best=$(ls "$work"/ck/*_val*.safetensors | sed 's/.*_val\(.*\)\.safetensors/\1 &/' | sort -n | head -n 1 | cut -d' ' -f2)
echo "best checkpoint: $best"
"$rnnhost" export "$best" -o "$work/shakespeare.safetensors" --dtype f16 \
  --description "Shakespeare's plays, character by character: a 2-layer GRU of 512 trained on tiny-shakespeare"
tail -c 100385 "$data" >"$work/heldout.txt"
"$rnnhost" score -m "$work/shakespeare.safetensors" --streams 16 "$work/heldout.txt"
"$rnnhost" sample -m "$work/shakespeare.safetensors" --prime-text "ROMEO:" -n 600 --seed 1 --temperature 0.8
echo "to ship it: cp $work/shakespeare.safetensors $root/presets/"
