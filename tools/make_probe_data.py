#!/usr/bin/env python3
"""Deterministic generator of labelled probe tasks rendered with FluidSynth from GM soundfonts.

Tasks (each written to its own folder under --out, format in configs/probe/README.md):
  nsynth_pitch   multiclass  MIDI pitch (or pitch class) of a single note
  nsynth_family  multiclass  instrument family of a single note (GM program groups, no effects)
  key            multiclass  key of a chord progression, 24 classes "C major" ... "B minor"
  tempo          regression  BPM of a drum pattern (channel 10, several kits)
  tempo_class    multiclass  the same drum clips labelled with BPM bins (audio hard-linked)
  beat           beat        the same drum clips labelled with their beat times (quarter notes)

Usage:
  .venv/bin/python tools/make_probe_data.py --out data/probe --small
  .venv/bin/python tools/make_probe_data.py --out data/probe --seed 1 \\
      --soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2 \\
      --heldout-soundfont /usr/share/sounds/sf2/TimGM6mb.sf2 --tasks key,tempo

All clips of one split and soundfont are written as one MIDI file with fixed-length slots
(program change + notes at the slot start, all-sound-off just before the next slot), rendered
by one fluidsynth process to raw PCM on a pipe, downmixed to mono and cut at the slot borders.
Every clip draws from its own random generator seeded by (seed, task, split, index, attempt),
so the output depends only on the options, not on the order or the selection of tasks.
Clips quieter than RMS 1e-3 (a note outside a preset's range, a missing preset) are redrawn
with the same label. Finished task folders are skipped on a rerun with the same options.
Standard library + numpy + soundfile only.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_midi import vlq  # noqa: E402  (MIDI variable-length quantities, shared)

PROG = "make_probe_data.py"
DEFAULT_SF = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
ALL_TASKS = ["nsynth_pitch", "nsynth_family", "key", "tempo", "tempo_class", "beat"]
SPLITS = ["train", "valid", "test"]
TICKS_PER_S = 1920  # MIDI division 960 at the default tempo 500000 us per quarter note
SILENT_RMS = 1e-3
MAX_ATTEMPTS = 6
BATCH_SLOTS = 1000  # clips per fluidsynth run (bounds the MIDI file size)
# fluidsynth -g per clip kind, set from measured peaks: at these gains the loudest of 720-1440
# clips peaks at ~0.75 (FluidR3_GM) or ~0.5 (TimGM6mb); median note peaks ~0.17
GAIN = {"notes": 1.0, "key": 0.6, "tempo": 0.45}

# --- General MIDI ----------------------------------------------------------------------------
# Families from the GM program groups (program // 8). Skipped: 96-103 synth effects and
# 112-127 percussive/sound effects; 47 timpani and 55 orchestra hit do not fit their group.
FAMILIES = {
    "piano": range(0, 8), "mallet": range(8, 16), "organ": range(16, 24),
    "guitar": range(24, 32), "bass": range(32, 40), "strings": [40, 41, 42, 43, 44, 45, 46],
    "ensemble": [48, 49, 50, 51, 52, 53, 54], "brass": range(56, 64), "reed": range(64, 72),
    "pipe": range(72, 80), "synth_lead": range(80, 88), "synth_pad": range(88, 96),
    "ethnic": range(104, 112),
}
FAMILY_RANGE = {  # playable MIDI range per family (inclusive), overridden per program below
    "piano": (21, 108), "mallet": (53, 96), "organ": (36, 96), "guitar": (40, 84),
    "bass": (28, 60), "strings": (36, 96), "ensemble": (36, 84), "brass": (40, 82),
    "reed": (44, 84), "pipe": (60, 96), "synth_lead": (36, 96), "synth_pad": (36, 84),
    "ethnic": (48, 84),
}
PROGRAM_RANGE = {  # orchestral / instrument ranges where they differ much from the family's
    8: (60, 108), 9: (79, 108), 11: (53, 89), 12: (45, 96), 13: (65, 108), 14: (60, 77),
    40: (55, 100), 41: (48, 88), 42: (36, 76), 43: (28, 60), 46: (24, 103),
    52: (40, 81), 53: (40, 81), 56: (54, 86), 57: (40, 72), 58: (28, 58), 59: (54, 86),
    60: (41, 77), 64: (56, 87), 65: (49, 81), 66: (44, 76), 67: (36, 69), 68: (58, 91),
    69: (52, 81), 70: (34, 72), 71: (50, 91), 72: (74, 102), 77: (55, 86), 79: (60, 84),
    105: (48, 84), 107: (55, 91), 108: (60, 84), 109: (55, 84),
}
PROGRAM_FAMILY = {p: f for f, ps in FAMILIES.items() for p in ps}


def program_range(p):
    return PROGRAM_RANGE.get(p, FAMILY_RANGE[PROGRAM_FAMILY[p]])


PITCH_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
KEY_NAMES = [f"{n} major" for n in PITCH_NAMES] + [f"{n} minor" for n in PITCH_NAMES]
# chord = (root offset from the tonic in semitones, intervals above the root)
MAJ, MIN, DIM, DOM7 = (0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 7, 10)
PROGRESSIONS = {
    "major": [
        [(0, MAJ), (5, MAJ), (7, MAJ), (0, MAJ)], [(0, MAJ), (9, MIN), (5, MAJ), (7, MAJ)],
        [(0, MAJ), (7, MAJ), (9, MIN), (5, MAJ)], [(2, MIN), (7, DOM7), (0, MAJ), (0, MAJ)],
        [(0, MAJ), (5, MAJ), (0, MAJ), (7, DOM7)], [(0, MAJ), (4, MIN), (5, MAJ), (7, MAJ)],
        [(0, MAJ), (9, MIN), (2, MIN), (7, DOM7)]],
    "minor": [
        [(0, MIN), (5, MIN), (7, MAJ), (0, MIN)], [(0, MIN), (8, MAJ), (5, MIN), (7, MAJ)],
        [(0, MIN), (2, DIM), (7, DOM7), (0, MIN)], [(0, MIN), (10, MAJ), (8, MAJ), (7, MAJ)],
        [(0, MIN), (5, MIN), (0, MIN), (7, DOM7)], [(0, MIN), (3, MAJ), (5, MIN), (7, MAJ)]],
}
CHORD_PROGRAMS = [0, 1, 2, 4, 5, 6, 16, 17, 18, 19, 24, 25, 26, 27, 46, 48, 49, 50, 51, 52,
                  61, 88, 89, 90, 91, 94, 95]
BASS_PROGRAMS = [32, 33, 34, 35, 38, 39, 42, 43]
DRUM_KITS = [0, 8, 16, 24, 25, 32, 40]  # present in FluidR3_GM and TimGM6mb (bank 128)
# One 4/4 bar in 16th-note steps: {GM drum note: steps}. 36 kick, 38 snare, 39 clap,
# 37 side stick, 42 closed hi-hat, 46 open hi-hat, 51 ride.
DRUM_PATTERNS = {
    "rock": {36: [0, 8], 38: [4, 12], 42: list(range(0, 16, 2))},
    "rock_push": {36: [0, 6, 8], 38: [4, 12], 42: list(range(0, 16, 2))},
    "four_floor": {36: [0, 4, 8, 12], 39: [4, 12], 42: [0, 4, 8, 12], 46: [2, 6, 10, 14]},
    "sixteenths": {36: [0, 8, 10], 38: [4, 12], 42: list(range(16))},
    "funk": {36: [0, 3, 8, 10], 38: [4, 12], 42: list(range(0, 16, 2))},
    "ride": {36: [0, 8], 38: [4, 12], 51: [0, 4, 8, 12]},
    "bossa": {36: [0, 3, 4, 8, 11, 12], 37: [0, 6, 12], 42: list(range(0, 16, 2))},
}


def fail(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(2)


# --- soundfonts -------------------------------------------------------------------------------
class Font:
    """A soundfont and the presets it holds: FluidSynth silently substitutes missing ones."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        presets = read_presets(path)
        self.melodic = {p for b, p in presets if b == 0}
        self.kits = {p for b, p in presets if b == 128}

    def pick(self, rng, wanted, what, drums=False):
        have = [p for p in wanted if p in (self.kits if drums else self.melodic)]
        if not have:
            fail(f"soundfont '{self.path}': no preset for {what} (wanted programs {list(wanted)})")
        return rng.choice(have)


