#!/usr/bin/env python3
"""Builds the pretraining corpus of the default model: real recorded music from Debian's music
packages plus FluidSynth renders of real compositions (the music21 corpus and the MIDI files
of a Debian package), all cut into 24 kHz mono 16-bit WAV segments and listed in fairseq
manifests (train.tsv, valid.tsv; valid holds whole source tracks, never parts of a train track).

  .venv/bin/python tools/make_pretrain_corpus.py --out data/corpus            # everything
  .venv/bin/python tools/make_pretrain_corpus.py --out data/corpus --renders 0 --packages singularity-music

Recorded music: every package in PACKAGES (downloaded once with `apt-get download` into
$MUSEFM_CACHE/debs, default ~/.cache/musefm/debs); the .ogg / .mp3 / .opus files they ship,
including those inside .pk3 (zip) archives, decoded with sox (opus with opusdec).
Renders: pieces drawn (seeded) from music21's corpus and the MIDI package, each part given a
General-MIDI program (all melodic families), transposed by -5..+6 semitones, played at a drawn
tempo, with a generated drum part in some of them, rendered by fluidsynth with ONE soundfont
(--soundfont, FluidR3_GM by default). The probe suite's held-out soundfont (TimGM6mb) must not
be used here: its timbres are what the unseen-timbre probe split tests.
Note studies (--note-studies N): one GM program per study (round-robin over the probe suite's
melodic families), single notes and short phrases at drawn pitches (in the program's range),
velocities and lengths, with silence between them so that attacks and decays are heard alone;
rendered with --notes-soundfont (MuseScore General Lite), which neither probe split uses.
Near-silent segments (RMS < 1e-3) are dropped. Output depends only on the options and the
package versions; a rerun keeps finished files (sources.jsonl lists every segment's origin
and licence). Needs: apt-get, dpkg-deb, sox, opusdec, fluidsynth; numpy, soundfile, music21.
"""
import argparse
import glob
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_midi import vlq  # noqa: E402
from make_probe_data import FAMILIES, program_range  # noqa: E402  (the suite's GM families)

PROG = "make_pretrain_corpus.py"
SR = 24000
SILENT_RMS = 1e-3
DEFAULT_SF = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
# Note studies use a third soundfont: neither the probe suite's soundfont (FluidR3_GM, whose
# single notes the family and pitch probes test) nor its held-out one (TimGM6mb).
NOTES_SF = "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"
NOTE_PROGRAMS = [p for ps in FAMILIES.values() for p in ps]
HELDOUT_SF = "TimGM6mb"
# Debian packages of recorded music and the licences their copyright files state.
PACKAGES = {
    "singularity-music": "CC-BY-SA-3.0 (Endgame: Singularity soundtrack)",
    "wesnoth-1.16-music": "GPL-2+ (Battle for Wesnoth soundtrack)",
    "hyperrogue-music": "GPL-2+ / CC (HyperRogue soundtrack)",
    "ufoai-music": "GPL-2+, CC-BY-3.0, CC-BY-SA-3.0 (UFO: Alien Invasion soundtrack)",
    "nexuiz-music": "GPL-2+ (Nexuiz soundtrack)",
    "warzone2100-music": "GPL-2+ / CC0-1.0 (Warzone 2100 soundtrack)",
    "planetblupi-music-ogg": "GPL-3+ (Planet Blupi soundtrack)",
    "drascula-music": "Drascula licence, DFSG-free (Drascula soundtrack)",
    "asc-music": "GPL-2+ (Advanced Strategic Command soundtrack)",
}
MIDI_PACKAGES = {"planetblupi-music-midi": "GPL-3+ (Planet Blupi soundtrack, MIDI)"}
AUDIO_EXT = (".ogg", ".mp3", ".opus", ".flac", ".wav")
# GM programs a rendered part may get: every melodic family of the probe suite's list
PART_PROGRAMS = [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18, 19, 21, 22, 24, 25,
                 26, 27, 28, 29, 30, 32, 33, 34, 35, 38, 40, 41, 42, 43, 45, 46, 48, 49, 50, 52,
                 56, 57, 58, 60, 61, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 78, 79,
                 80, 81, 82, 87, 88, 89, 90, 91, 94, 95, 104, 105, 106, 108, 109]
BASS_PROGRAMS = [32, 33, 34, 35, 38, 39, 42, 43, 58, 70]
DRUM_KITS = [0, 8, 16, 24, 25, 32, 40]
TICKS_PER_QN = 480


