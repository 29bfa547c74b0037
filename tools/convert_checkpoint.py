#!/usr/bin/env python3
"""Converts a published checkpoint into a musefm model directory (config.json + model.safetensors).

The command line of the musefm_convert package (tools/musefm_convert/cli.py, which documents the
formats; `--help` lists them). Run with the project venv:
  .venv/bin/python tools/convert_checkpoint.py {hf-mert,fairseq-mert,musicfm,encodec} SRC OUT
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from musefm_convert.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