def read_presets(path):
    """(bank, program) pairs from the PHDR chunk of a SoundFont 2 file."""
    if not os.path.isfile(path):
        fail(f"soundfont '{path}' not found "
             "(apt-get install fluid-soundfont-gm timgm6mb-soundfont)")
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
            fail(f"soundfont '{path}': not a SoundFont 2 file (no RIFF/sfbk header)")
        if int.from_bytes(head[4:8], "little") + 8 > size:
            fail(f"soundfont '{path}': truncated ({size} bytes, header says "
                 f"{int.from_bytes(head[4:8], 'little') + 8})")
        pos = 12
        while pos + 12 <= size:
            f.seek(pos)
            cid, clen, kind = f.read(4), int.from_bytes(f.read(4), "little"), f.read(4)
            if cid == b"LIST" and kind == b"pdta":
                sub, end = pos + 12, pos + 8 + clen
                while sub + 8 <= end:
                    f.seek(sub)
                    sid, slen = f.read(4), int.from_bytes(f.read(4), "little")
                    if sid == b"phdr":
                        data = f.read(slen)
                        # 38-byte records: name[20], preset u16, bank u16, ...; the last is EOP
                        recs = [data[i:i + 38] for i in range(0, len(data) - 38, 38)]
                        u16 = lambda b: int.from_bytes(b, "little")
                        return {(u16(r[22:24]), u16(r[20:22])) for r in recs}
                    sub += 8 + slen + (slen & 1)
            pos += 8 + clen + (clen & 1)
    fail(f"soundfont '{path}': no preset headers (pdta/phdr chunk) found")


