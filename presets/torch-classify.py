#!/usr/bin/env python3
"""The model of an rnnhost classify preset, trained in PyTorch on the same data for a given wall time.

The comparison beside the `sentiment` and `splice` entries of presets/README.md. The network is rnnhost's,
written out here step by step rather than taken from torch.nn.GRU (whose candidate applies the relevance
gate after the recurrent product, a different cell):

  GRU   u = σ(Wu[h, x] + bu), r = σ(Wr[h, x] + br), c = tanh(Wc[r * h, x] + bc), h = u * c + (1 - u) * h
  input one-hot symbols, so W_x is a lookup of one column per symbol (rnnhost's "embed", (V, 3H)); or numeric
        rows, C channels a step, each standardised with the training set's mean and deviation, times W_x (C, 3H)
  head  logits W h + b at every step; pooled over the steps (max: each label's largest logit; mean; last),
        a second stack reading each sequence backwards when bidirectional, its pooled logits added
  dropout on each step's output before the projection, a new mask every step; none at validation
  init  uniform within 1/sqrt(H + 1) (W_x and W_h, a one-hot input counted as one unit; 1/sqrt(H + C) for
        numeric rows), 1/sqrt(H) for the projection, biases zero
  vocabulary  chars: the training data's code points; words: split on white space, words seen at least
        --min-count times in training, every other word one unknown word
  optimiser   Adam (0.9, 0.999, 1e-8), the global gradient norm clipped at 5, the loss the mean cross-entropy
        of a batch; the training set shuffled every epoch, the last batch smaller

It trains until --seconds have passed (checked after every step; --clock cpu: the process's processor time,
the fair measure on a machine other work shares, since neither program then gains or loses by what else
runs), validates at every epoch's end and when time runs out, and prints each validation and the best
accuracy, with the epochs it got through.
Usage: presets/torch-classify.py --data TRAIN --val-data VALID --seconds S [options as rnnhost's]
"""
import argparse
import math
import random
import sys
import time

import torch
import torch.nn.functional as F

SPACE = " \t\r\v\f"


def split_words(text):
    out, word = [], []
    for ch in text:
        if ch in SPACE:
            if word:
                out.append("".join(word))
                word = []
        else:
            word.append(ch)
    if word:
        out.append("".join(word))
    return out


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            label, _, seq = line.partition("\t")
            rows.append((label, seq))
    return rows


class Vocabulary:
    """Symbols to ids the way rnnhost makes them for a new model."""

    def __init__(self, train, kind, min_count):
        self.kind = kind
        if kind == "numeric":
            rows = [[float(v) for v in seq.split(",")] for _, seq in train]
            self.size = C = math.gcd(*[len(r) for r in rows])
            steps = [r[i: i + C] for r in rows for i in range(0, len(r), C)]
            self.mean = [sum(s[c] for s in steps) / len(steps) for c in range(C)]
            self.dev = [math.sqrt(sum((s[c] - self.mean[c]) ** 2 for s in steps) / len(steps)) or 1.0
                        for c in range(C)]
        elif kind == "chars":
            symbols = sorted({ch for _, seq in train for ch in seq})
            self.ids = {s: i for i, s in enumerate(symbols)}
            self.size = len(symbols)
        else:
            counts = {}
            for _, seq in train:
                for w in split_words(seq):
                    counts[w] = counts.get(w, 0) + 1
            kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: w.encode("utf-8"))
            self.ids = {w: i + 1 for i, w in enumerate(kept)}  # 0: the unknown word
            self.size = len(kept) + 1

    def encode(self, seq):
        if self.kind == "numeric":
            v, C = [float(x) for x in seq.split(",")], self.size
            return [[(v[i + c] - self.mean[c]) / self.dev[c] for c in range(C)] for i in range(0, len(v), C)]
        if self.kind == "chars":
            return [self.ids[ch] for ch in seq]
        return [self.ids.get(w, 0) for w in split_words(seq)]


