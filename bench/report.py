#!/usr/bin/env python3
"""Turns the raw samples of bench.c and torch_bench.py into figures: the median of each set of runs, a
noisy flag when the runs disagree, ratios against the references measured in the same run, the speed
targets, a table for people and one line per figure for machines:

    metric value unit ratio reference

where ratio = value / (the reference's value), "-" when the reference was not measured. A figure whose
runs spread by more than NOISY (max - min over the median) is followed by "METRIC.spread S % - noisy".

usage: report.py RAWFILE [--readme README.md COMMAND]   (standard library only)
"""
import os
import statistics
import sys

NOISY = 0.10


class Figure:
    def __init__(self, values, unit):
        self.values = values
        self.unit = unit
        self.median = statistics.median(values)
        lo, hi = min(values), max(values)
        self.spread = (hi - lo) / self.median if self.median and len(values) > 1 else 0.0
        self.noisy = self.spread > NOISY


def read_raw(path):
    samples, info = {}, {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "info":
                info[parts[1]] = " ".join(parts[2:])
            if len(parts) < 5 or parts[0] != "raw":
                continue
            name, quantity, unit = parts[1], parts[2], parts[3]
            # A figure measured twice in one run (sgemm at the start and the end) pools its samples.
            samples.setdefault((name, quantity, unit), []).extend(float(v) for v in parts[4:])
    figs = {(n, q): Figure(v, u) for (n, q, u), v in samples.items()}
    return figs, info


def fmt(v, digits=3):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return "{:.{}g}".format(v, digits) if abs(v) < 100 else "{:.0f}".format(v)


def mark(fig):
    return "~" if fig is not None and fig.noisy else ""


class Report:
    def __init__(self, figs, info):
        self.figs, self.info = figs, info
        self.lines = []  # machine-readable
        self.targets = []  # (description, value text, goal text, ok or None)

    def get(self, name, quantity):
        return self.figs.get((name, quantity))

    def emit(self, metric, fig_or_value, unit, ref_value=None, ref_name="-"):
        fig = fig_or_value if isinstance(fig_or_value, Figure) else None
        value = fig.median if fig else fig_or_value
        ratio = "%.4g" % (value / ref_value) if ref_value else "-"
        self.lines.append("%s %.6g %s %s %s" % (metric, value, unit, ratio, ref_name if ref_value else "-"))
        if fig and fig.noisy:
            self.lines.append("%s.spread %.1f %% - noisy" % (metric, 100 * fig.spread))

    def target(self, what, value, goal, ok):
        self.targets.append((what, value, goal, ok))


def train_section(rep):
    names = sorted({n for (n, q) in rep.figs if q == "train"}, key=train_key)
    sq = rep.get("sgemm1024", "sgemm")
    rows = []
    for n in names:
        tr, fpt = rep.get(n, "train"), rep.get(n, "flop_per_token")
        gf = tr.median * fpt.median * 1e-9
        same = rep.get(n, "sgemm")
        torch = rep.get(n, "torch_train")
        rep.emit("train.%s.tokens_per_s" % n, tr, "tok/s", torch.median if torch else None, "torch")
        gfig = Figure([v * fpt.median * 1e-9 for v in tr.values], "GFLOP/s")
        rep.emit("train.%s.gflops" % n, gfig, "GFLOP/s", same.median if same else None, "sgemm.same_shapes")
        if sq:
            rep.emit("train.%s.gflops" % n, gfig, "GFLOP/s", sq.median, "sgemm1024")
        if same:
            rep.emit("sgemm.%s" % n, same, "GFLOP/s", sq.median if sq else None, "sgemm1024")
        if torch:
            rep.emit("torch.train.%s.tokens_per_s" % n, torch, "tok/s")
        # An LSTM step does 4/3 of a GRU step's work: its tokens per second beside the GRU's of the same shape.
        gru = rep.get("gru." + n.split(".", 1)[1], "train") if n.startswith("lstm.") else None
        if gru:
            rep.emit("train.%s.tokens_per_s" % n, tr, "tok/s", gru.median, "gru")
        rows.append([n.replace(".", " "), fmt(tr.median) + mark(tr), fmt(gf) + mark(tr),
                     fmt(same.median) + mark(same) if same else "-",
                     "%.0f%%" % (100 * gf / same.median) if same else "-",
                     "%.0f%%" % (100 * gf / sq.median) if sq else "-",
                     fmt(torch.median) + mark(torch) if torch else "-",
                     "%.1fx" % (tr.median / torch.median) if torch else "-"])
    if sq:
        rep.emit("sgemm.1024", sq, "GFLOP/s")
    head = ["config (cell H layers batch)", "tok/s", "GFLOP/s", "sgemm same shapes", "of same", "of 1024^3",
            "PyTorch tok/s", "vs PyTorch"]
    return head, rows


def train_key(n):
    cell, h, l, b = n.split(".")
    return (cell, int(h[1:]), int(l[1:]), int(b[1:]))


def sample_section(rep):
    names = sorted({n for (n, q) in rep.figs if q == "sample_median"},
                   key=lambda n: (n.split(".")[0], int(n.split(".")[1][1:]), int(n.split(".")[2][1:])))
    rows = []
    for n in names:
        med, p99 = rep.get(n, "sample_median"), rep.get(n, "sample_p99")
        tmed, tp99 = rep.get(n, "torch_sample_median"), rep.get(n, "torch_sample_p99")
        rep.emit("sample.%s.median" % n, med, "us", tmed.median if tmed else None, "torch")
        gru = rep.get("gru." + n.split(".", 1)[1], "sample_median") if n.startswith("lstm.") else None
        if gru:
            rep.emit("sample.%s.median" % n, med, "us", gru.median, "gru")
        rep.emit("sample.%s.p99" % n, p99, "us", tp99.median if tp99 else None, "torch")
        floor = rep.get(n, "sample_read_floor")
        if floor:
            rep.emit("sample.%s.median" % n, med, "us", floor.median, "read_floor")
            rep.emit("sample.%s.read_floor" % n, floor, "us")
        # the same weights rounded to halves, stepped over the half-precision copy (as presets sample)
        hmed, hp99 = rep.get(n, "sample_half_median"), rep.get(n, "sample_half_p99")
        hfloor = rep.get(n, "sample_half_read_floor")
        if hmed:
            rep.emit("sample.%s.half.median" % n, hmed, "us", med.median, "f32_weights")
            rep.emit("sample.%s.half.p99" % n, hp99, "us")
            if hfloor:
                rep.emit("sample.%s.half.median" % n, hmed, "us", hfloor.median, "half_read_floor")
        rows.append([n.replace(".", " "), fmt(med.median) + mark(med), fmt(p99.median) + mark(p99),
                     fmt(floor.median) + mark(floor) if floor else "-",
                     "%.2fx" % (med.median / floor.median) if floor else "-",
                     fmt(hmed.median) + mark(hmed) if hmed else "-", fmt(hp99.median) + mark(hp99) if hmed else "-",
                     fmt(hfloor.median) + mark(hfloor) if hfloor else "-",
                     fmt(tmed.median) + mark(tmed) if tmed else "-", fmt(tp99.median) + mark(tp99) if tp99 else "-",
                     "%.1fx" % (tmed.median / med.median) if tmed else "-"])
    return ["model (cell H layers), batch 1", "f32 median us", "f32 p99 us", "f32 read floor us", "of floor",
            "f16 median us", "f16 p99 us", "f16 read floor us", "PyTorch median", "PyTorch p99",
            "speed-up (f32)"], rows


def memory_section(rep):
    rows = []
    for n in sorted({n for (n, q) in rep.figs if q == "train_peak_rss"}, key=train_key):
        peak, low = rep.get(n, "train_peak_rss"), rep.get(n, "train_analytic_min")
        rep.emit("mem.train.%s.peak_rss" % n, peak, "MiB", low.median, "analytic_min")
        rows.append([n.replace(".", " "), fmt(peak.median), fmt(low.median), "%.2fx" % (peak.median / low.median)])
    return ["training (cell H layers batch), T=64", "peak RSS MiB", "analytic minimum MiB", "ratio"], rows


def cls_key(n):
    work, cell, h, l, b = n.split(".")
    return (work, cell, int(h[1:]), int(l[1:]), int(b[1:]))


CLS_WORKS = {"words": "classify words (15,000), both ways, max pool, 2 labels",
             "dna": "classify DNA (4 symbols, 60 steps), pool last, 3 labels",
             "tag": "tag words (15,000), both ways, 17 tags"}


def cls_section(rep):
    rows = []
    for n in sorted({n for (n, q) in rep.figs if q == "cls_train"}, key=cls_key):
        tr, torch = rep.get(n, "cls_train"), rep.get(n, "torch_cls_train")
        rep.emit("cls.%s.tokens_per_s" % n, tr, "tok/s", torch.median if torch else None, "torch")
        if torch:
            rep.emit("torch.cls.%s.tokens_per_s" % n, torch, "tok/s")
        work, rest = n.split(".", 1)
        rows.append([CLS_WORKS.get(work, work), rest.replace(".", " "), fmt(tr.median) + mark(tr),
                     fmt(torch.median) + mark(torch) if torch else "-",
                     "%.1fx" % (tr.median / torch.median) if torch else "-"])
    return ["task", "cell H layers batch", "words (steps)/s", "PyTorch", "vs PyTorch"], rows


def check_targets(rep):
    sq = rep.get("sgemm1024", "sgemm")
    n = "gru.h512.l2.b32"
    tr, fpt, torch = rep.get(n, "train"), rep.get(n, "flop_per_token"), rep.get(n, "torch_train")
    if tr and sq:
        share = tr.median * fpt.median * 1e-9 / sq.median
        rep.target("GRU 512x2 b32 GFLOP/s vs sgemm 1024^3", "%.0f%%" % (100 * share), ">= 50%", share >= 0.5)
    if tr and torch:
        x = tr.median / torch.median
        rep.target("GRU 512x2 b32 tokens/s vs PyTorch", "%.1fx" % x, ">= 5x", x >= 5)
    for cell, goal in (("gru", 4), ("rnn", 4)):
        n = "%s.h256.l1.b32" % cell
        tr, torch = rep.get(n, "train"), rep.get(n, "torch_train")
        if tr and torch:
            x = tr.median / torch.median
            rep.target("%s 256x1 b32 tokens/s vs PyTorch" % cell.upper(), "%.1fx" % x, ">= %dx" % goal, x >= goal)
    # The 150 us goal is for sampling a preset as `sample` does it: its weights are halves, and it steps over
    # the half-precision copy or the float weights, whichever a short trial finds faster (on a CPU whose
    # F16C conversion is slow, the floats). A float32 step must also read 9.4 MB of weights; its own goal
    # is to stay near that floor, which the same run measures.
    half, full = rep.get("gru.h512.l2", "sample_half_median"), rep.get("gru.h512.l2", "sample_median")
    if half and full:
        best = min(half.median, full.median)
        rep.target("GRU 512x2 sampling step, median, as sample steps a preset (faster of f16 copy and f32)",
                   "%.0f us (%s)" % (best, "f16" if half.median <= full.median else "f32"), "<= 150 us", best <= 150)
    floor = rep.get("gru.h512.l2", "sample_read_floor")
    if full and floor:
        r = full.median / floor.median
        rep.target("GRU 512x2 sampling step, median, f32 weights, vs reading them once", "%.2fx (%.0f us, floor %.0f us)"
                   % (r, full.median, floor.median), "<= 1.25x", r <= 1.25)
    for n in sorted({n for (n, q) in rep.figs if q == "cls_train"}, key=cls_key):
        tr, torch = rep.get(n, "cls_train"), rep.get(n, "torch_cls_train")
        if torch:
            x = tr.median / torch.median
            rep.target("%s %s tokens/s vs PyTorch" % ("tagging" if n.startswith("tag.") else "classification", n),
                       "%.1fx" % x, ">= 4x", x >= 4)
    for n in sorted({n for (n, q) in rep.figs if q == "train_peak_rss"}, key=train_key):
        r = rep.get(n, "train_peak_rss").median / rep.get(n, "train_analytic_min").median
        rep.target("training memory %s vs analytic minimum" % n, "%.2fx" % r, "<= 1.5x", r <= 1.5)
    # a run of some parts only (bench/run --only) names them; transcription's targets belong to its part
    parts = rep.info.get("parts", "transcribe").split(",")
    for name, what, goal in (("transcribe", "transcription with digits", 500), ("frontend", "front-end alone", 5000)):
        if "transcribe" not in parts:
            continue
        rtf = rep.get(name, "rtf")
        if rtf is None:
            rep.target("%s, times real time" % what, "not measured", ">= %dx" % goal, None)
        else:
            rep.emit("%s.realtime_factor" % name, rtf, "x")
            rep.target("%s, times real time" % what, "%.0fx" % rtf.median, ">= %dx" % goal, rtf.median >= goal)
    peak, low = rep.get("transcribe", "peak_rss"), rep.get("transcribe", "analytic_min")
    if peak and low:
        rep.emit("mem.transcribe.peak_rss", peak, "MiB", low.median, "analytic_min")


def table(head, rows, markdown):
    if not rows:
        return []
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return out
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda r: "  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(r, widths)))
    return [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]


def heading(title, markdown):
    return ["", "**%s**" % title, ""] if markdown else ["", "== %s ==" % title]


def render(rep, sections, markdown):
    out = []
    for title, (head, rows) in sections:
        if rows:
            out += heading(title, markdown) + table(head, rows, markdown)
    if rep.targets:
        rows = [[w, v, g, "yes" if ok else ("no" if ok is not None else "-")] for w, v, g, ok in rep.targets]
        out += heading("speed targets", markdown) + table(["target", "measured", "goal", "met"], rows, markdown)
    return out


LEVEL_TITLES = {"avx512": "AVX-512", "avx2": "AVX2 (no AVX-512)", "plain": "plain C kernels"}


def markers(level):
    return ("<!-- generated by bench/run --readme (%s): begin -->" % level,
            "<!-- generated by bench/run --readme (%s): end -->" % level)


def machine_line(rep):
    return "CPU: %s; kernels %s; %s threads" % (rep.info.get("cpu_model", "not recorded"),
                                               rep.info.get("cpu_level", "not recorded"), rep.info.get("threads", "?"))


def update_readme(path, rep, sections, command):
    """Replaces the tables of this run's kernel level in path (between its markers) with this run's, or adds
    them after the last generated tables when that level has none yet; other levels' tables stay."""
    level = rep.info.get("cpu_level")
    if level not in LEVEL_TITLES:
        sys.exit("report.py: the run names no CPU kernel level; README.md left as it was")
    text = open(path).read()
    begin, end = markers(level)
    body = ["### %s" % LEVEL_TITLES[level], "",
            "Measured with `%s` on %s (PyTorch %s, `torch.set_num_threads(%s)`; OpenBLAS with %s threads). "
            "~ marks a figure whose runs spread by more than %d%%." %
            (command, rep.info.get("cpu_model", "an unrecorded CPU"), rep.info.get("torch_version", "not installed"),
             rep.info.get("threads", "2"), rep.info.get("threads", "2"), 100 * NOISY)]
    body += render(rep, sections, True)
    block = begin + "\n" + "\n".join(body).strip() + "\n" + end
    if begin in text and end in text:
        text = text.split(begin, 1)[0] + block + text.split(end, 1)[1]
    else:
        ends = [text.rfind(markers(l)[1]) for l in LEVEL_TITLES]
        at = max(ends)
        if at < 0:
            sys.exit("report.py: %s has no generated-table markers" % path)
        at += len(markers([l for l in LEVEL_TITLES if text.rfind(markers(l)[1]) == at][0])[1])
        text = text[:at] + "\n\n" + block + text[at:]
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    args = sys.argv[1:]
    if len(args) not in (1, 4) or (len(args) == 4 and args[1] != "--readme"):
        sys.exit("usage: report.py RAWFILE [--readme README.md COMMAND]")
    figs, info = read_raw(args[0])
    rep = Report(figs, info)
    sections = [("training: char LM, 65 symbols one-hot, T=64, Adam, clip 5", train_section(rep)),
                ("sampling: one step + one draw", sample_section(rep)),
                ("classification and tagging: the training step, batch 32, Adam, clip 5", cls_section(rep)),
                ("memory", memory_section(rep))]
    check_targets(rep)
    print(machine_line(rep))
    print("\n".join(render(rep, sections, False)))
    print("\n~ marks a figure whose runs spread by more than %d%%; PyTorch %s." %
          (100 * NOISY, info.get("torch_version", "not measured")))
    print("\n== figures: metric value unit ratio reference ==")
    print("\n".join(rep.lines))
    if len(args) == 4:
        update_readme(args[2], rep, sections, args[3])


if __name__ == "__main__":
    main()