# --- MIDI --------------------------------------------------------------------------------------
def midi_file(events):
    """events: (tick, order, message bytes); one track, division 960, tempo 500000 us/qn."""
    body = bytearray(vlq(0) + b"\xff\x51\x03" + (500000).to_bytes(3, "big"))
    last = 0
    for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        body += vlq(tick - last) + msg
        last = tick
    body += vlq(0) + b"\xff\x2f\x00"
    return (b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
            + (960).to_bytes(2, "big") + b"MTrk" + len(body).to_bytes(4, "big") + bytes(body))


class Clip:
    """One slot: program per channel and notes (start s, end s, channel, pitch, velocity)."""

    def __init__(self, programs, notes, meta):
        self.programs, self.notes, self.meta = programs, notes, meta


def slot_events(clip, start_tick, slot_ticks):
    """MIDI events of one slot; order at equal ticks: set-up, note-offs, note-ons, kill."""
    ev = []
    for ch, prog in sorted(clip.programs.items()):
        ev.append((start_tick, 0, bytes([0xB0 | ch, 121, 0])))  # reset controllers
        ev.append((start_tick, 1, bytes([0xC0 | ch, prog])))
    last = slot_ticks - 24  # ~12 ms before the next slot: > one 64-sample block at 24 kHz
    for t0, t1, ch, pitch, vel in clip.notes:
        a = min(max(int(round(t0 * TICKS_PER_S)), 0), last - 2)
        b = min(max(int(round(t1 * TICKS_PER_S)), a + 1), last - 1)
        ev.append((start_tick + a, 3, bytes([0x90 | ch, pitch, vel])))
        ev.append((start_tick + b, 2, bytes([0x80 | ch, pitch, 0])))
    for ch in sorted(clip.programs):
        # all sound off (kills releasing voices too); no CC123 after it: in FluidSynth 2.3 an
        # all-notes-off in the same tick brings the releasing voices back
        ev.append((start_tick + last, 4, bytes([0xB0 | ch, 120, 0])))
    return ev


# --- clip generators: (rng, label, options, clip seconds) -> Clip --------------------------
def note_clip(rng, pitch, program, seconds):
    dur = seconds * rng.uniform(0.5, 0.75)
    vel = rng.randint(45, 127)
    meta = {"program": program, "family": PROGRAM_FAMILY[program], "pitch": pitch,
            "velocity": vel, "note_s": round(dur, 3)}
    return Clip({0: program}, [(0.0, dur, 0, pitch, vel)], meta)


def pitch_clip(rng, label, opt, seconds, font):
    if opt.pitch_labels == "class":
        pc = PITCH_NAMES.index(label)
        pitch = rng.choice([p for p in range(opt.pitch_lo, opt.pitch_hi + 1) if p % 12 == pc])
    else:
        pitch = int(label)
    fams = sorted({PROGRAM_FAMILY[p] for p in PROGRAM_FAMILY if p in font.melodic
                   and program_range(p)[0] <= pitch <= program_range(p)[1]})
    if not fams:  # outside every listed range: any piano renders it
        fams = ["piano"]
    fam = rng.choice(fams)
    progs = [p for p in FAMILIES[fam] if program_range(p)[0] <= pitch <= program_range(p)[1]]
    program = font.pick(rng, progs or list(FAMILIES[fam]), f"pitch {pitch}")
    return note_clip(rng, pitch, program, seconds)


def family_clip(rng, label, opt, seconds, font):
    program = font.pick(rng, list(FAMILIES[label]), f"family {label}")
    lo, hi = program_range(program)
    return note_clip(rng, rng.randint(lo, hi), program, seconds)


