#!/usr/bin/python3
"""The PyTorch reference for bench/run: the same models, data and loop as bench/bench.c, measured in the
same run. Prints raw samples in bench.c's form (raw NAME QUANTITY UNIT v1 ... vR), quantities prefixed
with torch_.

Training: nn.RNN(tanh), nn.GRU or nn.LSTM over one-hot inputs of 65 symbols, a Linear(H, 65) head, mean
cross-entropy, clip_grad_norm_(5), Adam(lr 2e-3), B contiguous streams with the state carried (detached)
from one chunk to the next, as `rnnhost train` does. Sampling: one step at batch 1 plus one draw from the
softmax, under no_grad. torch.set_num_threads(2), as the published reference figures were taken.

Classification and tagging (cls): the classify and tag tasks' models on bench.c's synthetic sequences (the
file --tokens names, which `bench cls` writes; WORK:CELL:H:L:B as there), as a PyTorch user writes them:
the sequences of a batch padded (pad_sequence) and packed (pack_padded_sequence, enforce_sorted=False), so
the recurrent layers stop at each sequence's end, and nn.GRU/LSTM/RNN(bidirectional=True) for two
directions. The input: with as few symbols as hidden units or fewer (dna) a one-hot, as rnnhost's token
input is (a one-hot times the input weights). With more (words) nn.Embedding(V, H) shared by both
directions, the usual PyTorch model, which is rnnhost's too: bench.c gives its word models vectors of H
(`--word-dim H`), one table read by both directions. The head: a classifier's logits Linear(H, L) per direction, pooled over
each sequence's own steps (max: padding masked to -inf; last: the forward direction after the last
element, the backward one after reading back to the first), the directions' pooled logits added, mean
cross-entropy per sequence; a tagger's Linear(2H, L) over both directions' outputs (which is their logits
added), cross-entropy per word (padding ignored). clip_grad_norm_(5), Adam(lr 2e-3); the set reshuffled
every epoch, as the task does.

usage: torch_bench.py train|sample|cls [--tokens FILE] [--runs R] [--min-time S] [--seq T] CONFIG...
"""
import argparse
import time

import torch

VOCAB = 65


CELLS = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}


class CharModel(torch.nn.Module):
    def __init__(self, cell, hidden, layers):
        super().__init__()
        self.core = CELLS[cell](VOCAB, hidden, layers)
        self.head = torch.nn.Linear(hidden, VOCAB)

    def forward(self, x, h):
        out, h = self.core(x, h)
        return self.head(out), h


def zero_state(cell, layers, batch, hidden):
    """The reset state: h, or for the LSTM the pair (h, c)."""
    h = torch.zeros(layers, batch, hidden)
    return (h, torch.zeros(layers, batch, hidden)) if cell == "lstm" else h


def detached(h):
    return tuple(x.detach() for x in h) if isinstance(h, tuple) else h.detach()


def parse_config(text):
    cell, h, layers, batch = text.split(":")
    if cell not in CELLS:
        raise SystemExit("torch_bench: '%s' is not a config CELL:H:L:B (cell rnn, gru or lstm)" % text)
    return cell, int(h), int(layers), int(batch)


def raw(name, quantity, unit, values):
    print("raw %s %s %s %s" % (name, quantity, unit, " ".join("%.6g" % v for v in values)), flush=True)


def load_tokens(path):
    if path:
        data = open(path, "rb").read()
        return torch.frombuffer(bytearray(data), dtype=torch.int32).long()
    return torch.randint(0, VOCAB, (1 << 21,), generator=torch.Generator().manual_seed(20240601))


def train(cfg, tokens, args):
    cell, hidden, layers, batch = cfg
    torch.manual_seed(1)
    model = CharModel(cell, hidden, layers)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    T = args.seq
    seg = tokens.numel() // batch
    streams = tokens[: seg * batch].view(batch, seg).t().contiguous()  # (seg, B), time-major
    state = {"pos": 0, "h": zero_state(cell, layers, batch, hidden)}

    def step():
        if state["pos"] + T + 1 > seg:
            state["pos"] = 0
            state["h"] = zero_state(cell, layers, batch, hidden)
        p = state["pos"]
        x = torch.nn.functional.one_hot(streams[p : p + T], VOCAB).float()
        target = streams[p + 1 : p + T + 1].reshape(-1)
        state["pos"] += T
        logits, h = model(x, state["h"])
        loss = loss_fn(logits.view(-1, VOCAB), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        state["h"] = detached(h)
        return loss.item()

    step()
    t0 = time.perf_counter()
    step()
    steps = max(2, int(args.min_time / max(time.perf_counter() - t0, 1e-9)) + 1)
    rates = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * T * batch / (time.perf_counter() - t0))
    raw("%s.h%d.l%d.b%d" % cfg, "torch_train", "tok/s", rates)


