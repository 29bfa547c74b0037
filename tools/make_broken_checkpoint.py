#!/usr/bin/env python3
"""Writes a deliberately broken copy of a checkpoint or stats json, for the converter's error
tests (tests/convert_musicfm.cmake), so that no broken binaries need to be committed.

  make_broken_checkpoint.py SRC.pt OUT.pt --drop KEY      remove tensor KEY
  make_broken_checkpoint.py SRC.pt OUT.pt --add KEY       add a [4] tensor named KEY
  make_broken_checkpoint.py SRC.pt OUT.pt --reshape KEY   grow KEY's first dimension by one
  make_broken_checkpoint.py SRC.pt OUT.pt                 an unbroken copy (SRC may also be a
                                                          model.safetensors: saved as a state dict)
  make_broken_checkpoint.py SRC.json OUT.json --drop KEY  remove KEY from a JSON object
  make_broken_checkpoint.py SRC.json OUT.json --add KEY   add KEY (= 0.0) to a JSON object

KEY is a tensor name as the converters report it. For a .pt file the tensors are looked for in
its "state_dict" (else at the top level); when the stored names carry a prefix such as "model."
(MusicFM), the prefix is added to KEY. A KEY that --drop / --reshape cannot find is an error.
The folder of OUT is created if needed.
"""
import argparse
import json
import os
import sys

import torch


def fail(message):
    sys.exit(f"make_broken_checkpoint: {message}")


def stored_name(tensors, key):
    """The stored name of KEY: KEY itself, or the one stored name ending in "." + KEY whose
    prefix all names share."""
    if key in tensors:
        return key
    for name in tensors:
        if name.endswith("." + key):
            prefix = name[: -len(key)]
            if all(n.startswith(prefix) for n in tensors):
                return name
    return None


def prefix_of(tensors):
    """The prefix shared by every stored name ("model." for MusicFM), or ""."""
    firsts = {n.split(".", 1)[0] + "." for n in tensors if "." in n}
    return firsts.pop() if len(firsts) == 1 and all("." in n for n in tensors) else ""


def break_tensors(tensors, action, key):
    name = stored_name(tensors, key)
    if action == "add":
        if name is not None:
            fail(f"{key} already exists")
        tensors[prefix_of(tensors) + key] = torch.zeros(4)
        return
    if name is None:
        fail(f"no tensor named {key}")
    if action == "drop":
        del tensors[name]
    else:
        t = tensors[name]
        shape = list(t.shape) or [1]
        shape[0] += 1
        tensors[name] = torch.zeros(shape, dtype=t.dtype)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("out")
    group = ap.add_mutually_exclusive_group()
    for action in ("drop", "add", "reshape"):
        group.add_argument(f"--{action}", metavar="KEY")
    args = ap.parse_args()
    action = next((a for a in ("drop", "add", "reshape") if getattr(args, a) is not None), None)
    key = getattr(args, action) if action else None
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)

    if args.src.endswith(".json"):
        with open(args.src) as f:
            obj = json.load(f)
        if not isinstance(obj, dict):
            fail(f"{args.src} is not a JSON object")
        if action == "drop":
            if key not in obj:
                fail(f"{args.src} has no key {key}")
            del obj[key]
        elif action == "add":
            obj[key] = 0.0
        else:
            fail("--reshape applies to tensors, not to JSON")
        with open(args.out, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        return

    if args.src.endswith(".safetensors"):  # a model dir's weights, re-saved as a torch state dict
        from safetensors.torch import load_file
        ckpt = load_file(args.src)
    else:
        ckpt = torch.load(args.src, map_location="cpu", weights_only=True)
    if isinstance(ckpt, dict) and isinstance(ckpt.get("state_dict"), dict):
        tensors = ckpt["state_dict"]
    elif isinstance(ckpt, dict):
        tensors = ckpt
    else:
        fail(f"{args.src} holds a {type(ckpt).__name__}, not a dict of tensors")
    if action:
        break_tensors(tensors, action, key)
    torch.save(ckpt, args.out)


if __name__ == "__main__":
    main()