def voice(pcs, center):
    """Close voicing: each pitch class in the octave nearest to center."""
    return sorted(center - 6 + (pc - (center - 6)) % 12 for pc in pcs)


def key_clip(rng, label, opt, seconds, font):
    tonic = PITCH_NAMES.index(label.split()[0])
    mode = label.split()[1]
    prog_i = rng.randrange(len(PROGRESSIONS[mode]))
    prog = PROGRESSIONS[mode][prog_i]
    bpm = round(rng.uniform(70, 140), 1)
    beat = 60.0 / bpm
    beats = rng.choice([b for b in (2, 4) if 4 * b * beat <= seconds] or [2])
    chord_s = beats * beat
    style = rng.choice(["block", "pulse", "arpeggio"])
    program = font.pick(rng, CHORD_PROGRAMS, "chords")
    programs = {0: program}
    bass = rng.random() < 0.7
    if bass:
        programs[1] = font.pick(rng, BASS_PROGRAMS + [program], "bass")
    center = rng.randint(57, 67)
    vel = rng.randint(60, 100)
    notes, t, i = [], 0.0, 0
    end = seconds - 0.25  # let the last release decay before the slot's all-sound-off
    while t < end - 0.25:
        root, ivs = prog[i % len(prog)]
        pcs = [(tonic + root + iv) % 12 for iv in ivs]
        pitches = voice(pcs, center)
        t1 = min(t + chord_s, end)
        if style == "block":
            notes += [(t, t1, 0, p, vel) for p in pitches]
        elif style == "pulse":
            for k in range(beats):
                s = t + k * beat
                if s < t1 - 0.05:
                    notes += [(s, min(s + beat * 0.9, t1), 0, p, vel) for p in pitches]
        else:
            step = beat / 2
            for k in range(beats * 2):
                s = t + k * step
                if s < t1 - 0.05:
                    notes.append((s, t1, 0, pitches[k % len(pitches)], vel))
        if bass:
            b = 36 + (tonic + root - 36) % 12
            notes.append((t, t1, 1, b, min(127, vel + 10)))
        t, i = t + chord_s, i + 1
    meta = {"program": program, "bass_program": programs.get(1), "progression": prog_i,
            "style": style, "bpm": bpm, "beats_per_chord": beats, "center": center}
    return Clip(programs, notes, meta)


def tempo_clip(rng, label, opt, seconds, font):
    lo, hi = opt.tempo_bins[label]
    bpm = round(rng.uniform(lo, hi), 1)
    if bpm >= hi and hi < opt.tempo_hi:  # keep bin borders half-open
        bpm = round(hi - 0.1, 1)
    kit = font.pick(rng, DRUM_KITS, "drum kits (bank 128)", drums=True)
    name = rng.choice(sorted(DRUM_PATTERNS))
    pattern = DRUM_PATTERNS[name]
    step = 60.0 / bpm / 4
    notes, bar = [], 0
    while bar * 16 * step < seconds - 0.1:
        for drum, steps in sorted(pattern.items()):
            for s in steps:
                t = (bar * 16 + s) * step + rng.gauss(0, 0.003)
                if t >= seconds - 0.1:
                    continue
                accent = (20 if s % 4 == 0 else 0) - (15 if drum in (42, 46) else 0)
                vel = max(30, min(127, rng.randint(75, 100) + accent))
                notes.append((max(t, 0.0), max(t, 0.0) + 0.1, 9, drum, vel))
        if bar == 0 and rng.random() < 0.3:
            notes.append((0.0, 0.1, 9, 49, 100))  # crash on the first downbeat
        bar += 1
    # Beats: the quarter-note grid (before per-note jitter) while the pattern plays.
    beats = [round(k * 4 * step, 4) for k in range(int(seconds / (4 * step)) + 1)
             if k * 4 * step < seconds - 0.1]
    meta = {"bpm": bpm, "kit": kit, "pattern": name, "beats": beats}
    return Clip({9: kit}, notes, meta)


# --- tasks ------------------------------------------------------------------------------------
class Plan:
    """One family of rendered clips (tempo and tempo_class share one)."""

    def __init__(self, name, labels, make, seconds, gain):
        self.name, self.labels, self.make = name, labels, make
        self.seconds, self.gain = seconds, gain


def tempo_bins(lo, hi, n):
    edges = [lo + (hi - lo) * i / n for i in range(n + 1)]
    return {f"{round(a, 1):g}-{round(b, 1):g}": (a, b) for a, b in zip(edges[:-1], edges[1:])}