@torch.jit.script
def recurrence(zx, w_ur, w_c):
    # zx (D,T,B,3H) the input part of every step of D directions; w_ur (D,H,2H) and w_c (D,H,H) their recurrent
    # weights, transposed; returns the states (D,T,B,H)
    H = w_c.shape[1]
    h = zx.new_zeros(zx.shape[0], zx.shape[2], H)
    outs = []
    for t in range(zx.shape[1]):
        z = zx[:, t]
        ur = torch.sigmoid(z[:, :, : 2 * H] + torch.bmm(h, w_ur))
        u, r = ur[:, :, :H], ur[:, :, H:]
        c = torch.tanh(z[:, :, 2 * H:] + torch.bmm(r * h, w_c))
        h = h + u * (c - h)
        outs.append(h)
    return torch.stack(outs, 1)


class Classifier(torch.nn.Module):
    """D = 1 or 2 directions of a one-layer GRU over one-hot symbols, each with its output projection; both
    directions run in one loop (a batched product per step), each with its own weights."""

    def __init__(self, vocab, hidden, labels, bidirectional, pool, dropout, numeric=False):
        super().__init__()
        D, H = (2 if bidirectional else 1), hidden
        s, so = 1.0 / math.sqrt(H + (vocab if numeric else 1)), 1.0 / math.sqrt(H)
        self.embed = torch.nn.Parameter(torch.empty(D, vocab, 3 * H).uniform_(-s, s))  # numeric: W_x (C, 3H)
        self.numeric = numeric
        self.w_h = torch.nn.Parameter(torch.empty(D, 3 * H, H).uniform_(-s, s))
        self.b = torch.nn.Parameter(torch.zeros(D, 1, 1, 3 * H))
        self.w_out = torch.nn.Parameter(torch.empty(D, labels, H).uniform_(-so, so))
        self.b_out = torch.nn.Parameter(torch.zeros(D, 1, 1, labels))
        self.D, self.H, self.pool, self.dropout = D, H, pool, dropout

    def pooled(self, y, lengths):
        # y (D,T,B,L) over sequences that start at step 0 in each direction; lengths (B)
        T = y.shape[1]
        valid = (torch.arange(T).unsqueeze(1) < lengths.unsqueeze(0)).view(1, T, -1, 1)
        if self.pool == "max":
            return y.masked_fill(~valid, float("-inf")).max(1).values
        if self.pool == "mean":
            return (y * valid).sum(1) / lengths.view(1, -1, 1).to(y.dtype)
        return y[:, lengths - 1, torch.arange(y.shape[2])]

    def forward(self, fw, bw, lengths):
        tokens = torch.stack([fw, bw][: self.D])  # (D,T,B), numeric (D,T,B,C)
        if self.numeric:
            zx = torch.stack([tokens[d] @ self.embed[d] for d in range(self.D)]) + self.b
        else:
            zx = torch.stack([self.embed[d][tokens[d]] for d in range(self.D)]) + self.b  # (D,T,B,3H)
        H = self.H
        hs = recurrence(zx, self.w_h[:, : 2 * H].transpose(1, 2), self.w_h[:, 2 * H:].transpose(1, 2))
        if self.dropout > 0 and self.training:
            hs = F.dropout(hs, self.dropout, True)
        D, T, B, _ = hs.shape
        y = torch.bmm(hs.reshape(D, T * B, H), self.w_out.transpose(1, 2)).view(D, T, B, -1) + self.b_out
        return self.pooled(y, lengths).sum(0)


