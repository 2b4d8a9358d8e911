#!/usr/bin/env bash
# Trains the `sentiment` preset: SST-2 (the Stanford Sentiment Treebank's binary phrases and sentences as GLUE
# distributes them; its authors state no licence), 0 negative and 1 positive. A GRU of 64 units reads each
# line's words both ways (--input words; words seen once in training are the unknown word; --word-dim 0:
# the word ids go into the first layer's weights, as this preset was made before word vectors), the logits
# max-pooled over the words, dropout 0.3, Adam at 0.002 in batches of 32, 5 epochs with a validation at every
# epoch's end; no pretrained word vectors; one thread. The preset is the model of the best validation error
# rate, exported in half precision.
# SST-2's validation lines are phrases of the same sentences as the training lines, so its figure is
# optimistic. The recipe also scores the validation lines that no training line contains (valid-unseen.tsv,
# written into WORKDIR): a figure nearer to one on new sentences. The test split is held back.
# Prints the accuracy of both, each label's precision, recall and F1 and the confusion matrix.
# Usage: presets/train-sentiment.sh [RNNHOST] [WORKDIR]   (defaults: build/host/rnnhost, a new temporary folder)
# Writes WORKDIR/sentiment.safetensors, never presets/: copy it there to ship it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rnnhost=${1:-$root/build/host/rnnhost}
work=${2:-$(mktemp -d)}
data=$root/../shared/data/sst2
[ -f "$data/train.tsv" ] || { echo "train-sentiment: $data/train.tsv not found" >&2; exit 1; }
mkdir -p "$work"

start=$(date +%s)
"$rnnhost" train --task classify --data "$data/train.tsv" --val-data "$data/valid.tsv" --input words \
  --word-dim 0 --min-count 2 --cell gru --rnn-size 64 --num-layers 1 --bidirectional --pool max --dropout 0.3 \
  --batch-size 32 --optimizer adam --learning-rate 0.002 --max-epochs 5 --seed 1 --threads 1 \
  --checkpoint-dir "$work/ck" --log-json "$work/log.jsonl" -o "$work/trained.safetensors"
echo "trained in $(( $(date +%s) - start )) s"
"$rnnhost" export "$work/trained.safetensors" -o "$work/sentiment.safetensors" --dtype f16 \
  --description "Sentence sentiment, 0 negative or 1 positive: a bidirectional GRU of 64 over words (SST-2, no licence stated)"
# The validation lines no training line contains (as a string of characters): whole sentences, mostly.
python3 - "$data/train.tsv" "$data/valid.tsv" "$work/valid-unseen.tsv" <<'PY'
import sys
train = "\n".join(line.rstrip("\n").split("\t", 1)[1] for line in open(sys.argv[1], encoding="utf-8"))
with open(sys.argv[3], "w", encoding="utf-8") as out:
    for line in open(sys.argv[2], encoding="utf-8"):
        if line.rstrip("\n").split("\t", 1)[1] not in train:
            out.write(line)
PY
echo "== validation ($data/valid.tsv)"
"$rnnhost" eval -m "$work/sentiment.safetensors" --data "$data/valid.tsv"
echo "== validation lines no training line contains ($work/valid-unseen.tsv)"
"$rnnhost" eval -m "$work/sentiment.safetensors" --data "$work/valid-unseen.tsv"
echo "to ship it: cp $work/sentiment.safetensors $root/presets/"
