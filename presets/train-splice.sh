#!/usr/bin/env bash
# Trains the `splice` preset: primate splice junctions (UCI, CC BY 4.0), a 60-nucleotide window labelled
# EI (donor), IE (acceptor) or N (neither). A GRU of 64 units reads each window both ways over its letters
# (--input chars), the logits max-pooled over the steps, dropout 0.3, Adam at 0.002 in batches of 32, 80
# epochs with a validation at every epoch's end; one thread. The preset is the model of the best validation
# error rate.
# Prints the validation accuracy, each label's precision, recall and F1 and the confusion matrix; the test
# split is held back.
# Usage: presets/train-splice.sh [RNNHOST] [WORKDIR]   (defaults: build/host/rnnhost, a new temporary folder)
# Writes WORKDIR/splice.safetensors, never presets/: copy it there to ship it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rnnhost=${1:-$root/build/host/rnnhost}
work=${2:-$(mktemp -d)}
data=$root/../shared/data/splice
[ -f "$data/train.tsv" ] || { echo "train-splice: $data/train.tsv not found" >&2; exit 1; }
mkdir -p "$work"

start=$(date +%s)
"$rnnhost" train --task classify --data "$data/train.tsv" --val-data "$data/valid.tsv" --input chars \
  --cell gru --rnn-size 64 --num-layers 1 --bidirectional --pool max --dropout 0.3 \
  --batch-size 32 --optimizer adam --learning-rate 0.002 --max-epochs 80 --seed 1 --threads 1 --quiet \
  --checkpoint-dir "$work/ck" --log-json "$work/log.jsonl" -o "$work/trained.safetensors"
echo "trained in $(( $(date +%s) - start )) s"
"$rnnhost" export "$work/trained.safetensors" -o "$work/splice.safetensors" \
  --description "Primate splice junctions, EI / IE / N from a 60-nucleotide window: a bidirectional GRU of 64"
"$rnnhost" eval -m "$work/splice.safetensors" --data "$data/valid.tsv"
echo "to ship it: cp $work/splice.safetensors $root/presets/"