def task_spec(task, opt):
    """-> (Plan, task type, label names, label of a clip's meta or None: the plan label)."""
    if task == "nsynth_pitch":
        if opt.pitch_labels == "class":
            labels = list(PITCH_NAMES)
        else:
            labels = [str(p) for p in range(opt.pitch_lo, opt.pitch_hi + 1)]
        plan = Plan(task, labels, pitch_clip, opt.sec_notes, GAIN["notes"])
        return plan, "multiclass", labels, None
    if task == "nsynth_family":
        labels = list(FAMILIES)
        plan = Plan(task, labels, family_clip, opt.sec_notes, GAIN["notes"])
        return plan, "multiclass", labels, None
    if task == "key":
        plan = Plan(task, KEY_NAMES, key_clip, opt.sec_key, GAIN["key"])
        return plan, "multiclass", KEY_NAMES, None
    bins = list(opt.tempo_bins)
    plan = Plan("drums", bins, tempo_clip, opt.sec_tempo, GAIN["tempo"])
    if task == "tempo":
        return plan, "regression", ["bpm"], lambda m: f"{m['bpm']:.1f}"
    if task == "beat":
        return plan, "beat", ["beat"], lambda m: " ".join(f"{b:.4f}" for b in m["beats"])
    return plan, "multiclass", bins, None


def split_sizes(task, n_labels, opt):
    per_class = {"small": (3, 1, 1), "nsynth_pitch": (20, 5, 5), "nsynth_family": (40, 10, 10),
                 "key": (20, 5, 5), "tempo": (60, 15, 15), "tempo_class": (60, 15, 15),
                 "beat": (60, 15, 15)}
    if task in ("tempo", "tempo_class", "beat"):
        per_class["small"] = (4, 2, 2)
    base = per_class["small" if opt.small else task]
    sizes = {s: b * n_labels for s, b in zip(SPLITS, base)}
    for s in SPLITS:
        if getattr(opt, f"n_{s}") is not None:
            sizes[s] = getattr(opt, f"n_{s}")
    return sizes


def plan_split(plan, split, n, opt):
    """Balanced labels in a seeded order; each clip gets its own seeded generator."""
    labels = [plan.labels[i % len(plan.labels)] for i in range(n)]
    random.Random(f"{opt.seed}/{plan.name}/{split}/labels").shuffle(labels)
    fonts = [opt.heldout_font] if (split == "test" and opt.heldout_font) else opt.fonts
    return labels, fonts


def make_clip(plan, split, i, attempt, label, fonts, opt):
    rng = random.Random(f"{opt.seed}/{plan.name}/{split}/{i}/{attempt}")
    font = fonts[rng.randrange(len(fonts))]
    clip = plan.make(rng, label, opt, plan.seconds, font)
    clip.meta["soundfont"] = font.path
    return clip


