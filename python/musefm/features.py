"""Front-end features with the defaults of `musefm features` and the references they match.

    import musefm.features as F
    mel = F.mel(wav)                          # MusicFM log-mel [frames, 128], torchaudio parity
    mfcc = F.mfcc("song.flac")                # HuBERT MFCC + deltas [frames, 39], Kaldi parity
    cqt = F.cqt(wav, sample_rate=24000)       # MERT's CQT [frames, 336], nnAudio parity
    chroma = F.chroma(wav, sample_rate=22050) # librosa chroma_cqt [frames, 12]
    t = F.FeatureTransform("mel", n_mels=64)  # reuse one transform (tables built once)

Inputs: a float waveform [L] or [B, L] at the transform's sample_rate (numpy or torch), or an
audio file path (decoded, mono, resampled). Keyword arguments set config keys (see
FeatureTransform(kind).config). numpy in -> numpy out, torch in -> torch out.
"""

from ._musefm import FeatureTransform

__all__ = ["FeatureTransform", "mel", "mfcc", "cqt", "chroma"]


def mel(wav_or_path, **config):
    """Log-mel spectrogram (MusicFM front-end defaults): [frames, n_mels]."""
    return FeatureTransform("mel", **config)(wav_or_path)


def mfcc(wav_or_path, **config):
    """Kaldi MFCC + deltas (HuBERT iteration-1 defaults, 16 kHz): [frames, 39]."""
    return FeatureTransform("mfcc", **config)(wav_or_path)


def cqt(wav_or_path, **config):
    """|CQT| (MERT's nnAudio CQT1992v2 target, 24 kHz, 336 bins): [frames, n_bins]."""
    return FeatureTransform("cqt", **config)(wav_or_path)


def chroma(wav_or_path, **config):
    """Chromagram (librosa.feature.chroma_cqt defaults, 22,050 Hz): [frames, 12]."""
    return FeatureTransform("chroma", **config)(wav_or_path)
