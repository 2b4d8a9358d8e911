#!/usr/bin/env python3
"""Speech figures for bench/run, as `raw` lines for bench/report.py: the real-time factor of
`rnnhost transcribe -m digits -j 2` on two generated 10-minute recordings (spoken digit strings with pauses
and background noise, made from the shipped example recording), of the front-end alone (`rnnhost features`
on the same audio with the model's settings), and the peak resident memory of the transcription against
its analytic minimum (the weights plus, per thread, one chunk of samples and its features and logits).

transcribe_bench.py RNNHOST [--runs R] [--minutes M]"""
import argparse, os, random, struct, subprocess, sys, tempfile, time, wave

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
example = os.path.join(root, "presets", "digits-example.wav")
model = os.path.join(root, "presets", "digits.safetensors")


def make(work, minutes):
    """Writes the recordings. Runs in a child process: a child's peak memory counts the copy of its parent
    it starts as, so the measuring parent must stay small."""
    with wave.open(example) as w:
        rate = w.getframerate()
        speech = list(struct.unpack("<%dh" % w.getnframes(), w.readframes(w.getnframes())))
    rng = random.Random(1)
    for k in range(2):
        out = []
        while len(out) < minutes * 60 * rate:
            gain = rng.uniform(0.5, 1.2)
            out += [int(v * gain) for v in speech]
            out += [int(rng.gauss(0, 30)) for _ in range(int(rate * rng.uniform(0.3, 2.0)))]
        with wave.open(os.path.join(work, "long%d.wav" % k), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(struct.pack("<%dh" % len(out), *[max(-32768, min(32767, v)) for v in out]))


if len(sys.argv) == 4 and sys.argv[1] == "--make":
    make(sys.argv[2], float(sys.argv[3]))
    sys.exit(0)

ap = argparse.ArgumentParser()
ap.add_argument("rnnhost")
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--minutes", type=float, default=10.0)
a = ap.parse_args()
if not os.path.exists(model):
    print("info transcribe_skipped no_digits_preset")
    sys.exit(0)
work = tempfile.mkdtemp()
subprocess.run([sys.executable, os.path.abspath(__file__), "--make", work, str(a.minutes)], check=True)
files = [os.path.join(work, "long%d.wav" % k) for k in range(2)]
with wave.open(files[0]) as w:
    rate = w.getframerate()
audio = sum(wave.open(f).getnframes() for f in files) / float(rate)
peaks = []


def timed(cmd):
    """Wall seconds of cmd; its own peak resident memory (wait4) goes into peaks."""
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("%s failed" % cmd[1])
    peaks.append(usage.ru_maxrss / 1024.0)
    return time.monotonic() - t


tr = [audio / timed([a.rnnhost, "transcribe", "-q", "-m", model, "-j", "2", "-f", "json", "--output-dir", work]
                    + files) for _ in range(a.runs)]
peak = max(peaks)
fe_args = ["--sample-rate", str(rate), "--n-fft", "256", "--win-length", "200", "--hop-length", "80", "--fmax", "4000"]
fe = [audio / sum(timed([a.rnnhost, "features", f, "-o", f + ".npy"] + fe_args) for f in files) for _ in range(a.runs)]
chunk = 30 * rate                       # samples per chunk
steps = chunk // 240 + 1                # 30 ms model steps
per_thread = (chunk + steps * 3 * 40 * 2 + steps * 11 * 2) * 4
low = (os.path.getsize(model) + 2 * per_thread) / 2.0 ** 20
print("raw transcribe rtf x " + " ".join("%.1f" % v for v in tr))
print("raw frontend rtf x " + " ".join("%.1f" % v for v in fe))
print("raw transcribe peak_rss MiB %.2f" % peak)
print("raw transcribe analytic_min MiB %.2f" % low)
for f in os.listdir(work):
    os.unlink(os.path.join(work, f))
os.rmdir(work)
