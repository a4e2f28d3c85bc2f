#!/usr/bin/env python3
"""Makes the parity sweep's PyTorch reference files: many shapes, seeds and learning rates.

  parity_sweep.py TORCH_REFERENCE DATA OUTDIR

For each case below it runs shared/tools/torch_reference.py (imported from TORCH_REFERENCE) to write
OUTDIR/NAME.safetensors, then replays the same float64 training run and adds to the file's metadata
"relu_margin": per AdamW step, the smallest |input| of any ReLU in that step's forward pass. A float32
run cannot follow a float64 one through a ReLU whose input is within float32 rounding of zero (the
unit flips on one side and not the other, and every later step differs); the test uses the margin to
tell such an event from an error. Prints one JSON line per file.
"""
import importlib.util
import json
import struct
import sys

import torch

# name, then torch_reference.py's flags: 1 head, T < block_size, odd sizes, lr 1e-3..3e-3, 8-20 steps
CASES = [
    ("issue", "--n-embd 48 --n-head 6 --n-layer 3 --block-size 24 --batch 3 --seq 20 --lr 0.003 --steps 8 --seed 5"),
    ("c32h4", "--n-embd 32 --n-head 4 --n-layer 2 --block-size 16 --batch 4 --seq 16 --lr 0.001 --steps 10 --seed 1"),
    ("c16h1", "--n-embd 16 --n-head 1 --n-layer 1 --block-size 8 --batch 2 --seq 8 --lr 0.002 --steps 12 --seed 2"),
    ("c36h3", "--n-embd 36 --n-head 3 --n-layer 2 --block-size 17 --batch 3 --seq 13 --lr 0.0015 --steps 15 --seed 3"),
    ("c20h5", "--n-embd 20 --n-head 5 --n-layer 1 --block-size 11 --batch 5 --seq 11 --lr 0.003 --steps 20 --seed 4"),
    ("c64h4", "--n-embd 64 --n-head 4 --n-layer 2 --block-size 32 --batch 2 --seq 32 --lr 0.001 --steps 8 --seed 6"),
    ("c24h2", "--n-embd 24 --n-head 2 --n-layer 3 --block-size 12 --batch 4 --seq 7 --lr 0.0025 --steps 10 --seed 7"),
    ("c12h3", "--n-embd 12 --n-head 3 --n-layer 2 --block-size 9 --batch 6 --seq 9 --lr 0.001 --steps 16 --seed 8"),
    ("c40h8", "--n-embd 40 --n-head 8 --n-layer 1 --block-size 20 --batch 2 --seq 19 --lr 0.002 --steps 12 --seed 9"),
    ("c28h7", "--n-embd 28 --n-head 7 --n-layer 2 --block-size 14 --batch 3 --seq 14 --lr 0.003 --steps 9 --seed 10"),
    ("c8h1", "--n-embd 8 --n-head 1 --n-layer 4 --block-size 6 --batch 5 --seq 5 --lr 0.0012 --steps 18 --seed 11"),
    ("c56h2", "--n-embd 56 --n-head 2 --n-layer 2 --block-size 10 --batch 3 --seq 10 --lr 0.002 --steps 10 --seed 12"),
    ("c33h11", "--n-embd 33 --n-head 11 --n-layer 1 --block-size 15 --batch 2 --seq 12 --lr 0.001 --steps 20 --seed 13"),
]


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return header["__metadata__"]


def relu_margins(tr, path):
    """The float64 run of torch_reference.run, recording the smallest |ReLU input| of each step's forward."""
    w = tr.read_safetensors(path)
    meta = read(path)
    hp = json.loads(meta["adamw"])
    vocab, n_embd, n_head, n_layer, block = tr.sizes_from_weights(w)
    model = tr.GPT(vocab, n_embd, n_head, n_layer, block).double()
    model.load_state_dict({k: v.double() for k, v in w.items() if k in model.state_dict()})
    smallest = [float("inf")]
    for block_ in model.blocks:
        relu_in = block_.ffwd.net[0]
        relu_in.register_forward_hook(lambda m, i, o: smallest.__setitem__(0, min(smallest[0], o.abs().min().item())))
    idx, targets = w["idx"].long(), w["targets"].long()
    opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                            weight_decay=hp["weight_decay"])
    margins = []
    for _ in range(hp["steps"]):
        smallest[0] = float("inf")
        _, loss = model(idx, targets)
        margins.append(smallest[0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return margins


def main():
    script, data, out = sys.argv[1:4]
    spec = importlib.util.spec_from_file_location("torch_reference", script)
    tr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tr)
    for name, flags in CASES:
        path = f"{out}/{name}.safetensors"
        sys.argv = [script, "--data", data, "--out", path] + flags.split()
        tr.main()
        meta = read(path)
        meta["relu_margin"] = json.dumps(relu_margins(tr, path))
        tr.write_safetensors(path, {k: v for k, v in tr.read_safetensors(path).items()}, meta)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
