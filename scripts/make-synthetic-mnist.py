#!/usr/bin/env python3
"""Writes a random MNIST-format folder (28x28 images, 10 classes): make-synthetic-mnist.py DIR TRAIN TEST."""
import os, random, struct, sys

folder, train, test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(folder, exist_ok=True)
rng = random.Random(0)
for prefix, count in (("train", train), ("t10k", test)):
    with open(f"{folder}/{prefix}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, count, 28, 28) + rng.randbytes(count * 784))
    with open(f"{folder}/{prefix}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, count) + bytes(b % 10 for b in rng.randbytes(count)))
