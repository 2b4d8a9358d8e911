#!/usr/bin/env bash
# Trains the `chorales` preset: a GRU of 128 units over the JSB Chorales piano roll (88 pitches, one frame
# per quarter note), sigmoid outputs, Adam at 0.005 decayed by 0.97 per epoch after 10, batches of 4
# chorales, up to 120 epochs, validation every epoch; recurrent dropout 0.5 and output dropout 0.2, stopped
# when 15 validations in a row do not better the best. The preset is the model of the lowest validation
# NLL. The vanilla RNN is trained as before (no dropout, 120 epochs) for comparison, as Chung et al. did.
# Usage: presets/train-chorales.sh [RNNHOST] [WORKDIR]   (defaults: build/host/rnnhost, a new temporary folder)
# Writes WORKDIR/chorales.safetensors, never presets/: copy it there to ship it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rnnhost=${1:-$root/build/host/rnnhost}
work=${2:-$(mktemp -d)}
data=$root/../shared/data/jsb-chorales/jsb-chorales-pianoroll.json
[ -f "$data" ] || { echo "train-chorales: $data not found" >&2; exit 1; }
mkdir -p "$work"

for cell in gru rnn; do
  start=$(date +%s)
  # the GRU regularised (dropout of its state inside the recurrence and of its output); the RNN as published
  regularise=()
  [ "$cell" = gru ] && regularise=(--recurrent-dropout 0.5 --dropout 0.2 --patience 15)
  "$rnnhost" train --task pianoroll --data "$data" --split train --val-split valid \
    --cell "$cell" --rnn-size 128 --num-layers 1 --batch-size 4 --seq-length 160 "${regularise[@]}" \
    --optimizer adam --learning-rate 0.005 --lr-decay 0.97 --lr-decay-after 10 --grad-clip 5 \
    --max-epochs 120 --eval-every 57 --threads 1 --seed 1 --quiet \
    --checkpoint-dir "$work/$cell" --log-json "$work/$cell.jsonl" -o "$work/$cell-best.safetensors"
  echo "$cell: $(( $(date +%s) - start )) s"
  "$rnnhost" eval -m "$work/$cell-best.safetensors" --data "$data" --split valid | tail -n 1
  [ "$cell" = gru ] && "$rnnhost" export "$work/$cell-best.safetensors" -o "$work/chorales.safetensors" \
    --description "Bach's four-part chorales as piano rolls, one frame per quarter note: a GRU of 128 trained on JSB Chorales"
done
if cmp -s "$work/chorales.safetensors" "$root/presets/chorales.safetensors"; then
  echo "$work/chorales.safetensors is the shipped preset, bit for bit"
else
  echo "$work/chorales.safetensors differs from the shipped preset; to ship it: cp $work/chorales.safetensors $root/presets/"
fi
