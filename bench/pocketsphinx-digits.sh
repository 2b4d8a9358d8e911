#!/usr/bin/env bash
# Baseline for the speech task: Debian's pocketsphinx 0.8 (the en-us acoustic model of the
# pocketsphinx-en-us package) held to a grammar of digit strings, over every utterance of a manifest.
# Prints `metric value` lines: files, digit error rate (word edits / reference words), the share of
# files exactly right, and the real-time factor of the recognition (audio seconds / wall seconds of the
# pocketsphinx_batch run, model loading included, sox conversion excluded).
#
# Usage: bench/pocketsphinx-digits.sh MANIFEST [OUT_DIR]
#   MANIFEST: `path<TAB>transcript` lines, paths relative to the manifest's folder or absolute.
#   OUT_DIR:  keeps the hypotheses (hyp.txt), the per-file results (results.tsv) and the decoder log;
#             a temporary folder otherwise.
# Environment: PS_RATE=16000 (default) up-samples to 16 kHz, the rate the en-us model was trained at,
#   and decodes with its own front end; PS_RATE=8000 decodes the 8 kHz audio as it is with a front end
#   cut to 3.5 kHz (nfft 256), which no longer matches the features the model was trained on.
#   (On 100 FSDD clips of george, 16 kHz gave a digit error rate of 0.56 against 0.81 at 8 kHz.)
#   PS_WIP=1e-2 (word insertion penalty) and PS_REMOVE_NOISE=no are the two decoder settings changed
#   from pocketsphinx's defaults (0.65, yes); they were chosen on espeak-ng strings, not on FSDD, because
#   the defaults insert digits into the tightly trimmed clips, and noise removal has no leading silence
#   to learn the noise from. PS_EXTRA adds further decoder options (any not set above).
#   PS_HMM, PS_DICT override the model folder and the dictionary the ten pronunciations come from.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
manifest=${1:?usage: pocketsphinx-digits.sh MANIFEST [OUT_DIR]}
rate=${PS_RATE:-16000}
model=/usr/share/pocketsphinx/model/en-us
hmm=${PS_HMM:-$model/en-us}
fulldict=${PS_DICT:-$model/cmudict-en-us.dict}
for prog in pocketsphinx_batch sox python3; do
  command -v "$prog" >/dev/null || { echo "pocketsphinx-digits: $prog not found" >&2; exit 1; }