def batch(seqs):
    """Padded (T,B) tensors of the sequences and of each one reversed, and the lengths."""
    T = max(len(s) for s in seqs)
    numeric = isinstance(seqs[0][0], list)
    shape, kind = ((T, len(seqs), len(seqs[0][0])), torch.float32) if numeric else ((T, len(seqs)), torch.long)
    fw, bw = torch.zeros(shape, dtype=kind), torch.zeros(shape, dtype=kind)
    for b, s in enumerate(seqs):
        fw[: len(s), b] = torch.tensor(s)
        bw[: len(s), b] = torch.tensor(s[::-1])
    return fw, bw, torch.tensor([len(s) for s in seqs])


def accuracy(model, data, size):
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(data), size):
            part = data[i: i + size]
            z = model(*batch([s for s, _ in part]))
            right += (z.argmax(1) == torch.tensor([y for _, y in part])).sum().item()
    model.train()
    return right / len(data)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--val-data", required=True)
    p.add_argument("--input", choices=["chars", "words", "numeric"], default="chars")
    p.add_argument("--min-count", type=int, default=2)
    p.add_argument("--rnn-size", type=int, default=64)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--pool", choices=["last", "mean", "max"], default="last")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=0.002)
    p.add_argument("--grad-clip", type=float, default=5.0)
    p.add_argument("--seconds", type=float, required=True, help="time of the training, validations included")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="what --seconds counts")
    p.add_argument("--max-epochs", type=int, default=0, help="0: no limit but the time")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    train_rows, val_rows = read_tsv(a.data), read_tsv(a.val_data)
    labels = list(dict.fromkeys(label for label, _ in train_rows))
    label_id = {label: i for i, label in enumerate(labels)}
    voc = Vocabulary(train_rows, a.input, a.min_count)
    train = [(voc.encode(s), label_id[y]) for y, s in train_rows]
    val = [(voc.encode(s), label_id[y]) for y, s in val_rows]
    model = Classifier(voc.size, a.rnn_size, len(labels), a.bidirectional, a.pool, a.dropout, a.input == "numeric")
    n_params = sum(t.numel() for t in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=a.learning_rate, betas=(0.9, 0.999), eps=1e-8)
    print(f"torch {torch.__version__}, 1 thread: {'bidirectional ' if a.bidirectional else ''}GRU 1 x {a.rnn_size}, "
          f"{n_params} parameters, pool {a.pool}, {voc.size} {'channels' if a.input == 'numeric' else 'symbols'}, {len(labels)} labels; {len(train)} sequences, "
          f"{len(val)} for validation; {a.seconds:.0f} s of {a.clock} time", flush=True)

    clock = time.monotonic if a.clock == "wall" else time.process_time
    wall = time.monotonic()
    start = clock()
    best, best_epoch, epoch, steps, out_of_time = -1.0, 0.0, 0, 0, False
    order = list(range(len(train)))
    n_batches = (len(train) + a.batch_size - 1) // a.batch_size
    while not out_of_time and (a.max_epochs == 0 or epoch < a.max_epochs):
        rng.shuffle(order)
        done = 0
        for k in range(n_batches):
            part = [train[i] for i in order[k * a.batch_size: (k + 1) * a.batch_size]]
            z = model(*batch([s for s, _ in part]))
            loss = F.cross_entropy(z, torch.tensor([y for _, y in part]))
            opt.zero_grad()
            loss.backward()
            if a.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
            opt.step()
            steps += 1
            done = k + 1
            if clock() - start >= a.seconds:
                out_of_time = True
                break
        epochs = epoch + done / n_batches
        acc = accuracy(model, val, 256)
        if acc > best:
            best, best_epoch = acc, epochs
        print(f"epoch {epochs:.2f} step {steps} {clock() - start:.0f} s: loss {loss.item():.4f}, "
              f"validation accuracy {acc:.4f}", flush=True)
        epoch += 1
    print(f"best validation accuracy {best:.4f} at epoch {best_epoch:.2f}; {epochs:.2f} epochs ({steps} steps) in "
          f"{time.process_time():.0f} s of processor time, {time.monotonic() - wall:.0f} s of wall time")


if __name__ == "__main__":
    sys.exit(main())