def fail(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(2)


def need(tool):
    if shutil.which(tool) is None:
        fail(f"'{tool}' is missing (tools/setup.sh installs it)")


def segment_and_write(wave, out_dir, stem, seg_s, min_s):
    """Cuts a mono float waveform into seg_s pieces (the last kept if >= min_s) -> file names."""
    n = int(seg_s * SR)
    names = []
    for k, lo in enumerate(range(0, len(wave), n)):
        piece = wave[lo:lo + n]
        if len(piece) < min_s * SR or np.sqrt(np.mean(piece ** 2)) < SILENT_RMS:
            continue
        name = f"{stem}_{k:03d}.wav"
        path = os.path.join(out_dir, name)
        if not os.path.exists(path):
            tmp = path + ".tmp.wav"
            sf.write(tmp, np.clip(piece, -1, 1), SR, subtype="PCM_16")
            os.replace(tmp, path)
        names.append((name, len(piece)))
    return names


def decode(path, tmpdir):
    """Any shipped audio file -> mono float32 at 24 kHz (sox; opus through opusdec)."""
    src = path
    if path.endswith(".opus"):
        src = os.path.join(tmpdir, os.path.basename(path) + ".wav")
        subprocess.run(["opusdec", "--quiet", path, src], check=True)
    raw = os.path.join(tmpdir, "decoded.raw")
    subprocess.run(["sox", "-V1", src, "-r", str(SR), "-c", "1", "-b", "16", "-e", "signed",
                    "-t", "raw", raw], check=True)
    wave = np.fromfile(raw, dtype="<i2").astype(np.float32) / 32768.0
    os.remove(raw)
    if src != path:
        os.remove(src)
    return wave


def fetch_deb(pkg, cache):
    os.makedirs(cache, exist_ok=True)
    debs = glob.glob(os.path.join(cache, f"{pkg}_*.deb"))
    if not debs:
        r = subprocess.run(["apt-get", "download", pkg], cwd=cache, capture_output=True, text=True)
        debs = glob.glob(os.path.join(cache, f"{pkg}_*.deb"))
        if r.returncode != 0 or not debs:
            fail(f"'apt-get download {pkg}' failed (no Debian mirror?): {r.stderr.strip()[-300:]}")
    return sorted(debs)[-1]


def package_tracks(pkg, deb, tmpdir):
    """Audio files shipped by a .deb (also inside .pk3 zips): [(track id, path)]."""
    root = os.path.join(tmpdir, "x")
    subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    tracks = []
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            if f.lower().endswith(AUDIO_EXT):
                tracks.append(p)
            elif f.lower().endswith(".pk3"):
                with zipfile.ZipFile(p) as z:
                    for m in sorted(z.namelist()):
                        if m.lower().endswith(AUDIO_EXT):
                            q = os.path.join(tmpdir, "pk3", m)
                            os.makedirs(os.path.dirname(q), exist_ok=True)
                            with z.open(m) as a, open(q, "wb") as b:
                                shutil.copyfileobj(a, b)
                            tracks.append(q)
    out = []
    for p in sorted(tracks):
        stem = os.path.splitext(os.path.basename(p))[0]
        tid = pkg.split("-music")[0] + "__" + "".join(c if c.isalnum() else "_" for c in stem)
        out.append((tid, p))
    return out


def recorded(opt, audio_dir):
    rows = []
    for pkg in opt.packages:
        deb = fetch_deb(pkg, opt.cache)
        with tempfile.TemporaryDirectory() as tmp:
            tracks = package_tracks(pkg, deb, tmp)
            print(f"{pkg}: {len(tracks)} tracks", file=sys.stderr)
            for tid, p in tracks:
                done = sorted(glob.glob(os.path.join(audio_dir, f"{tid}_*.wav")))
                if done and not opt.overwrite:
                    names = [(os.path.basename(d), sf.info(d).frames) for d in done]
                else:
                    try:
                        names = segment_and_write(decode(p, tmp), audio_dir, tid, opt.segment,
                                                  opt.min_segment)
                    except subprocess.CalledProcessError as e:
                        print(f"{PROG}: {pkg}: {os.path.basename(p)}: decoding failed ({e}); "
                              "left out", file=sys.stderr)
                        continue
                for name, n in names:
                    rows.append({"file": name, "samples": n, "track": tid, "source": pkg,
                                 "licence": PACKAGES[pkg]})
    return rows


# --- renders ---------------------------------------------------------------------------------
def piece_notes(path):
    """(parts, quarter-note length) of a music21-readable score: parts = [[(on, off, pitch)]]
    in quarter notes; ties merged, unpitched and grace notes dropped."""
    from music21 import converter

    score = converter.parse(path)
    if hasattr(score, "scores"):  # an opus (several pieces in one file): take the first
        score = score.scores[0] if len(score.scores) else score
    parts = []
    for part in (score.parts if len(score.parts) else [score]):
        notes = []
        for n in part.stripTies().flatten().notes:
            dur = float(n.duration.quarterLength)
            if dur <= 0:
                continue
            on = float(n.getOffsetInHierarchy(part))
            for p in getattr(n, "pitches", []):
                notes.append((on, on + dur, int(p.midi)))
        if notes:
            parts.append(notes)
    return parts


def drum_part(rng, qn_total):
    """A generated drum part: a random 16-step bar (kick, snare/clap, hats or ride) repeated,
    with occasional fills; (onset qn, drum note, velocity)."""
    kick = sorted({0} | {s for s in range(16) if rng.random() < 0.2})
    snare = rng.choice([[4, 12], [4, 12, 14], [12], [4, 10, 12]])
    hat_note = rng.choice([42, 42, 46, 51])
    hat = list(range(0, 16, rng.choice([1, 2, 2, 4])))
    snare_note = rng.choice([38, 38, 39, 40, 37])
    hits = []
    bar = 0
    while bar * 4 < qn_total:
        fill = rng.random() < 0.12
        for s in range(16):
            t = bar * 4 + s / 4
            if t >= qn_total:
                break
            if s in kick:
                hits.append((t, 36, rng.randint(85, 115)))
            if s in snare or (fill and s >= 12 and rng.random() < 0.7):
                hits.append((t, snare_note if not fill else rng.choice([38, 45, 47, 48, 50]),
                             rng.randint(80, 115)))
            if s in hat:
                hits.append((t, hat_note, rng.randint(50, 85)))
        if bar == 0 or (fill and rng.random() < 0.5):
            hits.append((bar * 4, 49, 100))
        bar += 1
    return hits


def render_midi(rng, parts, seconds_cap):
    """MIDI bytes for one rendition of parts (quarter notes) + its description."""
    bpm = rng.uniform(60, 160)
    shift = rng.randint(-5, 6)
    us_per_qn = int(60e6 / bpm)
    qn_cap = seconds_cap * bpm / 60.0
    ev = [(0, 0, b"\xff\x51\x03" + us_per_qn.to_bytes(3, "big"))]
    programs = []
    low = min(range(len(parts)), key=lambda i: np.mean([p for _, _, p in parts[i]]))
    channels = [c for c in range(16) if c != 9]
    for i, notes in enumerate(parts[: len(channels)]):
        ch = channels[i]
        prog = rng.choice(BASS_PROGRAMS if (i == low and len(parts) > 1 and rng.random() < 0.5)
                          else PART_PROGRAMS)
        programs.append(prog)
        vel = rng.randint(60, 110)
        ev.append((0, 1, bytes([0xC0 | ch, prog])))
        for on, off, pitch in notes:
            if on >= qn_cap:
                continue
            p = pitch + shift
            if not 12 <= p <= 115:
                continue
            a, b = int(on * TICKS_PER_QN), int(min(off, qn_cap) * TICKS_PER_QN)
            v = max(1, min(127, vel + rng.randint(-12, 12)))
            ev.append((a, 3, bytes([0x90 | ch, p, v])))
            ev.append((max(b, a + 1), 2, bytes([0x80 | ch, p, 0])))
    qn_total = min(qn_cap, max(off for notes in parts for _, off, _ in notes))
    kit = None
    if rng.random() < 0.4:
        kit = rng.choice(DRUM_KITS)
        ev.append((0, 1, bytes([0xC9, kit])))
        for t, drum, v in drum_part(rng, qn_total):
            a = int(t * TICKS_PER_QN)
            ev.append((a, 3, bytes([0x99, drum, v])))
            ev.append((a + TICKS_PER_QN // 4, 2, bytes([0x89, drum, 0])))
    mid = midi_bytes(ev, int(qn_total * TICKS_PER_QN) + 2 * TICKS_PER_QN)
    desc = {"bpm": round(bpm, 1), "transpose": shift, "programs": programs, "drum_kit": kit}
    return mid, desc


def midi_bytes(ev, end):
    """A one-track MIDI file from (tick, order, message) events ending at tick `end`."""
    body, last = bytearray(), 0
    for tick, _, msg in sorted(ev, key=lambda e: (e[0], e[1])):
        body += vlq(tick - last) + msg
        last = tick
    body += vlq(end - last) + b"\xff\x2f\x00"
    return (b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big")
            + TICKS_PER_QN.to_bytes(2, "big") + b"MTrk" + len(body).to_bytes(4, "big")
            + bytes(body))


def note_study(rng, program, seconds):
    """MIDI bytes of one note study (120 bpm: a quarter note is 0.5 s) + its description."""
    lo, hi = program_range(program)
    tick = lambda t: int(t * 2 * TICKS_PER_QN)  # noqa: E731
    ev = [(0, 0, b"\xff\x51\x03" + (500000).to_bytes(3, "big")), (0, 1, bytes([0xC0, program]))]
    t, n = 0.2, 0
    while t < seconds - 2.5:
        if rng.random() < 0.7:  # one note, heard alone
            notes = [(rng.randint(lo, hi), rng.uniform(0.15, 2.5))]
        else:  # a short phrase: steps or an arpeggio
            p, step = rng.randint(lo, hi), rng.choice([1, 2, 3, 4, 5, 7])
            notes = []
            for _ in range(rng.randint(3, 8)):
                notes.append((p, rng.uniform(0.1, 0.5)))
                p += step * rng.choice([-1, 1])
                p = min(hi, max(lo, p))
        vel = rng.randint(30, 127)
        for pitch, dur in notes:
            v = max(1, min(127, vel + rng.randint(-10, 10)))
            ev.append((tick(t), 3, bytes([0x90, pitch, v])))
            ev.append((tick(t + dur), 2, bytes([0x80, pitch, 0])))
            t += dur
            n += 1
        t += rng.uniform(0.3, 1.5)  # the release, then silence
    return midi_bytes(ev, tick(seconds)), {"program": program, "notes": n}


def fluid(mid_path, font, gain, tmpdir):
    raw = mid_path + ".raw"
    subprocess.run(["fluidsynth", "-q", "-ni", "-R", "0", "-C", "0", "-z", "1024", "-g",
                    str(gain), "-r", str(SR), "-T", "raw", "-O", "s16", "-F", raw, font,
                    mid_path], check=True, capture_output=True)
    st = np.fromfile(raw, dtype="<i2").reshape(-1, 2).astype(np.float32)
    os.remove(raw)
    return (st[:, 0] + st[:, 1]) / 65536.0


def render_job(job):
    """One rendition (worker process): parse, write MIDI, render, segment -> rows."""
    idx, src, kind, licence, opt = job
    tid = f"{'notes' if kind == 'notes' else 'render'}_{idx:04d}"
    done = sorted(glob.glob(os.path.join(opt["audio_dir"], f"{tid}_*.wav")))
    meta_path = os.path.join(opt["audio_dir"], f"{tid}.json")
    if done and os.path.exists(meta_path):
        desc = json.load(open(meta_path))
        return [{"file": os.path.basename(d), "samples": sf.info(d).frames, "track": tid,
                 "source": desc["source"], "licence": licence, "render": desc}
                for d in done]
    rng = random.Random(f"{opt['seed']}/render/{idx}")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            font = opt.get("soundfont")
            if kind == "notes":
                mid, desc = note_study(rng, src, opt["note_study_s"])
                font = opt["notes_soundfont"]
                mid_path = os.path.join(tmp, "study.mid")
                with open(mid_path, "wb") as f:
                    f.write(mid)
            elif kind == "music21":
                parts = piece_notes(src)
                if not parts:
                    return []
                mid, desc = render_midi(rng, parts, opt["max_render_s"])
                mid_path = os.path.join(tmp, "piece.mid")
                with open(mid_path, "wb") as f:
                    f.write(mid)
            else:  # a MIDI file rendered as written
                mid_path, desc = src, {"as_written": True}
            cap = opt["note_study_s"] if kind == "notes" else opt["max_render_s"]
            wave = fluid(mid_path, font, opt["gain"], tmp)[: int(cap * SR)]
        except Exception as e:  # noqa: BLE001  (music21 raises many kinds on odd files)
            print(f"{PROG}: {src}: left out ({type(e).__name__}: {str(e)[:120]})", file=sys.stderr)
            return []
        peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
        if peak > 0.95:  # keep clear of clipping, keep the level otherwise
            wave = wave * (0.95 / peak)
        source = {"music21": lambda: os.path.relpath(src, opt["src_root"]),
                  "notes": lambda: f"note study, GM program {src}",
                  "midi": lambda: os.path.basename(src)}[kind]()
        desc.update({"source": source, "soundfont": os.path.basename(font)})
        names = segment_and_write(wave, opt["audio_dir"], tid, opt["segment"], opt["min_segment"])
        with open(meta_path + ".tmp", "w") as f:
            json.dump(desc, f)
        os.replace(meta_path + ".tmp", meta_path)
    return [{"file": n, "samples": s, "track": tid, "source": desc["source"], "licence": licence,
             "render": desc} for n, s in names]


def renders(opt, audio_dir):
    if opt.renders <= 0:
        return []
    if HELDOUT_SF.lower() in os.path.basename(opt.soundfont).lower():
        fail(f"--soundfont {opt.soundfont}: that is the probe suite's held-out soundfont")
    if not os.path.isfile(opt.soundfont):
        fail(f"soundfont '{opt.soundfont}' not found (apt-get install fluid-soundfont-gm)")
    try:
        import music21  # noqa: F401
        from music21 import corpus
    except ImportError:
        fail("music21 is missing (tools/setup.sh --tools installs it)")
    src_root = os.path.dirname(corpus.getPaths()[0])
    while os.path.basename(src_root) != "corpus":
        src_root = os.path.dirname(src_root)
    paths = sorted(str(p) for p in corpus.getPaths()
                   if str(p).lower().endswith((".mxl", ".xml", ".musicxml", ".krn", ".mid", ".abc")))
    # Round-robin over the corpus' folders (composers / collections), each shuffled, so that a
    # few large collections (Palestrina, Ryan's Mammoth) do not crowd out the rest; a piece
    # comes back (as another rendition) only after every piece of its folder has been used.
    rng = random.Random(f"{opt.seed}/pieces")
    groups = {}
    for p in paths:
        groups.setdefault(os.path.relpath(p, src_root).split(os.sep)[0], []).append(p)
    for g in groups.values():
        rng.shuffle(g)
    order, used = [], {g: 0 for g in groups}
    while len(order) < opt.renders:
        for g in sorted(groups):
            if used[g] < 3 * len(groups[g]):
                order.append(groups[g][used[g] % len(groups[g])])
                used[g] += 1
        if all(used[g] >= 3 * len(groups[g]) for g in groups):
            break
    jobs = []
    midi_files = []
    for pkg in MIDI_PACKAGES:
        deb = fetch_deb(pkg, opt.cache)
        x = os.path.join(opt.out, ".midi", pkg)
        if not os.path.isdir(x):
            os.makedirs(os.path.dirname(x), exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", deb, x + ".tmp"], check=True)
            os.replace(x + ".tmp", x)
        midi_files += [(p, MIDI_PACKAGES[pkg]) for p in
                       sorted(glob.glob(os.path.join(x, "**", "*.mid"), recursive=True))]
    common = {"seed": opt.seed, "audio_dir": audio_dir, "soundfont": opt.soundfont,
              "gain": opt.gain, "segment": opt.segment, "min_segment": opt.min_segment,
              "max_render_s": opt.max_render_s, "src_root": src_root}
    for i, (p, lic) in enumerate(midi_files):
        jobs.append((i, p, "midi", lic, common))
    n21 = max(0, opt.renders - len(jobs))
    for k in range(n21):
        jobs.append((len(midi_files) + k, order[k % len(order)], "music21",
                     "music21 corpus (public domain scores; see music21's corpus licence notes)",
                     common))
    return run_jobs(opt, jobs, "renders")


def run_jobs(opt, jobs, what):
    rows = []
    with ProcessPoolExecutor(opt.jobs) as pool:
        for k, r in enumerate(pool.map(render_job, jobs, chunksize=4)):
            rows += r
            if (k + 1) % 50 == 0:
                print(f"{what}: {k + 1}/{len(jobs)}", file=sys.stderr)
    return rows


def note_studies(opt, audio_dir):
    if opt.note_studies <= 0:
        return []
    for font in (opt.notes_soundfont,):
        name = os.path.basename(font).lower()
        if HELDOUT_SF.lower() in name or os.path.basename(DEFAULT_SF).lower() in name:
            fail(f"--notes-soundfont {font}: the probe suite renders its notes with that "
                 "soundfont; note studies need a third one")
        if not os.path.isfile(font):
            fail(f"soundfont '{font}' not found (apt-get install musescore-general-soundfont-small)")
    common = {"seed": opt.seed, "audio_dir": audio_dir, "notes_soundfont": opt.notes_soundfont,
              "gain": opt.gain, "segment": opt.segment, "min_segment": opt.min_segment,
              "note_study_s": opt.note_study_s}
    rng = random.Random(f"{opt.seed}/note-programs")
    order = []
    while len(order) < opt.note_studies:
        block = list(NOTE_PROGRAMS)
        rng.shuffle(block)
        order += block
    jobs = [(i, order[i], "notes", "generated (musefm); MuseScore General soundfont, MIT", common)
            for i in range(opt.note_studies)]
    return run_jobs(opt, jobs, "note studies")


def write_manifests(opt, rows, audio_dir):
    tracks = sorted({r["track"] for r in rows})
    valid = {t for t in tracks
             if int(hashlib.sha1(f"{opt.seed}/{t}".encode()).hexdigest(), 16) % 1000
             < opt.valid_permille}
    root = os.path.abspath(audio_dir)
    for split in ("train", "valid"):
        sel = [r for r in rows if (r["track"] in valid) == (split == "valid")]
        with open(os.path.join(opt.out, f"{split}.tsv.tmp"), "w") as f:
            f.write(root + "\n")
            for r in sorted(sel, key=lambda r: r["file"]):
                f.write(f"{r['file']}\t{r['samples']}\n")
        os.replace(os.path.join(opt.out, f"{split}.tsv.tmp"), os.path.join(opt.out, f"{split}.tsv"))
        hours = sum(r["samples"] for r in sel) / SR / 3600
        print(f"{split}.tsv: {len(sel)} segments, {hours:.2f} h, "
              f"{len({r['track'] for r in sel})} tracks", file=sys.stderr)
    with open(os.path.join(opt.out, "sources.jsonl"), "w") as f:
        for r in sorted(rows, key=lambda r: r["file"]):
            f.write(json.dumps(dict(r, split="valid" if r["track"] in valid else "train")) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="corpus folder (audio/, train.tsv, valid.tsv)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--packages", default=",".join(PACKAGES),
                    help="comma list of Debian music packages (default: all known)")
    ap.add_argument("--renders", type=int, default=600,
                    help="rendered pieces (the MIDI package's files, then music21 pieces)")
    ap.add_argument("--max-render-s", type=float, default=120.0, help="cap per rendition")
    ap.add_argument("--soundfont", default=DEFAULT_SF)
    ap.add_argument("--note-studies", type=int, default=0,
                    help="note studies (single notes and phrases of one program each)")
    ap.add_argument("--note-study-s", type=float, default=60.0, help="length of a note study (s)")
    ap.add_argument("--notes-soundfont", default=NOTES_SF,
                    help="soundfont of the note studies (not one the probe suite uses)")
    ap.add_argument("--gain", type=float, default=0.5, help="fluidsynth -g")
    ap.add_argument("--segment", type=float, default=30.0, help="segment length (s)")
    ap.add_argument("--min-segment", type=float, default=5.0, help="shorter tails are dropped")
    ap.add_argument("--valid-permille", type=int, default=30, help="tracks held out for valid")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache", default=os.path.join(
        os.environ.get("MUSEFM_CACHE", os.path.expanduser("~/.cache/musefm")), "debs"))
    ap.add_argument("--overwrite", action="store_true")
    opt = ap.parse_args()
    opt.packages = [p for p in opt.packages.split(",") if p]
    for p in opt.packages:
        if p not in PACKAGES:
            fail(f"--packages: unknown package '{p}' (known: {', '.join(PACKAGES)})")
    for tool in ("apt-get", "dpkg-deb", "sox", "opusdec", "fluidsynth"):
        need(tool)
    audio_dir = os.path.join(opt.out, "audio")
    os.makedirs(audio_dir, exist_ok=True)
    rows = recorded(opt, audio_dir) + renders(opt, audio_dir) + note_studies(opt, audio_dir)
    if not rows:
        fail("no audio: every source was left out")
    write_manifests(opt, rows, audio_dir)


if __name__ == "__main__":
    main()
