"""The HEAR 2021 API (https://hearbenchmark.com/hear-api.html) over musefm's encoders, so
hear-eval-kit and other HEAR harnesses evaluate a musefm model unchanged:

    import musefm.hear as hear
    model = hear.load_model()                          # the shipped model; or a model dir
    scene = hear.get_scene_embeddings(audio, model)    # audio: torch [n_sounds, n_samples]
    emb, ts = hear.get_timestamp_embeddings(audio, model)   # [n, T, D], [n, T] milliseconds

The model takes audio at `model.sample_rate` (48,000 Hz by default: HEAR allows 16,000,
22,050, 44,100 or 48,000 Hz) and resamples it to the encoder's rate with libsamplerate.
Embeddings are the mean of all hidden states (layers="weighted", uniform weights) unless
`layers` says otherwise; a timestamp embedding is one encoder frame, stamped at the centre of
its hop interval, (k + 0.5) / frame_rate seconds; the scene embedding is their mean over time.
"""

import torch

from ._musefm import Encoder, Extractor, resample

__all__ = ["MusefmHearModel", "load_model", "get_scene_embeddings", "get_timestamp_embeddings"]


class MusefmHearModel(torch.nn.Module):
    """A musefm encoder with the attributes the HEAR API requires (sample_rate,
    scene_embedding_size, timestamp_embedding_size). `.to(device)` reloads it there."""

    def __init__(self, model_file_path="", sample_rate=48000, layers="weighted", device="cpu",
                 window=30.0, batch=8):
        super().__init__()
        self.model_file_path = str(model_file_path)
        self.sample_rate = int(sample_rate)
        self.layers = layers
        self.window = window
        self.batch = batch
        self._load(str(device))

    def _load(self, device):
        if self.model_file_path:
            encoder = Encoder.load(self.model_file_path, device)
        else:
            encoder = Encoder.load_default(device)
        common = dict(layers=self.layers, window=self.window, batch=self.batch)
        self.scene_extractor = Extractor(encoder, pool="mean", **common)
        self.frame_extractor = Extractor(encoder, pool="none", **common)
        size = self.frame_extractor.num_outputs * encoder.config["hidden_size"]
        self.scene_embedding_size = int(size)
        self.timestamp_embedding_size = int(size)
        self.device_name = device

    def to(self, *args, **kwargs):
        device = torch._C._nn._parse_to(*args, **kwargs)[0]
        if device is not None and torch.device(device) != torch.device(self.device_name):
            self._load(str(device))
        return self

    def _encoder_audio(self, audio):
        if not isinstance(audio, torch.Tensor) or audio.dim() != 2:
            raise ValueError("HEAR audio must be a torch tensor [n_sounds, n_samples]")
        rate = self.frame_extractor.encoder.sample_rate
        wav = audio.detach().to("cpu", torch.float32).contiguous()
        if self.sample_rate != rate:
            wav = resample(wav, self.sample_rate, rate)
        return list(wav.to(self.device_name))


def load_model(model_file_path="", **options):
    """A MusefmHearModel: `model_file_path` is a musefm model dir (config.json +
    model.safetensors); empty = the shipped default model. Options: sample_rate (48000),
    layers ("weighted", or e.g. [0, 6, -1] concatenated), device ("cpu"), window (30 s), batch."""
    return MusefmHearModel(model_file_path, **options)


def get_scene_embeddings(audio, model):
    """[n_sounds, n_samples] float audio at model.sample_rate -> [n_sounds,
    model.scene_embedding_size] float32, on the audio's device."""
    rows = model.scene_extractor.extract(model._encoder_audio(audio))
    return torch.stack([r.reshape(-1) for r in rows]).to(audio.device)


def get_timestamp_embeddings(audio, model):
    """[n_sounds, n_samples] float audio at model.sample_rate -> (embeddings [n_sounds, T,
    model.timestamp_embedding_size] float32, timestamps [n_sounds, T] in milliseconds), on the
    audio's device."""
    rows = model.frame_extractor.extract(model._encoder_audio(audio))
    emb = torch.stack([r.permute(1, 0, 2).reshape(r.shape[1], -1) for r in rows])
    rate = model.frame_extractor.encoder.frame_rate
    ts = (torch.arange(emb.shape[1], dtype=torch.float32) + 0.5) * (1000.0 / rate)
    return emb.to(audio.device), ts.expand(emb.shape[0], -1).contiguous().to(audio.device)
