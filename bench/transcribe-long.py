#!/usr/bin/env python3
"""Peak memory and speed of `rnnhost transcribe` on one very long recording (default ten hours), made here
from tones, noise and silence at the model's 8 kHz: the check that memory does not grow with the length
of a file. Prints `metric value unit` lines; exits 1 when the peak resident memory exceeds --limit-mb.

bench/transcribe-long.py [--rnnhost PATH] [--model digits] [--hours 10] [--limit-mb 200] [--keep FILE]"""
import argparse, math, os, random, struct, subprocess, sys, tempfile, time, wave

def make(path, minutes):
    """Writes the recording. Runs in a child process: a child's peak memory counts the copy of its parent
    it starts as, so the measuring parent must stay small."""
    rng = random.Random(1)
    # one minute of material, varied, repeated: tones of 0.1-0.6 s at 200-3000 Hz between silences with noise
    minute = []
    while len(minute) < 60 * RATE:
        n = int(RATE * rng.uniform(0.1, 0.6))
        f = rng.uniform(200, 3000)
        amp = rng.uniform(0.05, 0.5)
        minute += [amp * math.sin(2 * math.pi * f * i / RATE) for i in range(n)]
        minute += [rng.gauss(0, 0.003) for _ in range(int(RATE * rng.uniform(0.05, 2.0)))]
    block = b"".join(struct.pack("<h", max(-32768, min(32767, int(v * 32767)))) for v in minute[:60 * RATE])
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        for _ in range(minutes):
            w.writeframes(block)


RATE = 8000
if len(sys.argv) == 4 and sys.argv[1] == "--make":
    make(sys.argv[2], int(sys.argv[3]))
    sys.exit(0)

ap = argparse.ArgumentParser()
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap.add_argument("--rnnhost", default=os.path.join(root, "build", "host", "rnnhost"))
ap.add_argument("--model", default="digits")
ap.add_argument("--hours", type=float, default=10.0)
ap.add_argument("--limit-mb", type=float, default=200.0)
ap.add_argument("--keep", help="write the recording here and keep it")
a = ap.parse_args()

path = a.keep or os.path.join(tempfile.mkdtemp(), "long.wav")
minutes = int(round(a.hours * 60))
subprocess.run([sys.executable, os.path.abspath(__file__), "--make", path, str(minutes)], check=True)
out = path + ".json"
t0 = time.monotonic()
child = subprocess.Popen([a.rnnhost, "transcribe", "-q", "-m", a.model, "-f", "json", "-o", out, path])
_, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not this script's
wall = time.monotonic() - t0
r = subprocess.CompletedProcess(child.args, os.waitstatus_to_exitcode(status))
peak_mb = usage.ru_maxrss / 1024.0
audio = minutes * 60.0
print("recording_hours %.2f h" % (audio / 3600))
print("transcribe_exit %d code" % r.returncode)
print("transcribe_wall %.1f s" % wall)
print("transcribe_real_time_factor %.0f x" % (audio / wall))
print("transcribe_peak_rss %.1f MB (limit %.0f)" % (peak_mb, a.limit_mb))
if not a.keep:
    os.unlink(path)
os.unlink(out)
sys.exit(0 if r.returncode == 0 and peak_mb <= a.limit_mb else 1)
