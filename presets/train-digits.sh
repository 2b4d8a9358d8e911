#!/usr/bin/env bash
# Trains the `digits` preset: spoken English digit strings ("zero" ... "nine"), isolated or connected.
# Data: the four FSDD speakers of ../shared/data/fsdd, their clips joined into strings of 3-7 digits with
# random pauses, their clips cut close to (or into) the word and made up to 35 % faster, espeak-ng speech
# with 8 accents and 39 voice variants, and flite and festival voices of recorded speakers, at varied
# speed, pitch and formants (presets/make-digits-data.py; needs espeak-ng, flite, festival and its voices,
# and sox, which `.ci/install-deps --recipes` installs). Model: a bidirectional GRU, 2 layers of 128,
# over 40 log-mels at 8 kHz stacked 3 frames to a 30 ms step, normalised with the training set's statistics
# pooled as 300 frames with each file's own, with CTC over the ten words. Augmentation:
# speed 1/1.15..1.15, gain +-6 dB, white or pink noise at 10-40 dB SNR, two SpecAugment masks, and every
# other utterance in a simulated room (--augment-reverb 0.5). 10,000 steps (27 epochs; STEPS=N for
# another count, or BUDGET=16m for a time limit instead); THREADS (default 1) threads.
#
# Usage: presets/train-digits.sh [RNNHOST] [WORKDIR] [HOLDOUT]
#   HOLDOUT: a speaker (george, jackson, lucas, nicolas, or another whose recordings were added to the
#   FSDD folder in its layout) left out of training entirely; the script then reports the error rates
#   on that speaker's isolated clips and connected strings instead of writing the preset. Without it,
#   every speaker of the folder trains the preset, WORKDIR/digits.safetensors (never written into presets/:
#   copy it there, with WORKDIR/data/example.wav and example.txt as digits-example.*, to ship it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rnnhost=${1:-$root/build/host/rnnhost}
work=${2:-$(mktemp -d)}
holdout=${3:-}
limit=(--max-steps "${STEPS:-10000}")
[ -n "${BUDGET:-}" ] && limit=(--time-budget "$BUDGET")
mkdir -p "$work"
python3 "$root/presets/make-digits-data.py" "$work/data" ${holdout:+--holdout "$holdout"}
start=$(date +%s)
"$rnnhost" train --task ctc --manifest "$work/data/train.tsv" --val-manifest "$work/data/valid.tsv" \
  --units words --sample-rate 8000 --norm-prior 300 --rnn-size 128 --num-layers 2 --bidirectional --batch-size 32 \
  --learning-rate 0.002 --augment-speed 1.15 --augment-gain 6 --augment-noise 10 --augment-mask 2 \
  --augment-reverb 0.5 "${limit[@]}" --threads "${THREADS:-1}" --seed 1 --print-every 200 --checkpoint-every 200 \
  --checkpoint-dir "$work/ckpt" -o "$work/digits.safetensors"
echo "trained in $(( $(date +%s) - start )) s"
if [ -n "$holdout" ]; then
  for set in heldout-isolated heldout-connected; do
    echo "$set ($holdout, never heard in training):"
    "$rnnhost" eval -m "$work/digits.safetensors" --manifest "$work/data/$set.tsv"
  done
else
  "$rnnhost" export "$work/digits.safetensors" -o "$work/digits.safetensors" \
    --description "Spoken English digits, zero to nine, alone or in strings, 8 kHz: a bidirectional GRU, 2 layers of 128"
  echo "to ship it: cp $work/digits.safetensors $root/presets/digits.safetensors;" \
    "cp $work/data/example.wav $root/presets/digits-example.wav; cp $work/data/example.txt $root/presets/digits-example.txt"
fi
