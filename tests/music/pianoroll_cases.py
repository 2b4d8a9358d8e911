#!/usr/bin/env python3
"""`rnnhost pianoroll` end to end: pianoroll_cases.py RNNHOST.

Writes its own MIDI fixtures byte by byte (an independent writer), draws them, and checks the pictures
independently of the encoder: every PNG chunk's CRC with zlib.crc32, the image data with zlib.decompress
(which also checks the Adler-32), the size of the scanlines, that the PNG and the SVG put the same colour
in the same place, and one SVG rect per note. Also the exit codes and messages of bad input.
Exit 0 on pass, 1 on fail."""
import os
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL: " + msg, file=sys.stderr)


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def track(events):
    """events: (tick, bytes) in order; each delta written as a variable-length quantity."""
    body, now = b"", 0
    for tick, data in events:
        body += vlq(tick - now) + data
        now = tick
    body += vlq(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def midi_file(notes, division=96, tempo=500000):
    """Format 1: a tempo track, then one track of notes (start_tick, end_tick, pitch, velocity, channel).
    Note-ons of velocity 0 end notes and running status is used, as many real files do."""
    head = b"MThd" + struct.pack(">IHHH", 6, 1, 2, division)
    tempo_track = track([(0, b"\xff\x51\x03" + struct.pack(">I", tempo)[1:])])
    ev = []
    for s, e, p, v, c in notes:
        ev.append((s, 1, c, p, v))
        ev.append((e, 0, c, p, 0))
    ev.sort(key=lambda x: (x[0], x[1]))
    msgs, status = [], None
    for tick, _, c, p, v in ev:
        st = 0x90 | c
        msgs.append((tick, (b"" if st == status else bytes([st])) + bytes([p, v])))
        status = st
    return head + tempo_track + track(msgs)


def run(*args):
    r = subprocess.run([RNNHOST, "pianoroll", *args], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def read_png(path):
    """(width, height, rows of RGB bytes) after checking the structure, or None."""
    try:
        data = open(path, "rb").read()
    except OSError as e:
        fail(f"{path}: {e}")
        return None
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path}: no PNG signature")
        return None
    pos, chunks = 8, []
    while pos < len(data):
        if pos + 12 > len(data):
            fail(f"{path}: a chunk header runs past the end at byte {pos}")
            return None
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            fail(f"{path}: chunk {kind!r} at byte {pos}: CRC {crc:08x}, computed {zlib.crc32(kind + body):08x}")
        chunks.append((kind, body))
        pos += 12 + length
    kinds = [k for k, _ in chunks]
    if kinds[0] != b"IHDR" or kinds[-1] != b"IEND" or b"IDAT" not in kinds:
        fail(f"{path}: chunks {kinds}")
        return None
    w, h, depth, colour, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if (depth, colour, comp, filt, interlace) != (8, 2, 0, 0, 0):
        fail(f"{path}: IHDR depth {depth} colour type {colour} methods {comp} {filt} {interlace}")
    try:
        raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    except zlib.error as e:
        fail(f"{path}: the image data is not a valid zlib stream: {e}")
        return None
    if len(raw) != w * h * 3 + h:
        fail(f"{path}: {len(raw)} bytes of scanlines, want {w * h * 3 + h}")
        return None
    stride = w * 3 + 1
    if any(raw[y * stride] != 0 for y in range(h)):
        fail(f"{path}: a scanline with a filter other than none")
    return w, h, [raw[y * stride + 1:(y + 1) * stride] for y in range(h)]


def svg_notes(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        fail(f"{path}: {e}")
        return None, []
    ns = "{http://www.w3.org/2000/svg}"
    return root, [r for r in root.iter(ns + "rect") if r.get("class") == "note"]


def main():
    tmp = tempfile.mkdtemp(prefix="rnnhost-pianoroll.")
    os.chdir(tmp)
    # Two channels, a chord, a soft and a loud note; the 8 s piece at 120 bpm and 96 ticks per beat.
    notes = [(0, 96, 60, 100, 0), (0, 96, 64, 100, 0), (0, 96, 67, 100, 0), (96, 288, 62, 40, 0),
             (288, 384, 72, 127, 1), (384, 768, 48, 80, 1), (768, 1536, 55, 20, 1), (192, 1536, 79, 90, 0)]
    open("in.mid", "wb").write(midi_file(notes))

    rc, _, err = run("in.mid", "-o", "out.svg")
    if rc != 0:
        fail(f"svg: exit {rc}: {err}")
    else:
        root, rects = svg_notes("out.svg")
        if len(rects) != len(notes):
            fail(f"svg: {len(rects)} note rects for {len(notes)} notes")
        if root is None or root.get("width") != "1200" or root.get("height") != "480":
            fail("svg: not the default size 1200x480")
        # Widths in proportion to durations: the 8-beat note is 8 times the 1-beat one.
        ws = sorted(float(r.get("width")) for r in rects)
        if ws and abs(ws[-1] / ws[0] - 14.0) > 0.01:
            fail(f"svg: longest/shortest note width {ws[-1] / ws[0]:.3f}, want 14 (1344 / 96 ticks)")
        if "8 notes" not in err:
            fail(f"svg: summary line '{err.strip()}'")

    rc, _, err = run("in.mid", "-o", "small.svg", "--width", "300", "--height", "200")
    rc2, _, err2 = run("in.mid", "-o", "small.png", "--width", "300", "--height", "200")
    if rc != 0 or rc2 != 0:
        fail(f"small: exit {rc}/{rc2}: {err}{err2}")
    else:
        png = read_png("small.png")
        _, rects = svg_notes("small.svg")
        if png:
            w, h, rows = png
            if (w, h) != (300, 200):
                fail(f"png: {w}x{h}, want 300x200")
            # The PNG paints what the SVG describes: each note's centre has its fill colour.
            for r in rects:
                x = float(r.get("x")) + float(r.get("width")) / 2
                y = float(r.get("y")) + float(r.get("height")) / 2
                want = bytes.fromhex(r.get("fill")[1:])
                got = rows[int(y)][int(x) * 3:int(x) * 3 + 3]
                if got != want:
                    fail(f"png: pixel ({int(x)}, {int(y)}) is {got.hex()}, the SVG note there is {want.hex()}")
            colours = {bytes(row[i:i + 3]) for row in rows for i in range(0, len(row), 3)}
            if len(colours) < 8:
                fail(f"png: only {len(colours)} colours; the notes are missing")
            # The labels the SVG has, in its text colour: times in the bottom margin, octaves in the left one.
            ink = bytes.fromhex("555555")
            below = sum(row[i:i + 3] == ink for row in rows[h - 20:] for i in range(0, len(row), 3))
            beside = sum(row[i:i + 3] == ink for row in rows[:h - 20] for i in range(0, 36 * 3, 3))
            if below < 20 or beside < 20:
                fail(f"png: {below} label pixels under the notes and {beside} beside them; the axes are missing")

    # The default size and a tiny one; the pixels are compressed (1.7 MB raw at the default size).
    for name, extra, size in (("big.png", [], (1200, 480)), ("tiny.png", ["--width", "16", "--height", "16"], (16, 16))):
        rc, _, err = run("in.mid", "-o", name, *extra)
        png = read_png(name) if rc == 0 else None
        if rc != 0:
            fail(f"{name}: exit {rc}: {err}")
        elif png and png[:2] != size:
            fail(f"{name}: {png[:2]}, want {size}")
    if os.path.exists("big.png") and os.path.getsize("big.png") > 100_000:
        fail(f"big.png: {os.path.getsize('big.png')} bytes for 1200x480 of flat colours: not compressed")
    # Overwriting keeps working, and nothing temporary is left beside the output.
    rc, _, err = run("in.mid", "-o", "big.png", "--width", "640")
    png = read_png("big.png") if rc == 0 else None
    if rc != 0 or not png or png[0] != 640:
        fail(f"overwrite: exit {rc}, {png[:2] if png else None}: {err}")
    leftovers = [f for f in os.listdir(".") if ".tmp." in f]
    if leftovers:
        fail(f"temporary files left: {leftovers}")

    # A file without notes still draws (its frame and grid).
    open("empty.mid", "wb").write(midi_file([]))
    rc, _, err = run("empty.mid", "-o", "empty.svg")
    if rc != 0 or len(svg_notes("empty.svg")[1]) != 0:
        fail(f"empty: exit {rc}: {err}")

    def expect(args, want_rc, piece, what):
        rc, out, err = run(*args)
        lines = err.strip().splitlines()
        if rc != want_rc:
            fail(f"{what}: exit {rc}, want {want_rc}: {err.strip()}")
        elif want_rc == 1 and (len(lines) != 1 or not lines[0].startswith("rnnhost: ")):
            fail(f"{what}: want one 'rnnhost: ' line, got {lines}")
        if piece not in err + out:
            fail(f"{what}: '{piece}' not in: {err.strip()}")

    expect(["absent.mid", "-o", "a.png"], 1, "absent.mid", "missing input")
    open("trunc.mid", "wb").write(midi_file(notes)[:40])
    expect(["trunc.mid", "-o", "t.png"], 1, "trunc.mid", "truncated input")
    open("text.mid", "wb").write(b"this is not a MIDI file at all\n")
    expect(["text.mid", "-o", "t.svg"], 1, "text.mid", "not MIDI")
    for bad in ("a.png", "t.png", "t.svg"):
        if os.path.exists(bad):
            fail(f"a failed run wrote {bad}")
    expect(["in.mid"], 2, "-o", "no output")
    expect(["in.mid", "-o", "x.jpg"], 2, ".svg or .png", "unknown format")
    expect(["in.mid", "-o", "-"], 2, ".svg or .png", "stdout without --format")
    expect(["in.mid", "-o", "x.svg", "--format", "png"], 2, "x.svg", "--format against the extension")
    expect(["in.mid", "-o", "x.png", "--format", "gif"], 2, "svg or png", "an unknown --format")
    rc, out, err = run("in.mid", "-o", "-", "--format", "svg")
    if rc != 0 or not out.lstrip().startswith("<?xml") or "<svg" not in out:
        fail(f"-o - --format svg: exit {rc}: {err.strip()}")
    expect(["in.mid", "-o", "x.png", "--width", "5"], 2, "--width", "width too small")
    expect(["in.mid", "-o", "x.png", "--height", "12x"], 2, "--height", "height not a number")
    expect(["in.mid", "other.mid", "-o", "x.png"], 2, "one IN.mid", "two inputs")
    expect(["in.mid", "-o", "x.png", "--colour"], 2, "--colour", "unknown option")
    expect(["--help"], 0, "default: 1200", "help")
    expect(["in.mid", "-o", "nodir/x.png"], 1, "nodir/x.png", "unwritable output")
    if os.path.exists("x.png") or os.path.exists("x.jpg"):
        fail("a usage error wrote a file")

    if failures:
        print(f"{failures} failure(s); files kept in {tmp}", file=sys.stderr)
        return 1
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    RNNHOST = sys.argv[1]
    sys.exit(main())
