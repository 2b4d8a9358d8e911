#!/usr/bin/python3
"""The PyTorch reference for bench/run: the same models, data and loop as bench/bench.c, measured in the
same run. Prints raw samples in bench.c's form (raw NAME QUANTITY UNIT v1 ... vR), quantities prefixed
with torch_.

Training: nn.RNN(tanh), nn.GRU or nn.LSTM over one-hot inputs of 65 symbols, a Linear(H, 65) head, mean
cross-entropy, clip_grad_norm_(5), Adam(lr 2e-3), B contiguous streams with the state carried (detached)
from one chunk to the next, as `rnnhost train` does. Sampling: one step at batch 1 plus one draw from the
softmax, under no_grad. torch.set_num_threads(2), as the published reference figures were taken.

usage: torch_bench.py train|sample [--tokens FILE] [--runs R] [--min-time S] [--seq T] CELL:H:L:B...
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "sample"])
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--tokens")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
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