done
[ -d "$hmm" ] || { echo "pocketsphinx-digits: $hmm not found (Debian package pocketsphinx-en-us)" >&2; exit 1; }
[ -f "$manifest" ] || { echo "pocketsphinx-digits: $manifest not found" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=${2:-$tmp}
mkdir -p "$out"
mdir=$(cd "$(dirname "$manifest")" && pwd)

# The ten words with every pronunciation the installed dictionary has; a ten-word dictionary also
# loads in no time, unlike the 130k-word one.
grep -E '^(zero|one|two|three|four|five|six|seven|eight|nine)(\([0-9]+\))? ' "$fulldict" >"$tmp/digits.dic"
[ "$(cut -d' ' -f1 "$tmp/digits.dic" | sed 's/(.*//' | sort -u | wc -l)" -eq 10 ] ||
  { echo "pocketsphinx-digits: $fulldict lacks some digit words" >&2; exit 1; }

# Utterance ids are line numbers, so file names with spaces or repeated base names cannot collide.
mkdir "$tmp/raw"
awk -F'\t' -v d="$mdir" 'NF >= 1 && $1 != "" {
    p = ($1 ~ /^\//) ? $1 : d "/" $1
    printf "u%06d\t%s\t%s\n", NR, p, $2 }' "$manifest" >"$tmp/list.tsv"
[ -s "$tmp/list.tsv" ] || { echo "pocketsphinx-digits: $manifest is empty" >&2; exit 1; }
cut -f1 "$tmp/list.tsv" >"$tmp/ctl"
while IFS=$'\t' read -r _ src _; do
  [ -f "$src" ] || { echo "pocketsphinx-digits: $src not found" >&2; exit 1; }
done <"$tmp/list.tsv"
# Two conversions at a time (the machine's two cores); sox errors surface through wait -n.
while IFS=$'\t' read -r id src _; do
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  # -G lowers the gain where the resampler would otherwise clip the loudest clips.
  sox -R -G -V1 "$src" -t raw -r "$rate" -c 1 -b 16 -e signed-integer -L "$tmp/raw/$id.raw" &
done <"$tmp/list.tsv"
while [ -n "$(jobs -rp)" ]; do wait -n; done
while IFS=$'\t' read -r id src _; do
  [ -s "$tmp/raw/$id.raw" ] || { echo "pocketsphinx-digits: could not convert $src" >&2; exit 1; }
done <"$tmp/list.tsv"

args=(-hmm "$hmm" -dict "$tmp/digits.dic" -jsgf "$here/pocketsphinx/digits.jsgf"
      -ctl "$tmp/ctl" -cepdir "$tmp/raw" -cepext .raw -adcin yes -input_endian little
      -samprate "$rate" -hyp "$out/hyp.txt" -logfn "$out/pocketsphinx.log"
      -remove_noise "${PS_REMOVE_NOISE:-no}" -wip "${PS_WIP:-1e-2}")
if [ "$rate" = 8000 ]; then
  # feat.params in the model folder wins over the command line, so the 8 kHz front end needs a copy
  # of the model (links, and an edited feat.params).
  mkdir "$tmp/hmm8k"
  for f in "$hmm"/*; do ln -s "$f" "$tmp/hmm8k/"; done
  rm "$tmp/hmm8k/feat.params"
  sed -e 's/^-upperf .*/-upperf 3500/' "$hmm/feat.params" >"$tmp/hmm8k/feat.params"
  args[1]=$tmp/hmm8k
  args+=(-nfft 256)
elif [ "$rate" != 16000 ]; then
  echo "pocketsphinx-digits: PS_RATE must be 16000 or 8000" >&2; exit 1
fi
# Word-split on purpose: PS_EXTRA is a list of further decoder options.
# shellcheck disable=SC2206
args+=(${PS_EXTRA:-})
t0=$(date +%s.%N)
pocketsphinx_batch "${args[@]}" ||
  { echo "pocketsphinx-digits: pocketsphinx_batch failed, see $out/pocketsphinx.log" >&2; exit 1; }
t1=$(date +%s.%N)

python3 - "$tmp/list.tsv" "$out/hyp.txt" "$tmp/raw" "$rate" "$t0" "$t1" "$out/results.tsv" <<'PY'
import os, re, sys
listing, hypfile, rawdir, rate, t0, t1, results = sys.argv[1:]
words = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

def edits(ref, hyp):
    # One row of the Levenshtein table at a time: the strings are a handful of words.
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diag, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (r != h))
    return row[-1]

hyps = {}
for line in open(hypfile):
    # pocketsphinx writes `words (uttid score)`; an utterance it found nothing in has no words.
    m = re.match(r"^(.*?)\s*\((\S+)\s+-?\d+\)\s*$", line)
    if m:
        hyps[m.group(2)] = [w for w in m.group(1).split() if w in words]
n = errs = refwords = exact = 0
seconds = 0.0
with open(results, "w") as out:
    for line in open(listing):
        uid, path, text = line.rstrip("\n").split("\t")
        ref = text.split()
        hyp = hyps.get(uid, [])
        e = edits(ref, hyp)
        n += 1
        errs += e
        refwords += len(ref)
        exact += e == 0
        seconds += os.path.getsize(os.path.join(rawdir, uid + ".raw")) / (2 * int(rate))
        out.write(f"{path}\t{text}\t{' '.join(hyp)}\t{e}\n")
missing = n - sum(1 for line in open(listing) if line.split("\t")[0] in hyps)
wall = float(t1) - float(t0)
print(f"files {n}")
print(f"digit_error_rate {errs / max(refwords, 1):.4f}")
print(f"exact_share {exact / n:.4f}")
print(f"audio_seconds {seconds:.1f}")
print(f"wall_seconds {wall:.2f}")
print(f"real_time_factor {seconds / wall:.1f}")
if missing:
    print(f"missing_hypotheses {missing}")
PY
