#!/usr/bin/env python3
"""Cross-validated accuracy of `rnnhost train --task classify` on a small data set.

The lines of the given TSV files (label<TAB>sequence) are dealt into --folds folds, label by label so that each
fold holds every label in proportion (shuffled with --split-seed). For each fold k: the fold k is scored, fold
k+1 is the --val-data that chooses the checkpoint, the rest train; `rnnhost eval` counts the right labels. The
whole round runs once per --seeds value (rnnhost's --seed), and the accuracy over all folds of each round and
their mean are printed. Options after `--` go to `rnnhost train` as they are.

For a data set whose test split is held back, this gives a figure with less spread than its small validation
split, from the training and validation data alone.

Usage: presets/crossval-classify.py [--rnnhost PATH] [--folds 10] [--seeds 1,2,3] FILE.tsv... [-- TRAIN OPTIONS]
"""
import argparse
import collections
import os
import random
import subprocess
import sys
import tempfile


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[: argv.index("--")]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--rnnhost", default=os.path.join(root, "build", "host", "rnnhost"))
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--split-seed", type=int, default=7)
    a = p.parse_args(argv)

    lines = [l if l.endswith("\n") else l + "\n" for f in a.files for l in open(f, encoding="utf-8") if l.strip()]
    by_label = collections.defaultdict(list)
    for l in lines:
        by_label[l.split("\t", 1)[0]].append(l)
    rng = random.Random(a.split_seed)
    folds = [[] for _ in range(a.folds)]
    i = 0
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        for l in group:
            folds[i % a.folds].append(l)
            i += 1
    print(f"{len(lines)} sequences, {len(by_label)} labels, {a.folds} folds; rnnhost train {' '.join(extra)}",
          flush=True)
    means = []
    with tempfile.TemporaryDirectory() as work:
        paths = {n: os.path.join(work, n) for n in ("train.tsv", "valid.tsv", "test.tsv", "m.safetensors")}
        for seed in a.seeds.split(","):
            right = total = 0
            for k in range(a.folds):
                v = (k + 1) % a.folds
                parts = {"test.tsv": folds[k], "valid.tsv": folds[v],
                         "train.tsv": [l for j in range(a.folds) if j not in (k, v) for l in folds[j]]}
                for name, part in parts.items():
                    with open(paths[name], "w", encoding="utf-8") as f:
                        f.writelines(part)
                subprocess.run([a.rnnhost, "train", "--task", "classify", "--data", paths["train.tsv"], "--val-data",
                                paths["valid.tsv"], "-o", paths["m.safetensors"], "--seed", seed, "--quiet",
                                "--checkpoint-dir", os.path.join(work, "checkpoints")] + extra, check=True)
                out = subprocess.run([a.rnnhost, "eval", "-m", paths["m.safetensors"], "--data", paths["test.tsv"]],
                                     check=True, capture_output=True, text=True).stdout.split("\n")
                accuracy = float([l for l in out if l.startswith("accuracy ")][-1].split()[1])
                right += round(accuracy * len(folds[k]))
                total += len(folds[k])
            means.append(right / total)
            print(f"seed {seed}: {right}/{total} = {right / total:.4f}", flush=True)
    print(f"mean accuracy {sum(means) / len(means):.4f} over {len(means)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
