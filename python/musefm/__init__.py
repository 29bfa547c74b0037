"""musefm: MERT / MusicFM music encoders on libtorch, from Python.

    import musefm
    wav = musefm.load_audio("song.flac")                 # float32 numpy [L], 24 kHz mono
    enc = musefm.Encoder.load_default()                  # or musefm.Encoder.load("models/...")
    states = enc.forward(wav)                            # list of [1, T, hidden] per layer
    ex = musefm.Extractor(enc, layers=[0, 6, -1], pool="mean")
    emb = ex.extract("song.flac")                        # [3, hidden]
    mel = musefm.features.mel(wav)                       # [frames, 128] log-mel
    stream = ex.stream()                                 # live audio, block by block

The HEAR 2021 API is musefm.hear (load_model, get_scene_embeddings, get_timestamp_embeddings).

numpy in -> numpy out, torch tensor in -> torch tensor out, shared without copies where the
input is float32. Every error of the library is raised as musefm.Error (a RuntimeError) whose
message names the file, key or field and the reason.
"""

# torch first: its shared libraries (libtorch, libc10, libgomp) are the ones the extension
# links, and loading them here makes the dynamic linker reuse them.
import torch as _torch  # noqa: F401

from ._musefm import (
    Encoder,
    Error,
    Extractor,
    ExtractStream,
    keep_freed_memory_for_reuse,
    load_audio,
    resample,
)
from . import features

__all__ = [
    "Encoder",
    "Error",
    "Extractor",
    "ExtractStream",
    "features",
    "keep_freed_memory_for_reuse",
    "load_audio",
    "resample",
    "__version__",
]
__version__ = "0.1.0"