def render_batch(clips, font, plan, opt, tmpdir):
    """Renders clips into one fluidsynth run; yields mono int16 arrays, one per clip."""
    slot_ticks = int(round(plan.seconds * TICKS_PER_S))
    n = len(clips)
    ev = []
    for k, clip in enumerate(clips):
        ev += slot_events(clip, k * slot_ticks, slot_ticks)
    ev.append(((n + 1) * slot_ticks, 9, bytes([0xB0, 120, 0])))  # one spare slot: no short read
    mid = os.path.join(tmpdir, "batch.mid")
    with open(mid, "wb") as f:
        f.write(midi_file(ev))
    errlog = os.path.join(tmpdir, "fluidsynth.log")
    # -z 1024: write in 1024-frame periods (the default 64 costs a pipe write per 2.7 ms of
    # audio); events are still timed on FluidSynth's 64-sample blocks
    cmd = ["fluidsynth", "-q", "-ni", "-R", "0", "-C", "0", "-z", "1024", "-g", str(plan.gain),
           "-r", str(opt.sample_rate), "-T", "raw", "-O", "s16", "-F", "-", font, mid]
    samples = int(round(plan.seconds * opt.sample_rate))
    with open(errlog, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        try:
            for k in range(n):
                lo = int(round(k * slot_ticks * opt.sample_rate / TICKS_PER_S))
                hi = int(round((k + 1) * slot_ticks * opt.sample_rate / TICKS_PER_S))
                want = (hi - lo) * 4
                buf = proc.stdout.read(want)
                if len(buf) != want:
                    proc.wait()
                    fail(f"fluidsynth stopped early on '{font}' (exit {proc.returncode}): "
                         f"{log_tail(errlog)}")
                if k == 0 and "Failed to load" in log_tail(errlog, 100000):
                    # FluidSynth would go on with its default soundfont: refuse
                    fail(f"fluidsynth could not load '{font}': {log_tail(errlog)}")
                st = np.frombuffer(buf, dtype="<i2").reshape(-1, 2).astype(np.int32)
                mono = np.round((st[:, 0] + st[:, 1]) / 2.0).astype(np.int16)
                out = np.zeros(samples, np.int16)
                out[:min(samples, len(mono))] = mono[:samples]
                yield out
            proc.stdout.read()  # drain the tail
            if proc.wait() != 0:
                fail(f"fluidsynth failed on '{font}' (exit {proc.returncode}): {log_tail(errlog)}")
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def log_tail(path, n=300):
    with open(path, errors="replace") as f:
        return " ".join(f.read().split())[-n:]


def write_wav(path, data, sr):
    tmp = path + ".part"
    sf.write(tmp, data, sr, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)


def render_split(plan, split, n, opt, audio_dir, tmpdir):
    """Renders a split into audio_dir/<i>.wav; returns [(index, label, meta)] of kept clips."""
    labels, fonts = plan_split(plan, split, n, opt)
    attempt = [0] * n
    clips = {i: make_clip(plan, split, i, 0, labels[i], fonts, opt) for i in range(n)}
    todo, kept = list(range(n)), {}
    while todo:
        by_font = {}
        for i in todo:
            by_font.setdefault(clips[i].meta["soundfont"], []).append(i)
        retry = []
        for font in sorted(by_font):
            idx = by_font[font]
            for b in range(0, len(idx), BATCH_SLOTS):
                chunk = idx[b:b + BATCH_SLOTS]
                gen = render_batch([clips[i] for i in chunk], font, plan, opt, tmpdir)
                for i, data in zip(chunk, gen):
                    rms = float(np.sqrt(np.mean((data.astype(np.float64) / 32768.0) ** 2)))
                    if rms < SILENT_RMS:
                        retry.append(i)
                        continue
                    write_wav(os.path.join(audio_dir, f"{i}.wav"), data, opt.sample_rate)
                    kept[i] = clips[i].meta
        todo = []
        for i in sorted(retry):
            attempt[i] += 1
            if attempt[i] >= MAX_ATTEMPTS:
                print(f"  {plan.name}/{split}: clip {i} ({labels[i]}) silent after "
                      f"{MAX_ATTEMPTS} attempts, dropped", file=sys.stderr)
                continue
            clips[i] = make_clip(plan, split, i, attempt[i], labels[i], fonts, opt)
            todo.append(i)
    return [(i, labels[i], dict(kept[i], attempt=attempt[i])) for i in sorted(kept)]


def write_text(path, text):
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def source_info(task, plan, sizes, opt):
    info = {"generator": "tools/make_probe_data.py", "seed": opt.seed,
            "soundfonts": opt.soundfonts, "heldout_soundfont": opt.heldout,
            "clip_seconds": plan.seconds, "sizes": sizes, "gain": plan.gain}
    if task == "nsynth_pitch":
        info["pitch_labels"] = opt.pitch_labels
        info["pitch_range"] = [opt.pitch_lo, opt.pitch_hi]
    if task in ("tempo", "tempo_class", "beat"):
        info["tempo_range"] = [opt.tempo_lo, opt.tempo_hi]
        info["tempo_bins"] = len(opt.tempo_bins)
    return info


def up_to_date(task, opt):
    """True if out/<task> was made with the same settings; fails if made with other ones."""
    plan = task_spec(task, opt)[0]
    source = source_info(task, plan, split_sizes(task, len(plan.labels), opt), opt)
    spec_path = os.path.join(opt.out, task, "task.json")
    if opt.overwrite or not os.path.exists(spec_path):
        return False
    try:
        with open(spec_path) as f:
            old = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{spec_path}: unreadable ({e}); use --overwrite to replace it")
    if old.get("source") != source:
        fail(f"{spec_path}: exists with other settings (use --overwrite to replace it)")
    return True


def build_task(task, opt, rendered):
    """Builds out/<task> (in a temporary folder renamed when complete). Returns stats."""
    plan, ttype, label_names, label_fn = task_spec(task, opt)
    sizes = split_sizes(task, len(plan.labels), opt)
    final = os.path.join(opt.out, task)
    source = source_info(task, plan, sizes, opt)
    t0 = time.time()
    work = tempfile.mkdtemp(prefix=f".{task}.", dir=opt.out)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(work, 0o777 & ~umask)  # mkdtemp makes 0700; the task folder is for everyone
    scratch = tempfile.mkdtemp(prefix=f".{task}.scratch.", dir=opt.out)
    seconds_rendered = 0.0
    counts = {}
    try:
        for split in SPLITS:
            audio_dir = os.path.join(work, "audio", split)
            os.makedirs(audio_dir)
            key = (plan.name, split)
            if key in rendered:  # same clips already rendered for a sibling task: hard-link
                src_dir, rows = rendered[key]
                for i, _, _ in rows:
                    name = f"{i}.wav"
                    link_or_copy(os.path.join(src_dir, name), os.path.join(audio_dir, name))
            else:
                rows = render_split(plan, split, sizes[split], opt, audio_dir, scratch)
                seconds_rendered += len(rows) * plan.seconds
            counts[split] = len(rows)
            lines = ["path\tlabel"]
            metas = []
            for i, label, meta in rows:
                path = f"audio/{split}/{i}.wav"
                lab = label_fn(meta) if label_fn else label
                lines.append(f"{path}\t{lab}")
                metas.append(json.dumps(dict(meta, path=path, label=lab), sort_keys=True))
            write_text(os.path.join(work, f"{split}.tsv"), "\n".join(lines) + "\n")
            write_text(os.path.join(work, f"{split}.meta.jsonl"), "\n".join(metas) + "\n")
            rendered[key] = (os.path.join(final, "audio", split), rows)
        metrics = {"multiclass": ["accuracy", "macro_f1"], "regression": ["r2"],
                   "beat": ["beat_f1"]}[ttype]
        if task == "key":
            metrics = metrics + ["mirex_key"]
        spec = {"name": task, "type": ttype, "labels": label_names,
                "splits": {s: f"{s}.tsv" for s in SPLITS}, "mode": {"kind": "clip"},
                "metrics": metrics, "sample_rate": opt.sample_rate, "source": source}
        write_text(os.path.join(work, "task.json"), json.dumps(spec, indent=2) + "\n")
        if os.path.exists(final):
            old = final + ".old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(work, final)
            shutil.rmtree(old)
        else:
            os.replace(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        for split in SPLITS:
            rendered.pop((plan.name, split), None)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wall = time.time() - t0
    xrt = seconds_rendered / wall if wall > 0 and seconds_rendered else 0.0
    split_txt = " ".join(f"{s} {counts[s]}" for s in SPLITS)
    how = f"{seconds_rendered:.0f} s audio in {wall:.1f} s ({xrt:.0f}x real time)" \
        if seconds_rendered else f"audio linked from the sibling task in {wall:.1f} s"
    print(f"{task}: {split_txt} clips of {plan.seconds:g} s, {how}", flush=True)
    return {"task": task, "counts": counts, "seconds": seconds_rendered, "wall": wall}


def link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# --- command line -----------------------------------------------------------------------------
def parse_range(text, what):
    try:
        lo, hi = (float(x) for x in text.split(":"))
    except ValueError:
        fail(f"{what}: expected LO:HI, got '{text}'")
    if not lo < hi:
        fail(f"{what}: LO must be below HI in '{text}'")
    return lo, hi


def parse_clip_seconds(text):
    out = {"notes": 4.0, "key": 8.0, "tempo": 8.0}
    if text is None:
        return out
    alias = {"notes": "notes", "nsynth": "notes", "nsynth_pitch": "notes",
             "nsynth_family": "notes", "key": "key", "tempo": "tempo", "tempo_class": "tempo",
             "beat": "tempo"}
    for part in text.split(","):
        name, _, val = part.rpartition("=")
        try:
            sec = float(val)
        except ValueError:
            fail(f"--clip-seconds: '{part}' is not SECONDS or GROUP=SECONDS")
        if not 1.0 <= sec <= 60.0:
            fail(f"--clip-seconds: {sec} outside 1..60 s")
        if not name:
            out = {k: sec for k in out}
        elif name in alias:
            out[alias[name]] = sec
        else:
            fail(f"--clip-seconds: unknown group '{name}' (notes, key, tempo)")
    return out


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="output folder (one subfolder per task)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tasks", default=",".join(ALL_TASKS), help=f"comma list of {ALL_TASKS}")
    ap.add_argument("--small", action="store_true",
                    help="test preset: 3/1/1 clips per class (tempo: 4/2/2 per BPM bin)")
    for s in SPLITS:
        ap.add_argument(f"--n-{s}", type=int, help=f"clips in the {s} split of every task")
    ap.add_argument("--soundfont", action="append", default=[],
                    help=f"soundfont for train/valid (and test unless held out); repeatable; "
                         f"default {DEFAULT_SF}")
    ap.add_argument("--heldout-soundfont", help="render the test split with this soundfont only")
    ap.add_argument("--clip-seconds", help="SECONDS for all, or notes=4,key=8,tempo=8")
    ap.add_argument("--sample-rate", type=int, default=24000)
    ap.add_argument("--pitch-labels", choices=["midi", "class"], default="midi",
                    help="nsynth_pitch labels: MIDI pitch numbers or the 12 pitch classes")
    ap.add_argument("--pitch-range", default="36:83", help="inclusive MIDI range (default 36:83)")
    ap.add_argument("--tempo-range", default="60:180", help="BPM range (default 60:180)")
    ap.add_argument("--tempo-bins", type=int, default=6, help="tempo_class bins (default 6)")
    ap.add_argument("--overwrite", action="store_true", help="replace task folders made with "
                    "other settings (folders with the same settings are skipped)")
    opt = ap.parse_args(argv)
    opt.tasks = [t.strip() for t in opt.tasks.split(",") if t.strip()]
    for t in opt.tasks:
        if t not in ALL_TASKS:
            fail(f"--tasks: unknown task '{t}' (known: {','.join(ALL_TASKS)})")
    for s in SPLITS:
        v = getattr(opt, f"n_{s}")
        if v is not None and v < 1:
            fail(f"--n-{s}: must be at least 1")
    if not 8000 <= opt.sample_rate <= 96000:
        fail(f"--sample-rate {opt.sample_rate}: outside 8000..96000")
    secs = parse_clip_seconds(opt.clip_seconds)
    opt.sec_notes, opt.sec_key, opt.sec_tempo = secs["notes"], secs["key"], secs["tempo"]
    lo, hi = parse_range(opt.pitch_range, "--pitch-range")
    opt.pitch_lo, opt.pitch_hi = int(lo), int(hi)
    if opt.pitch_lo < 21 or opt.pitch_hi > 108:
        fail("--pitch-range: must lie within 21:108 (piano range)")
    if opt.pitch_labels == "class" and opt.pitch_hi - opt.pitch_lo < 11:
        fail("--pitch-range: needs at least one octave with --pitch-labels class")
    opt.tempo_lo, opt.tempo_hi = parse_range(opt.tempo_range, "--tempo-range")
    if opt.tempo_lo < 20 or opt.tempo_hi > 400:
        fail("--tempo-range: must lie within 20:400 BPM")
    if not 2 <= opt.tempo_bins <= 50:
        fail("--tempo-bins: must be 2..50")
    opt.tempo_bins = tempo_bins(opt.tempo_lo, opt.tempo_hi, opt.tempo_bins)
    return opt


def main(argv):
    opt = parse_args(argv)
    if shutil.which("fluidsynth") is None:
        fail("'fluidsynth' not found on PATH (apt-get install fluidsynth, or tools/setup.sh)")
    opt.fonts = [Font(p) for p in (opt.soundfont or [DEFAULT_SF])]
    opt.heldout_font = Font(opt.heldout_soundfont) if opt.heldout_soundfont else None
    opt.soundfonts = [f.path for f in opt.fonts]
    opt.heldout = opt.heldout_font.path if opt.heldout_font else None
    os.makedirs(opt.out, exist_ok=True)
    t0 = time.time()
    rendered, stats = {}, []
    order = [t for t in ALL_TASKS if t in opt.tasks]  # tempo before tempo_class: shared audio
    todo = [t for t in order if not up_to_date(t, opt)]  # settles conflicts before any work
    for task in order:
        if task not in todo:
            print(f"{task}: up to date in {os.path.join(opt.out, task)}, skipped")
            continue
        stats.append(build_task(task, opt, rendered))
    wall = time.time() - t0
    secs = sum(s["seconds"] for s in stats)
    print("summary:")
    for s in stats:
        print(f"  {s['task']:<14} " + " ".join(f"{k} {s['counts'][k]:>5}" for k in SPLITS))
    if not stats:
        print(f"  nothing to do: every task in {opt.out} is up to date")
        return 0
    xrt = secs / wall if wall > 0 else 0.0
    print(f"  rendered {secs:.0f} s ({secs / 3600:.2f} h) of audio in {wall:.1f} s wall "
          f"({xrt:.0f}x real time) into {opt.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; unfinished task folders removed", file=sys.stderr)
        sys.exit(130)
