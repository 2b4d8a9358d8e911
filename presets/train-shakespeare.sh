#!/usr/bin/env bash
# Trains the `shakespeare` preset: a 2-layer GRU of 512 units over one-hot characters on the first 90 %
# of tiny-shakespeare's train.txt, dropout 0.3 between the layers and before the output, Adam, gradient
# norm clipped at 5, 16 epochs (under an hour on 2 cores). The preset is the weights of
# the best validation loss on the first half of the held-out 10 % (-o), exported without its training
# state in half precision; the second half is scored only at the end.
# Usage: presets/train-shakespeare.sh [RNNHOST] [WORKDIR]   (defaults: build/host/rnnhost, a temp dir)
# Writes WORKDIR/shakespeare.safetensors, never presets/: copy it there to ship it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rnnhost=${1:-$root/build/host/rnnhost}
work=${2:-$(mktemp -d)}
data=$root/../shared/data/tinyshakespeare/train.txt
[ -f "$data" ] || { echo "train-shakespeare: $data not found" >&2; exit 1; }
mkdir -p "$work"

# The last 10 % of train.txt (100,385 characters, ASCII) is held out of training, in two halves: the first
# chooses the checkpoint, the second is scored only at the end.
size=$(wc -c <"$data")
head -c $((size - 100385)) "$data" >"$work/train.txt"
tail -c 100385 "$data" | head -c 50193 >"$work/valid.txt"
tail -c 50192 "$data" >"$work/heldout.txt"

"$rnnhost" train --data "$work/train.txt" --val-data "$work/valid.txt" \
  --cell gru --rnn-size 512 --num-layers 2 --batch-size 64 --seq-length 100 --dropout 0.3 \
  --optimizer adam --learning-rate 0.002 --lr-decay 0.9 --lr-decay-after 8 --grad-clip 5 \
  --eval-every 141 --eval-streams 16 --print-every 20 --max-epochs 16 --seed 1 \
  --checkpoint-dir "$work/ck" --log-json "$work/log.jsonl" -o "$work/best.safetensors"

"$rnnhost" export "$work/best.safetensors" -o "$work/shakespeare.safetensors" --dtype f16 \
  --description "Shakespeare's plays, character by character: a 2-layer GRU of 512 trained with dropout on tiny-shakespeare"
echo "validation (chose the checkpoint):"
"$rnnhost" score -m "$work/shakespeare.safetensors" "$work/valid.txt" | tail -n 1
echo "held out (never seen in training or in choosing):"
"$rnnhost" score -m "$work/shakespeare.safetensors" "$work/heldout.txt" | tail -n 1
"$rnnhost" sample -m "$work/shakespeare.safetensors" --prime-text "ROMEO:" -n 600 --seed 1 --temperature 0.8
echo "to ship it: cp $work/shakespeare.safetensors $root/presets/"
