#!/usr/bin/env python3
"""Writes the small General-MIDI files that tests/render_midi.sh renders with FluidSynth.

  piano_a4.mid       acoustic grand piano (GM 0), A4 (MIDI 69 = 440 Hz), 1.5 s
  cmajor_chord.mid   acoustic grand piano, C4 E4 G4 together, 1.5 s
  strings_a3.mid     string ensemble (GM 48), A3 (220 Hz), 1.5 s

Standard library only. Run: python3 tools/make_midi.py  (writes tests/fixtures/midi/)
"""
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "midi")
TICKS = 480  # per quarter note; tempo 500000 us/quarter -> 960 ticks per second


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def midi(program, notes, seconds=1.5, velocity=90):
    ev = vlq(0) + b"\xff\x51\x03" + (500000).to_bytes(3, "big")  # tempo
    ev += vlq(0) + bytes([0xC0, program])
    for n in notes:
        ev += vlq(0) + bytes([0x90, n, velocity])
    dur = int(seconds * 2 * TICKS)
    for i, n in enumerate(notes):
        ev += vlq(dur if i == 0 else 0) + bytes([0x80, n, 0])
    ev += vlq(0) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS)
    return header + b"MTrk" + struct.pack(">I", len(ev)) + ev


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {"piano_a4.mid": midi(0, [69]), "cmajor_chord.mid": midi(0, [60, 64, 67]),
             "strings_a3.mid": midi(48, [57])}
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(name, len(data), "bytes")


if __name__ == "__main__":
    main()
