#!/usr/bin/env bash
# Trains the `pos-en` preset: universal part-of-speech tags (17) of English, Universal Dependencies English
# Web Treebank (CC BY-SA 4.0). A GRU of 256 units reads each sentence both ways over its words: each word's
# vector (100 wide; words seen once share the unknown word's) and its spelling, a GRU of 48 units a
# direction over its characters (--spelling 48), so words the training data lacks still show their
# suffixes and capitals. Dropout 0.5 on the tagger's outputs and 0.3 on its state inside the recurrence,
# each word read as the unknown word one time in ten (--word-dropout 0.1), Adam at 0.002 in batches of 32
# sentences, a validation on the treebank's dev set at every epoch's end, stopped when 3 in a row do not
# better the best (at most 12 epochs). The preset is the model of the best validation token accuracy,
# exported in half precision. Prints the validation token accuracy; the treebank's test set is held back.
# Usage: presets/train-pos-en.sh [RNNHOST] [WORKDIR]   (defaults: build/host/rnnhost, a new temporary folder)
# Writes WORKDIR/pos-en.safetensors, never presets/: copy it there to ship it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rnnhost=${1:-$root/build/host/rnnhost}
work=${2:-$(mktemp -d)}
data=$root/../shared/data/ud-ewt
[ -f "$data/train.txt" ] || { echo "train-pos-en: $data/train.txt not found" >&2; exit 1; }
mkdir -p "$work"

start=$(date +%s)
"$rnnhost" train --task tag --data "$data/train.txt" --val-data "$data/valid.txt" \
  --cell gru --rnn-size 256 --num-layers 1 --spelling 48 --word-dim 100 --dropout 0.5 --recurrent-dropout 0.3 \
  --word-dropout 0.1 --batch-size 32 --optimizer adam --learning-rate 0.002 --max-epochs 12 --patience 3 \
  --seed 1 --threads 1 --quiet \
  --checkpoint-dir "$work/ck" --log-json "$work/log.jsonl" -o "$work/trained.safetensors"
echo "trained in $(( $(date +%s) - start )) s"
"$rnnhost" export "$work/trained.safetensors" -o "$work/pos-en.safetensors" --dtype f16 \
  --description "English parts of speech (17 universal tags): a bidirectional GRU of 256 over words and their spelling (UD English EWT, CC BY-SA 4.0)"
"$rnnhost" eval -m "$work/pos-en.safetensors" --data "$data/valid.txt" | tail -n 1
# The same accuracy split into words the training data has and words it lacks (tag reads the validation
# sentences as a user's text: a line each, the words between spaces).
python3 - "$data/train.txt" "$data/valid.txt" "$work/valid-sentences.txt" <<'PY'
import sys
def sentences(path):
    out, cur = [], []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line:
            cur.append(line.split("\t"))
        elif cur:
            out.append(cur); cur = []
    return out + ([cur] if cur else [])
with open(sys.argv[3], "w", encoding="utf-8") as f:
    f.writelines(" ".join(w for w, _ in s) + "\n" for s in sentences(sys.argv[2]))
PY
"$rnnhost" tag -m "$work/pos-en.safetensors" "$work/valid-sentences.txt" >"$work/valid-tagged.txt"
python3 - "$data/train.txt" "$data/valid.txt" "$work/valid-tagged.txt" <<'PY'
import sys
seen = {l.split("\t")[0] for l in open(sys.argv[1], encoding="utf-8") if "\t" in l}
gold = [l.rstrip("\n").split("\t") for l in open(sys.argv[2], encoding="utf-8") if "\t" in l]
got = [l.rstrip("\n").split("\t") for l in open(sys.argv[3], encoding="utf-8") if "\t" in l]
assert len(gold) == len(got) and all(g[0] == t[0] for g, t in zip(gold, got))
for name, keep in (("words training has", True), ("words training lacks", False)):
    pairs = [(g[1], t[1]) for g, t in zip(gold, got) if (g[0] in seen) == keep]
    print(f"{name}: {len(pairs)} tokens, accuracy {sum(a == b for a, b in pairs) / len(pairs):.4f}")
PY
if cmp -s "$work/pos-en.safetensors" "$root/presets/pos-en.safetensors"; then
  echo "$work/pos-en.safetensors is the shipped preset, bit for bit"
else
  echo "$work/pos-en.safetensors differs from the shipped preset; to ship it: cp $work/pos-en.safetensors $root/presets/"
fi
