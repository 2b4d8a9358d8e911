#!/usr/bin/env python3
"""The pos-en tagger's model in PyTorch, for the side-by-side figures of presets/README.md: the same data,
the same model and training options as presets/train-pos-en.sh, trained for the same wall time, on as many
threads as rnnhost had. Prints the validation token accuracy of the best epoch and how many epochs fit.

What "the same model" means here (host/tasks/classify.h): words seen at least MIN_COUNT times in training
have a vector of their own (WORD_DIM wide), every other word shares the unknown word's; each word's
characters (its first and last 10 when longer than 20; a character training lacks is one unknown character)
are read each way by a GRU of SPELLING units, each direction's last state projected to 2 x SPELLING and the
two added: the spelling vector. A GRU of HIDDEN units reads [word vector, spelling vector] each way; each
direction projects its states to one logit per tag, the two added; dropout on the GRU's outputs before
their projection; in training each word read as the unknown word with chance WORD_DROPOUT; softmax
cross-entropy per token; Adam, gradient norm clipped at 5, batches of 32 sentences in a new order each
epoch; the model of the best validation accuracy is the result.

Two differences, both as a PyTorch user writes it: nn.GRU applies its reset gate after the recurrent
product (r * (U h + b), where rnnhost's GRU takes U (r * h)), and it has no dropout of the state inside the
recurrence (rnnhost's --recurrent-dropout), so the preset's 0.3 of it has no counterpart here.

Usage: torch-tag.py TRAIN.txt VALID.txt --seconds S [--threads N] [--hidden 256] [--spelling 48]
                    [--word-dim 100] [--dropout 0.5] [--word-dropout 0.1] [--learning-rate 0.002]
                    [--min-count 2] [--seed 1]
"""
import argparse
import random
import time

import torch
from torch import nn


def read_conll(path):
    sentences, words = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n").rstrip("\r")
            if not line:
                if words:
                    sentences.append(words)
                words = []
                continue
            token, tag = line.split("\t", 1)
            words.append((token, tag))
    if words:
        sentences.append(words)
    return sentences


def spelled(word):
    return word if len(word) <= 20 else word[:10] + word[-10:]


class Tagger(nn.Module):
    def __init__(self, n_words, n_chars, n_tags, a):
        super().__init__()
        self.embed = nn.Embedding(n_words + 1, a.word_dim)
        self.char_rnn = nn.GRU(n_chars + 1, a.spelling, batch_first=True, bidirectional=True)
        self.char_out = nn.ModuleList([nn.Linear(a.spelling, 2 * a.spelling) for _ in range(2)])
        self.rnn = nn.GRU(a.word_dim + 2 * a.spelling, a.hidden, batch_first=True, bidirectional=True)
        self.out = nn.ModuleList([nn.Linear(a.hidden, n_tags) for _ in range(2)])
        self.drop = nn.Dropout(a.dropout)
        self.n_chars = n_chars

    def spelling(self, chars, lengths):
        one_hot = nn.functional.one_hot(chars, self.n_chars + 1).float()
        packed = nn.utils.rnn.pack_padded_sequence(one_hot, lengths, batch_first=True, enforce_sorted=False)
        _, h = self.char_rnn(packed)  # (2, words, units): each direction's last state
        return self.char_out[0](h[0]) + self.char_out[1](h[1])

    def forward(self, words, chars, char_lengths, lengths):
        # the character model reads the sentences' words only, not their padding
        real = torch.arange(words.shape[1])[None, :] < lengths[:, None]
        spellings = torch.zeros(*words.shape, self.char_out[0].out_features)
        spellings[real] = self.spelling(chars, char_lengths)
        x = torch.cat([self.embed(words), spellings], dim=2)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.rnn(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=words.shape[1])
        h = self.drop(h)
        H = h.shape[2] // 2
        return self.out[0](h[:, :, :H]) + self.out[1](h[:, :, H:])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("train")
    p.add_argument("valid")
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--spelling", type=int, default=48)
    p.add_argument("--word-dim", type=int, default=100)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--word-dropout", type=float, default=0.1)
    p.add_argument("--learning-rate", type=float, default=0.002)
    p.add_argument("--min-count", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)

    train, valid = read_conll(a.train), read_conll(a.valid)
    counts = {}
    for s in train:
        for w, _ in s:
            counts[w] = counts.get(w, 0) + 1
    words = {w: i + 1 for i, w in enumerate(sorted(w for w, c in counts.items() if c >= a.min_count))}
    chars = {c: i + 1 for i, c in enumerate(sorted({c for w in counts for c in spelled(w)}))}
    tags = {}
    for s in train:
        for _, t in s:
            tags.setdefault(t, len(tags))

    def batch(sentences):
        T = max(len(s) for s in sentences)
        W = torch.zeros(len(sentences), T, dtype=torch.long)
        Y = torch.full((len(sentences), T), -100, dtype=torch.long)
        spellings = []
        for b, s in enumerate(sentences):
            for t, (w, tag) in enumerate(s):
                W[b, t] = words.get(w, 0)
                Y[b, t] = tags[tag]
        for s in sentences:  # in the order of the model's mask of real words: sentence by sentence
            for w, _ in s:
                spellings.append([chars.get(c, 0) for c in spelled(w)])
        C = max(len(c) for c in spellings)
        Ch = torch.zeros(len(spellings), C, dtype=torch.long)
        for i, c in enumerate(spellings):
            Ch[i, : len(c)] = torch.tensor(c)
        return W, Ch, torch.tensor([len(c) for c in spellings]), torch.tensor([len(s) for s in sentences]), Y

    model = Tagger(len(words), len(chars), len(tags), a)
    opt = torch.optim.Adam(model.parameters(), lr=a.learning_rate)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    val_batches = [batch(valid[i : i + 64]) for i in range(0, len(valid), 64)]

    def accuracy():
        model.eval()
        right = total = 0
        with torch.no_grad():
            for W, Ch, CL, L, Y in val_batches:
                pred = model(W, Ch, CL, L).argmax(dim=2)
                mask = Y != -100
                right += (pred[mask] == Y[mask]).sum().item()
                total += mask.sum().item()
        model.train()
        return right / total

    start = time.time()
    best, epochs, steps = 0.0, 0, 0
    while time.time() - start < a.seconds:
        order = list(range(len(train)))
        rng.shuffle(order)
        for i in range(0, len(order), a.batch_size):
            if time.time() - start >= a.seconds:
                break
            W, Ch, CL, L, Y = batch([train[k] for k in order[i : i + a.batch_size]])
            W = W.masked_fill(torch.rand(W.shape) < a.word_dropout, 0)  # the unknown word, now and then
            logits = model(W, Ch, CL, L)
            loss = loss_fn(logits.reshape(-1, logits.shape[2]), Y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            steps += 1
        else:
            epochs += 1
        acc = accuracy()
        best = max(best, acc)
        print(f"epoch {epochs} step {steps} {time.time() - start:.0f} s validation accuracy {acc:.4f}", flush=True)
    print(f"pytorch: {steps} steps ({steps / ((len(train) + a.batch_size - 1) // a.batch_size):.2f} epochs) in "
          f"{time.time() - start:.0f} s, best validation accuracy {best:.4f}")


if __name__ == "__main__":
    main()
