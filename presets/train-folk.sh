#!/usr/bin/env bash
# Trains the `folk` preset: a Performance RNN style event model (note-on, note-off, 10 ms time shifts,
# 32 velocity bins: 388 tokens) of the Nottingham folk tunes (../shared/data/nottingham-midi, melody and
# chords), a 1-layer GRU of 512 units through charlm (a 2-layer GRU of 256 stayed at the
# unigram entropy, 3.87 nats per event, for 6 epochs), the last 10 % of the token stream held out, Adam,
# dropout 0.3 on the GRU's output, up to 16 epochs, stopped when 4 validations in a row do not better the
# best (it stopped after 9; the best was epoch 5). The preset is the model of the lowest validation loss.
# Usage: presets/train-folk.sh [RNNHOST] [WORKDIR]   (defaults: build/host/rnnhost, a new temporary folder)
# Writes WORKDIR/folk.safetensors, never presets/: copy it there to ship it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rnnhost=${1:-$root/build/host/rnnhost}
work=${2:-$(mktemp -d)}
data=$root/../shared/data/nottingham-midi
[ -d "$data" ] || { echo "train-folk: $data not found" >&2; exit 1; }
mkdir -p "$work"

"$rnnhost" train --task midi-lm --data "$data" --val-frac 0.1 \
  --cell gru --rnn-size 512 --num-layers 1 --batch-size 32 --seq-length 64 --dropout 0.3 \
  --optimizer adam --learning-rate 0.002 --lr-decay 0.9 --lr-decay-after 4 --grad-clip 5 \
  --eval-every 362 --eval-streams 16 --print-every 50 --max-epochs 16 --patience 4 --seed 1 \
  --checkpoint-dir "$work/ck" --log-json "$work/log.jsonl" -o "$work/best.safetensors"
"$rnnhost" export "$work/best.safetensors" -o "$work/folk.safetensors" --dtype f16 \
  --description "English and Irish folk tunes, melody and chords, as MIDI events: a GRU of 512 trained on the Nottingham tunes"
"$rnnhost" generate -m "$work/folk.safetensors" -o "$work/folk-seed7.mid" --seed 7
echo "to ship it: cp $work/folk.safetensors $root/presets/"
