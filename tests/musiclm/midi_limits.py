"""What generation must keep to, checked from the outside.

  midi_limits.py record MODEL                 the model file's "rnnhost.music" record, as "low high longest"
  midi_limits.py midi DIR TRANSPOSE           the same measured on the MIDI files of DIR (seconds), pitches
                                              widened by the training's --transpose
  midi_limits.py rolls FILE.json SPLIT        the same measured on a piano-roll split (longest in frames)
  midi_limits.py check LOW HIGH MAX FILE...   every note of every Standard MIDI File lies in LOW..HIGH and
                                              lasts at most MAX seconds (exit 1 naming the first that does
                                              not); prints how many notes and files were checked
  midi_limits.py notes FILE                   the count of notes and the time the last one ends
"""
import glob
import json
import os
import struct
import sys


def read_vlq(b, i):
    v = 0
    while True:
        c = b[i]
        i += 1
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, i


def notes_of(path):
    """(pitch, start, end) seconds of a Standard MIDI File, at its first tempo (120 qpm without one)."""
    b = open(path, "rb").read()
    if b[:4] != b"MThd":
        raise ValueError(f"{path}: not a Standard MIDI File")
    _, ntracks, division = struct.unpack(">HHH", b[8:14])
    i, tempo, raw = 8 + struct.unpack(">I", b[4:8])[0], 500000, []
    for _ in range(ntracks):
        assert b[i:i + 4] == b"MTrk", path
        end = i + 8 + struct.unpack(">I", b[i + 4:i + 8])[0]
        i, tick, status = i + 8, 0, 0
        while i < end:
            delta, i = read_vlq(b, i)
            tick += delta
            if b[i] & 0x80:
                status = b[i]
                i += 1
            if status == 0xFF:
                kind, (n, i) = b[i], read_vlq(b, i + 1)
                if kind == 0x51:
                    tempo = int.from_bytes(b[i:i + 3], "big")
                i += n
            elif status in (0xF0, 0xF7):
                n, i = read_vlq(b, i)
                i += n
            else:
                kind = status & 0xF0
                size = 1 if kind in (0xC0, 0xD0) else 2
                data = b[i:i + size]
                i += size
                if kind in (0x80, 0x90):
                    raw.append((tick, kind == 0x90 and data[1] > 0, status & 0x0F, data[0]))
        i = end
    seconds = tempo / 1e6 / division
    on, notes = {}, []
    for tick, is_on, channel, pitch in sorted(raw, key=lambda r: r[0]):  # stable: at one tick, file order
        key = (channel, pitch)
        if key in on:
            notes.append((pitch, on.pop(key) * seconds, tick * seconds))
        if is_on:
            on[key] = tick
    return notes


def main():
    what = sys.argv[1]
    if what == "record":
        b = open(sys.argv[2], "rb").read()
        meta = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]
        r = json.loads(meta["rnnhost.music"])
        longest = r.get("longest_seconds", r.get("longest_frames"))
        print(r["low"], r["high"], longest)
    elif what == "midi":
        t = int(sys.argv[3])
        notes = [n for f in sorted(glob.glob(os.path.join(sys.argv[2], "*.mid"))) for n in notes_of(f)]
        print(min(p for p, _, _ in notes) - t, max(p for p, _, _ in notes) + t, max(e - s for _, s, e in notes))
    elif what == "rolls":
        rolls = json.load(open(sys.argv[2]))[sys.argv[3]]
        pitches = [p for r in rolls for frame in r for p in frame]
        longest = 0
        for r in rolls:
            for p in set(pitches):
                run = 0
                for frame in r:
                    run = run + 1 if p in frame else 0
                    longest = max(longest, run)
        print(min(pitches), max(pitches), longest)
    elif what == "check":
        low, high, most = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
        count = 0
        for f in sys.argv[5:]:
            for pitch, start, end in notes_of(f):
                count += 1
                if not low <= pitch <= high:
                    sys.exit(f"{f}: pitch {pitch} at {start:.3f} s, outside {low}..{high}")
                if end - start > most + 0.002:  # a tick of the file's grid
                    sys.exit(f"{f}: pitch {pitch} at {start:.3f} s lasts {end - start:.3f} s, more than {most}")
        print(count, "notes in", len(sys.argv) - 5, "files")
    elif what == "notes":
        notes = notes_of(sys.argv[2])
        print(len(notes), max((e for _, _, e in notes), default=0))
    else:
        sys.exit(__doc__)


main()
