"""Checkpoint converters: published MERT / MusicFM / EnCodec checkpoints -> musefm model
directories (config.json + model.safetensors).

  common        what every converter shares: fail, write_model_dir, sort_safetensors_metadata,
                mert_config, HF_KEYS, MUSEFM_DEFAULTS
  hf_mert       Hugging Face MERT / Hubert directories (convert_hf_mert)
  fairseq_mert  fairseq MERT / HuBERT checkpoints (convert_fairseq_mert)
  musicfm       MusicFM checkpoints + stats json (convert_musicfm)
  encodec       EnCodec state dicts (convert_encodec, ENCODEC_24KHZ)
  cli           the command line (main), run as tools/convert_checkpoint.py or, from tools/,
                python -m musefm_convert

Imports point one way: cli -> the format modules -> common. Importing the package itself loads
none of them (and so not torch).
"""
