#!/usr/bin/env bash
# Trains the `sentiment` preset: the UCI sentiment labelled sentences (Amazon, IMDb and Yelp reviews, CC BY
# 4.0), 0 negative and 1 positive. A GRU of 64 units reads each sentence's words both ways (--input words;
# words seen once in training are the unknown word), the logits max-pooled over the words, dropout 0.3,
# Adam at 0.002 in batches of 32, 20 epochs with a validation at every epoch's end; no pretrained word
# vectors. The preset is the model of the best validation error rate. Prints the validation accuracy, each
# label's precision, recall and F1 and the confusion matrix; the test split is held back.
# Usage: presets/train-sentiment.sh [RNNHOST] [WORKDIR]   (defaults: build/host/rnnhost, a new temporary folder)
# Writes WORKDIR/sentiment.safetensors, never presets/: copy it there to ship it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rnnhost=${1:-$root/build/host/rnnhost}
work=${2:-$(mktemp -d)}
data=$root/../shared/data/sentiment-uci
[ -f "$data/train.tsv" ] || { echo "train-sentiment: $data/train.tsv not found" >&2; exit 1; }
mkdir -p "$work"

start=$(date +%s)
"$rnnhost" train --task classify --data "$data/train.tsv" --val-data "$data/valid.tsv" --input words \
  --min-count 2 --cell gru --rnn-size 64 --num-layers 1 --bidirectional --pool max --dropout 0.3 \
  --batch-size 32 --optimizer adam --learning-rate 0.002 --max-epochs 20 --seed 1 --threads 1 --quiet \
  --checkpoint-dir "$work/ck" --log-json "$work/log.jsonl" -o "$work/trained.safetensors"
echo "trained in $(( $(date +%s) - start )) s"
"$rnnhost" export "$work/trained.safetensors" -o "$work/sentiment.safetensors" \
  --description "Review sentences, 0 negative or 1 positive: a bidirectional GRU of 64 over words (UCI, CC BY 4.0)"
"$rnnhost" eval -m "$work/sentiment.safetensors" --data "$data/valid.tsv"
echo "to ship it: cp $work/sentiment.safetensors $root/presets/"
