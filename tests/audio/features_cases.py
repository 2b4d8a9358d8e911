"""`rnnhost features` end to end: .npy header and data, PGM orientation, stdout, --help, broken input.
numpy may be absent, so the .npy bytes are parsed here. Usage: features_cases.py RNNHOST; exit 0 pass, 1 fail."""
import ast
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import wave

exe = sys.argv[1]
failures = 0


def check(cond, msg):
    global failures
    if not cond:
        print("FAIL:", msg, file=sys.stderr)
        failures += 1


def run(*args):
    return subprocess.run([exe, "features", *args], capture_output=True, timeout=60)


def write_tone(path, hz, rate, seconds):
    n = int(rate * seconds)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * hz * i / rate))) for i in range(n)))
    return n


def parse_npy(data):
    check(data[:6] == b"\x93NUMPY", "npy magic")
    check(data[6:8] == b"\x01\x00", "npy version 1.0")
    hlen = struct.unpack("<H", data[8:10])[0]
    check((10 + hlen) % 64 == 0, "npy header padded to 64 bytes")
    header = data[10:10 + hlen].decode("latin1")
    check(header.endswith("\n"), "npy header ends with a newline")
    d = ast.literal_eval(header.strip())
    check(d["descr"] == "<f4" and d["fortran_order"] is False, "npy descr %r" % d)
    rows, cols = d["shape"]
    body = data[10 + hlen:]
    check(len(body) == rows * cols * 4, "npy data is %d bytes for shape %r" % (len(body), d["shape"]))
    values = struct.unpack("<%df" % (rows * cols), body[:rows * cols * 4])
    return rows, cols, values


def digits_norm():
    """The digits preset's training-set statistics from its safetensors metadata, or None."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "presets", "digits.safetensors")
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
    fe = json.loads(head["__metadata__"]["rnnhost.frontend"])
    norm = fe.get("norm")
    return norm if norm and norm.get("prior_frames", 0) > 0 else None


def norm_prior(x, rows, cols, mean, var, prior):
    """Per band: subtract the file's loudest frame level, pool with `prior` frames of the given statistics."""
    level = max(sum(x[t * cols:(t + 1) * cols]) / cols for t in range(rows))
    out = [0.0] * (rows * cols)
    for m in range(cols):
        col = [x[t * cols + m] - level for t in range(rows)]
        mu = (sum(col) + prior * mean[m]) / (rows + prior)
        v = (sum((c - mu) ** 2 for c in col) + prior * (var[m] + (mean[m] - mu) ** 2)) / (rows + prior)
        inv = 1 / math.sqrt(v) if v > 1e-12 else 0.0
        for t in range(rows):
            out[t * cols + m] = (col[t] - mu) * inv
    return out


