#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora: a few small, valid inputs of each kind, so the fuzzer starts
from files that reach deep into each parser. Run from anywhere: python3 make_seeds.py [OUT_DIR]
(default: corpus/ beside this script). The repository keeps the output; all of it but the Ogg file
(random stream serial numbers) comes out the same on every run."""
import json
import math
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


# --- Standard MIDI Files -------------------------------------------------------------------------------
def vlq(v):
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.append(0x80 | (v & 0x7F))
        v >>= 7
    return bytes(reversed(out))


def track(events):
    body = b"".join(vlq(dt) + ev for dt, ev in events) + b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def smf(fmt, division, tracks):
    return b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), division) + b"".join(tracks)


tempo = (0, b"\xff\x51\x03\x07\xa1\x20")
timesig = (0, b"\xff\x58\x04\x04\x02\x18\x08")
name = (0, b"\xff\x03\x05tune1")
notes = [(0, b"\x90\x3c\x40"), (96, b"\x3c\x00"), (0, b"\x3e\x50"), (96, b"\x80\x3e\x00")]  # running status
put("smf", "format0.mid", smf(0, 96, [track([tempo, timesig, name] + notes)]))
put("smf", "format1.mid", smf(1, 480, [track([tempo, timesig]),
                                        track([(0, b"\xc0\x05"), (0, b"\xb0\x07\x64")] + notes),
                                        track([(10, b"\xe1\x00\x40"), (5, b"\xd1\x30"), (0, b"\xa1\x3c\x10"),
                                               (0, b"\xf0\x03\x43\x12\xf7"), (0, b"\x91\x40\x40"),
                                               (200, b"\xff\x51\x03\x0f\x42\x40"), (0, b"\x81\x40\x00")])]))
put("smf", "format2.mid", smf(2, 24, [track(notes), track([(0, b"\xff\x01\x04text")] + notes)]))

# --- model files (safetensors) ---------------------------------------------------------------------------
def safetensors(meta, tensors):
    header, blob = {"__metadata__": meta} if meta is not None else {}, b""
    for tname, (dtype, shape, data) in tensors.items():
        header[tname] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def spec(task, model, inp, din, hidden, dout, core=""):
    return {"rnnhost.format": "1", "rnnhost.task": task, "rnnhost.model": model, "rnnhost.core": core,
            "rnnhost.options": "", "rnnhost.input": inp, "rnnhost.input_dim": str(din),
            "rnnhost.hidden_size": str(hidden), "rnnhost.num_layers": "1", "rnnhost.output_dim": str(dout)}


lm = spec("lm", "charlm", "tokens", 4, 2, 4, "rnn")
lm["rnnhost.vocab"] = "\nabé"
put("weights", "lm.safetensors", safetensors(lm, {"core.l0.embed": ("F32", [4, 2], f32([0.1 * i for i in range(8)])),
                                                  "out.W": ("F32", [4, 2], f32([-0.05 * i for i in range(8)])),
                                                  "out.b": ("F16", [4], struct.pack("<4H", 0x3c00, 0, 0xbc00, 0x3800))}))
ctc = spec("ctc", "gru", "dense", 6, 2, 4)
ctc["rnnhost.frontend"] = json.dumps({"sample_rate": 8000, "n_fft": 64, "win_length": 48, "hop_length": 16,
                                      "n_mels": 2, "fmin": 20, "fmax": 4000, "stack": 3}, separators=(",", ":"))
ctc["rnnhost.units"] = json.dumps({"kind": "words", "symbols": ["no", "off", "yes"]}, separators=(",", ":"))
ctc["rnnhost.bidirectional"] = "1"
put("weights", "ctc.safetensors", safetensors(ctc, {"fw.l0.W_x": ("F32", [6, 6], f32([0.01 * i for i in range(36)])),
                                                    "bw.out.b": ("F32", [4], f32([0, 1, 2, 3])),
                                                    "train.step": ("U64", [], struct.pack("<Q", 7)),
                                                    "opt.mask": ("U8", [3], b"\x01\x00\x01"),
                                                    "ids": ("I32", [2], struct.pack("<2i", -1, 5))}))
chars = dict(ctc)
chars["rnnhost.units"] = json.dumps({"kind": "chars", "symbols": [" ", "a", "b"]})
chars["rnnhost.bidirectional"] = "0"
put("weights", "ctc-chars.safetensors", safetensors(chars, {}))
put("weights", "bare.safetensors", safetensors(None, {"x": ("F32", [1, 2, 1, 1], f32([1.5, -2.0]))}))

# --- training manifests ----------------------------------------------------------------------------------
put("manifest", "train.tsv", "# digits\nclips/a.wav\tone two\n/abs/b.flac\t  three   four \n\nc.wav\t\n")
put("manifest", "crlf.tsv", "x/y.wav\tsí señor\r\nz.ogg\tok\r\n")

# --- text corpora ----------------------------------------------------------------------------------------
put("text", "ascii.txt", "First Citizen:\nBefore we proceed any further, hear me speak.\n")
put("text", "bom-crlf.txt", "\ufeffline one\r\nline two\r\n")
put("text", "multibyte.txt", "naïve café — 日本語 😀 \u00a0end")
put("text", "vocab.txt", "\n abcé")

# --- audio -----------------------------------------------------------------------------------------------
def tone(n, rate, freq=440.0, amp=0.5):
    return [amp * math.sin(2 * math.pi * freq * i / rate) for i in range(n)]


def wav(rate, channels, samples, kind="pcm16"):
    frames = [s for s in samples for _ in range(channels)]
    if kind == "pcm16":
        fmt, bits, data = 1, 16, struct.pack("<%dh" % len(frames), *[int(s * 32767) for s in frames])
    elif kind == "pcm8":
        fmt, bits, data = 1, 8, bytes(int(128 + s * 127) for s in frames)
    else:
        fmt, bits, data = 3, 32, struct.pack("<%df" % len(frames), *frames)
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    if fmt == 3:
        body += b"fact" + struct.pack("<II", 4, len(samples))
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def aiff(rate, samples):
    data = struct.pack(">%dh" % len(samples), *[int(s * 32767) for s in samples])
    # sample rate as an 80-bit extended float
    m, e = math.frexp(rate)
    ext = struct.pack(">HQ", 16383 + e - 1, int(m * (1 << 64)))
    comm = struct.pack(">hIh", 1, len(samples), 16) + ext
    body = b"AIFF" + b"COMM" + struct.pack(">I", len(comm)) + comm
    body += b"SSND" + struct.pack(">III", len(data) + 8, 0, 0) + data
    return b"FORM" + struct.pack(">I", len(body)) + body


def au(rate, samples):
    data = struct.pack(">%dh" % len(samples), *[int(s * 32767) for s in samples])
    return b".snd" + struct.pack(">IIIII", 24, len(data), 3, rate, 1) + data


put("audio", "mono8k.wav", wav(8000, 1, tone(800, 8000)))
put("audio", "mono16k.wav", wav(16000, 1, tone(1600, 16000, 1000.0)))
put("audio", "stereo44k.wav", wav(44100, 2, tone(900, 44100), "pcm8"))
put("audio", "float22k.wav", wav(22050, 1, [s * 3 for s in tone(600, 22050)], "float"))
put("audio", "tone.aiff", aiff(11025, tone(500, 11025)))
put("audio", "tone.au", au(16000, tone(500, 16000)))

# --- CTC decoder inputs (layout in fuzz_ctc.c) -----------------------------------------------------------
def ctc_input(T, C, labels, beam, flags, phrases, logits):
    head = bytes([T, C - 2, len(labels), beam - 1, flags, len(phrases), 0, 0]) + bytes(labels)
    for p in phrases:
        head += bytes([len(p)]) + bytes(p)
    return head + f32(logits)


peaky = []
for t in range(12):
    peaky += [4.0 if k == [1, 0, 2, 0, 2, 0, 3, 0, 0, 1, 0, 0][t] else 0.0 for k in range(5)]
put("ctc", "greedy", ctc_input(12, 5, [0, 1, 1], 1, 0, [], peaky))
put("ctc", "beam-phrases", ctc_input(12, 5, [0, 1, 1], 4, 8, [[1, 2], [2, 2, 3], []], peaky))
put("ctc", "chars-nan", ctc_input(6, 4, [0, 2], 3, 4 | 8, [[1]], [float("nan"), 1.0, float("inf"), -1.0] * 6))
put("ctc", "blank-last", ctc_input(8, 3, [0, 1], 2, 1, [], [0.5 * i for i in range(24)]))

# Compressed formats need an encoder; sox makes them when it is installed (the repository keeps its output).
import shutil
import subprocess
import tempfile

if shutil.which("sox"):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.wav")
        with open(src, "wb") as f:
            f.write(wav(8000, 1, tone(1200, 8000)))
        for ext in ("flac", "ogg"):
            dst = os.path.join(tmp, "out." + ext)
            if subprocess.run(["sox", src, dst], capture_output=True).returncode == 0:
                with open(dst, "rb") as f:
                    put("audio", "tone." + ext, f.read())

# A real, trained text model from presets/ (22 KB).
preset = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "presets", "dinos.safetensors")
if os.path.exists(preset):
    with open(preset, "rb") as f:
        put("weights", "dinos.safetensors", f.read())