def sample(cfg, args):
    cell, hidden, layers, _ = cfg
    torch.manual_seed(1)
    model = CharModel(cell, hidden, layers).eval()
    steps, warm = 2000, 200
    medians, p99s = [], []
    with torch.no_grad():
        h = zero_state(cell, layers, 1, hidden)
        tok = torch.zeros(1, dtype=torch.long)
        for _ in range(args.runs):
            lat = []
            for s in range(steps + warm):
                t0 = time.perf_counter()
                x = torch.nn.functional.one_hot(tok, VOCAB).float().view(1, 1, VOCAB)
                logits, h = model(x, h)
                tok = torch.multinomial(torch.softmax(logits.view(-1), 0), 1)
                if s >= warm:
                    lat.append((time.perf_counter() - t0) * 1e6)
            lat.sort()
            medians.append(lat[len(lat) // 2])
            p99s.append(lat[len(lat) * 99 // 100])
    name = "%s.h%d.l%d" % cfg[:3]
    raw(name, "torch_sample_median", "us", medians)
    raw(name, "torch_sample_p99", "us", p99s)


# bench.c's workloads: (tagger, pool, bidirectional)
CLS_WORKS = {"words": (False, "max", True), "dna": (False, "last", False), "tag": (True, "each", True)}


class ClsModel(torch.nn.Module):
    def __init__(self, cell, vocab, hidden, layers, labels, work):
        super().__init__()
        self.tagger, self.pool, bidirectional = CLS_WORKS[work]
        self.dirs, self.hidden, self.vocab = 2 if bidirectional else 1, hidden, vocab
        self.embed = torch.nn.Embedding(vocab, hidden) if vocab > hidden else None
        width = hidden if self.embed is not None else vocab
        self.core = CELLS[cell](width, hidden, layers, bidirectional=bidirectional)
        if self.tagger:
            self.head = torch.nn.Linear(self.dirs * hidden, labels)
        else:
            self.heads = torch.nn.ModuleList(torch.nn.Linear(hidden, labels) for _ in range(self.dirs))

    def forward(self, x, lengths):
        """x (T,B) padded symbol ids, lengths (B): the pooled logits (B,L), or a tagger's (T,B,L)."""
        if self.embed is not None:
            inp = self.embed(x)
        else:
            inp = torch.nn.functional.one_hot(x, self.vocab).float()
        packed = torch.nn.utils.rnn.pack_padded_sequence(inp, lengths, enforce_sorted=False)
        out, _ = self.core(packed)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=x.shape[0])  # (T,B,dirs*H)
        if self.tagger:
            return self.head(out)
        T, B = x.shape
        z = 0
        for d in range(self.dirs):
            y = self.heads[d](out[:, :, d * self.hidden:(d + 1) * self.hidden])  # (T,B,L)
            if self.pool == "max":
                pad = torch.arange(T).unsqueeze(1) >= lengths.unsqueeze(0)
                z = z + y.masked_fill(pad.unsqueeze(2), float("-inf")).max(0).values
            else:  # last
                at = lengths - 1 if d == 0 else torch.zeros_like(lengths)
                z = z + y[at, torch.arange(B)]
        return z


def load_cls_set(path):
    """bench.c's sequences: (n, labels, width, the sequences' ids, their labels, their tags)."""
    data = torch.frombuffer(bytearray(open(path, "rb").read()), dtype=torch.int32).long()
    n, total, width, labels = data[:4].tolist()
    lengths, label = data[4:4 + n], data[4 + n:4 + 2 * n]
    tokens, tags = data[4 + 2 * n:4 + 2 * n + total], data[4 + 2 * n + total:4 + 2 * n + 2 * total]
    starts = [0] + torch.cumsum(lengths, 0).tolist()
    seqs = [tokens[starts[i]:starts[i + 1]] for i in range(n)]
    seq_tags = [tags[starts[i]:starts[i + 1]] for i in range(n)]
    return n, labels, width, seqs, label, seq_tags


def cls_train(text, args):
    work, rest = text.split(":", 1)
    if work not in CLS_WORKS:
        raise SystemExit("torch_bench: '%s' is not a config WORK:CELL:H:L:B (work words, dna or tag)" % text)
    cell, hidden, layers, batch = parse_config(rest)
    n, labels, width, seqs, label, seq_tags = load_cls_set(args.tokens)
    torch.manual_seed(1)
    model = ClsModel(cell, width, hidden, layers, labels, work)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    state = {"order": torch.randperm(n), "pos": 0}
    pad = torch.nn.utils.rnn.pad_sequence

    def step():
        if state["pos"] >= n:
            state["order"], state["pos"] = torch.randperm(n), 0
        which = state["order"][state["pos"]:state["pos"] + batch].tolist()
        state["pos"] += batch
        x = pad([seqs[i] for i in which])  # (T,B)
        lengths = torch.tensor([len(seqs[i]) for i in which])
        z = model(x, lengths)
        if model.tagger:
            target = pad([seq_tags[i] for i in which], padding_value=-1)
            loss = torch.nn.functional.cross_entropy(z.view(-1, labels), target.view(-1), ignore_index=-1)
        else:
            loss = torch.nn.functional.cross_entropy(z, label[which])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return int(lengths.sum())

    # 8 warm-up steps, then runs of min_time and a quarter of an epoch (16 steps) at least, as bench.c
    t0 = time.perf_counter()
    for _ in range(8):
        step()
    per = (time.perf_counter() - t0) / 8
    steps = max(16, int(args.min_time / max(per, 1e-9)) + 1)
    rates = []
    for _ in range(args.runs):
        t0, seen = time.perf_counter(), 0
        for _ in range(steps):
            seen += step()
        rates.append(seen / (time.perf_counter() - t0))
    raw("%s.%s.h%d.l%d.b%d" % ((work,) + (cell, hidden, layers, batch)), "torch_cls_train", "tok/s", rates)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "sample", "cls"])
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--tokens")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "cls":
        if not args.tokens:
            raise SystemExit("torch_bench: cls needs --tokens FILE, the sequences `bench cls` wrote")
        for text in args.configs:
            cls_train(text, args)
        print("info torch_version %s" % torch.__version__.replace(" ", "_"), flush=True)
        return
    configs = [parse_config(c) for c in args.configs]
    if args.mode == "train":
        tokens = load_tokens(args.tokens)
        for cfg in configs:
            train(cfg, tokens, args)
    else:
        for cfg in configs:
            sample(cfg, args)
    print("info torch_version %s" % torch.__version__.replace(" ", "_"), flush=True)


if __name__ == "__main__":
    main()