with tempfile.TemporaryDirectory() as tmp:
    wav = os.path.join(tmp, "tone.wav")
    n = write_tone(wav, 1000, 16000, 1.0)
    out = os.path.join(tmp, "tone.npy")
    r = run(wav, "-o", out)
    check(r.returncode == 0, "features exit %d: %s" % (r.returncode, r.stderr))
    data = open(out, "rb").read()
    rows, cols, values = parse_npy(data)
    check(rows == 1 + (n - 400) // 160 and cols == 40, "shape (%d, %d)" % (rows, cols))
    check(all(math.isfinite(v) for v in values), "finite values")
    # The loudest band of a 1 kHz tone: the one whose HTK-mel centre is nearest 1 kHz.
    mel = lambda f: 2595 * math.log10(1 + f / 700)
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)
    centres = [hz(mel(20) + (mel(8000) - mel(20)) * (m + 1) / 41) for m in range(40)]
    band = min(range(40), key=lambda m: abs(centres[m] - 1000))
    mid = rows // 2
    row = values[mid * 40:(mid + 1) * 40]
    check(row.index(max(row)) == band, "1 kHz loudest in band %d, want %d" % (row.index(max(row)), band))

    # The same bytes on stdout, and --cmvn changes the values.
    r = run(wav, "-o", "-")
    check(r.returncode == 0 and r.stdout == data, "-o - differs from the file")
    r = run(wav, "-o", "-", "--cmvn")
    _, _, normed = parse_npy(r.stdout)
    col = [normed[t * 40 + band] for t in range(rows)]
    check(abs(sum(col) / rows) < 1e-4, "--cmvn channel mean %g" % (sum(col) / rows))

    # PGM: time across, low mels at the bottom: the tone's band is the brightest row, counted from below.
    pgm = os.path.join(tmp, "tone.pgm")
    r = run(wav, "-o", pgm)
    check(r.returncode == 0, "pgm exit %d: %s" % (r.returncode, r.stderr))
    img = open(pgm, "rb").read()
    parts = img.split(b"\n", 3)
    check(parts[0] == b"P5" and parts[2] == b"255", "PGM header %r" % parts[:3])
    w, h = map(int, parts[1].split())
    px = parts[3]
    check((w, h) == (rows, 40) and len(px) == w * h, "PGM %dx%d with %d bytes" % (w, h, len(px)))
    column = [px[y * w + w // 2] for y in range(h)]
    check(column.index(max(column)) == h - 1 - band, "brightest PGM row %d, want %d" % (column.index(max(column)), h - 1 - band))

    # A different rate and a resampled file: shape follows the settings.
    r = run(wav, "-o", "-", "--sample-rate", "8000", "--n-mels", "20")
    rows8, cols8, _ = parse_npy(r.stdout)
    check(r.returncode == 0 and cols8 == 20 and abs(rows8 - (1 + (8000 - 400) // 160)) <= 1, "8 kHz shape (%d, %d)" % (rows8, cols8))

    # Broken input: exit 1, one line naming the file, nothing written.
    bad = os.path.join(tmp, "bad.wav")
    with open(bad, "wb") as f:
        f.write(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    bad_out = os.path.join(tmp, "bad.npy")
    r = run(bad, "-o", bad_out)
    err = r.stderr.decode()
    check(r.returncode == 1, "corrupt file exit %d" % r.returncode)
    check(err.count("\n") == 1 and bad in err and "not a sound file" in err, "corrupt file message %r" % err)
    check(not os.path.exists(bad_out), "output written for a corrupt file")
    check(sorted(os.listdir(tmp)) == ["bad.wav", "tone.npy", "tone.pgm", "tone.wav"], "stray files %r" % os.listdir(tmp))
    r = run(os.path.join(tmp, "missing.wav"))
    check(r.returncode == 1 and "missing.wav" in r.stderr.decode(), "missing file: %d %r" % (r.returncode, r.stderr))

    # -m: the digits preset's own front-end (8 kHz, 256-point FFT, 200-sample window, hop 80, 40 mels from
    # 20 Hz to 4 kHz) and its normalisation: per file when the model carries no training-set statistics,
    # else each band's own frames pooled with `prior_frames` frames of the training set's mean and variance.
    # The expected numbers are computed here from the settings given by hand and the model file's metadata.
    r = run(wav, "-o", "-", "-m", "digits")
    hand = ["--sample-rate", "8000", "--n-fft", "256", "--win-length", "200", "--hop-length", "80",
            "--n-mels", "40", "--fmin", "20", "--fmax", "4000"]
    raw = run(wav, "-o", "-", *hand)
    check(r.returncode == 0 and raw.returncode == 0, "-m digits exit %d %r" % (r.returncode, r.stderr))
    rows_m, cols_m, got = parse_npy(r.stdout)
    check((rows_m, cols_m) == (1 + (8000 - 200) // 80, 40), "-m digits shape (%d, %d)" % (rows_m, cols_m))
    norm = digits_norm()
    if norm is None:
        check(r.stdout == run(wav, "-o", "-", *hand, "--cmvn").stdout, "-m digits differs from --cmvn by hand")
    else:
        _, _, x = parse_npy(raw.stdout)
        want = norm_prior(x, rows_m, cols_m, norm["mean"], norm["var"], norm["prior_frames"])
        worst = max(abs(a - b) for a, b in zip(got, want))
        check(worst < 1e-3, "-m digits differs from its settings and statistics applied by hand (%g)" % worst)
        check(r.stdout != run(wav, "-o", "-", *hand, "--cmvn").stdout, "-m digits ignores its statistics")
    check(run(wav, "-m", "digits", "--n-mels", "20").returncode == 2, "-m with a setting is a usage error")
    r = run(wav, "-o", os.path.join(tmp, "lm.npy"), "-m", "shakespeare")
    check(r.returncode == 3 and b"ctc" in r.stderr, "-m with a language model: %d %r" % (r.returncode, r.stderr))

    # The format follows the output's extension; an unknown one is a usage error naming the known ones,
    # and nothing is written (x.png used to receive a NumPy array).
    png = os.path.join(tmp, "x.png")
    r = run(wav, "-o", png)
    check(r.returncode == 2 and b".npy or .pgm" in r.stderr, "-o x.png: exit %d %r" % (r.returncode, r.stderr))
    check(not os.path.exists(png), "-o x.png wrote a file")
    r = run(wav, "-o", os.path.join(tmp, "upper.PGM"))
    check(r.returncode == 0 and open(os.path.join(tmp, "upper.PGM"), "rb").read(2) == b"P5", "-o upper.PGM is a PGM")
    r = run(wav, "-o", os.path.join(tmp, "plain"))
    check(r.returncode == 0 and open(os.path.join(tmp, "plain"), "rb").read(6) == b"\x93NUMPY",
          "a name without an extension is .npy")
    r = run(wav, "-o", os.path.join(tmp, "given.dat"), "-f", "pgm")
    check(r.returncode == 0 and open(os.path.join(tmp, "given.dat"), "rb").read(2) == b"P5",
          "--format pgm decides for an unknown extension")
    r = run(wav, "-o", os.path.join(tmp, "clash.npy"), "-f", "pgm")
    check(r.returncode == 2 and b".npy" in r.stderr, "--format pgm with x.npy: exit %d %r" % (r.returncode, r.stderr))
    check(not os.path.exists(os.path.join(tmp, "clash.npy")), "a format clash wrote a file")
    r = run(wav, "-o", "-", "-f", "pgm")
    check(r.returncode == 0 and r.stdout[:2] == b"P5", "-o - -f pgm")
    r = run(wav, "-o", "-", "-f", "png")
    check(r.returncode == 2 and b"npy or pgm" in r.stderr, "--format png: exit %d %r" % (r.returncode, r.stderr))

    # '-' reads the sound file from stdin, here through a pipe, and writes to stdout unless -o says else.
    whole = run(wav, "-o", "-")
    piped = subprocess.run([exe, "features", "-"], input=open(wav, "rb").read(), capture_output=True, timeout=60)
    check(whole.returncode == 0 and piped.returncode == 0 and piped.stdout == whole.stdout,
          "features of stdin: exit %d %r" % (piped.returncode, piped.stderr))

    # Frames made on several threads are the very bytes of one thread's, over a file of several chunks
    # (2^18 samples each), with and without a model's padding; a thread count outside 0..64 is refused.
    noisy = os.path.join(tmp, "noisy.wav")
    rnd = __import__("random").Random(5)
    with wave.open(noisy, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(struct.pack("<%dh" % 700001, *[rnd.randint(-9000, 9000) for _ in range(700001)]))
    for extra in ([], ["-m", "digits"]):
        outs = [run(noisy, "-o", "-", "--threads", str(t), *extra) for t in (1, 2, 3, 0)]
        check(all(r.returncode == 0 for r in outs), "--threads %s: exit %r" % (extra, [r.returncode for r in outs]))
        check(len(outs[0].stdout) > 600000 and all(r.stdout == outs[0].stdout for r in outs),
              "--threads 1, 2, 3 and every core give different frames %s" % extra)
    check(run(noisy, "--threads", "65").returncode == 2, "--threads 65 is a usage error")

    # Usage and help.
    r = run("--help")
    check(r.returncode == 0 and b"16000" in r.stdout and b"--hop-length" in r.stdout, "--help")
    check(run().returncode == 2, "no file is a usage error")
    check(run(wav, "--fmax", "9000").returncode == 2, "fmax above Nyquist is a usage error")

print("features-command: %d failure(s)" % failures, file=sys.stderr)
sys.exit(1 if failures else 0)
