"""Converts a published checkpoint into a musefm model directory (config.json + model.safetensors).

  hf-mert SRC OUT        a Hugging Face MERT / Hubert directory (config.json + model.safetensors
                         or pytorch_model.bin), e.g. a local copy of m-a-p/MERT-v1-95M or -330M.
                         Parameter names are kept (musefm reads HF names).
  fairseq-mert SRC OUT   a fairseq MERT / HuBERT checkpoint (.pt with "cfg" and "model");
                         parameter names are mapped to the HF names.
  musicfm SRC OUT --stats STATS.json
                         a MusicFM checkpoint (pretrained_msd.pt / pretrained_fma.pt, a
                         {"state_dict": {"model.<key>": ...}} file) and its stats json
                         (melspec_2048_mean / melspec_2048_std); upstream names are kept.
  encodec SRC OUT [--arch ARCH.json] [--encoder-only]
                         an EnCodec state dict (encodec_24khz-d7cc33bc.th, or torch.save of
                         EncodecModel.encodec_model_24khz().state_dict()) for musefm's
                         EncodecTeacher; upstream names are kept (see musefm_convert/encodec.py).

Missing, unexpected or mis-shaped parameters stop the conversion with a list of them.
Run with the project venv: .venv/bin/python tools/convert_checkpoint.py FORMAT SRC OUT
"""
import argparse
from typing import List, Optional

from .common import fail
from .encodec import convert_encodec
from .fairseq_mert import convert_fairseq_mert
from .hf_mert import convert_hf_mert
from .musicfm import convert_musicfm

FORMATS = ("hf-mert", "fairseq-mert", "musicfm", "encodec")


def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> None:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("format", choices=FORMATS)
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--stats", help="MusicFM stats json (musicfm format only)")
    ap.add_argument("--arch", help="JSON object overriding EncodecConfig fields (encodec only)")
    ap.add_argument("--encoder-only", action="store_true",
                    help="leave out decoder.* and training-only codebook buffers (encodec only)")
    args = ap.parse_args(argv)
    if args.stats and args.format != "musicfm":
        fail("--stats only applies to the musicfm format")
    if (args.arch or args.encoder_only) and args.format != "encodec":
        fail("--arch and --encoder-only only apply to the encodec format")
    if args.format == "encodec":
        config, state = convert_encodec(args.src, args.out, args.arch, args.encoder_only)
        print(f"wrote {args.out}: {len(state)} tensors, EnCodec {config['sample_rate']} Hz, "
              f"{config['n_q']} codebooks x {config['bins']}")
        return
    if args.format == "hf-mert":
        config, state = convert_hf_mert(args.src, args.out)
    elif args.format == "fairseq-mert":
        config, state = convert_fairseq_mert(args.src, args.out)
    else:
        if not args.stats:
            fail("the musicfm format needs --stats STATS.json (melspec_2048_mean/std)")
        config, state = convert_musicfm(args.src, args.stats, args.out)
    print(f"wrote {args.out}: {len(state)} tensors, {config['num_hidden_layers']} layers x "
          f"{config['hidden_size']}")
