"""`python -m musefm_convert FORMAT SRC OUT`, run from tools/: the same as convert_checkpoint.py."""
from .cli import main

main(prog="python -m musefm_convert")
