#!/usr/bin/env python3
"""Races Dendrite's training step against PyTorch's in alternating bursts, in one run.

On a shared machine whose speed drifts by tens of percent from one minute to the next, the peer program
and `dendrite bench` run one after the other measure two different machines: their ratio moved by up to
30 % between pairs (BENCHMARKS.md, eighteenth session). Here both stay loaded and take turns, a burst of
steps each, the order alternating every round; each round's ratio compares steps a few seconds apart.

PyTorch's side is the peer's own model and step (../shared/anchors/cnn_torch.py's `make`, or for the lab's
MLP mlp_torch.py's `make_model`; Adam 1e-3, cross-entropy, batch 128, Fashion-MNIST batches); Dendrite's is
`dendrite bench --serve-steps MODEL`, the harness's training-step case (C backend, batch 128, random
images). Each burst reports its median step.

    python3 scripts/race-pytorch.py [--model mlp|lenet5|cnn|cnn-bn] [--threads 2] [--rounds 30] [--burst 10]

PyTorch comes from PyPI (pip install torch); it is a yardstick, never a dependency of the project.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# After a burst, the side that ran it leaves its thread pool idle for this long before the other starts:
# Dendrite pauses its OpenMP workers itself, PyTorch's spin for a while after each parallel region.
SETTLE_SECONDS = 0.3


def torch_side(model_name, threads, anchors):
    sys.path.insert(0, anchors)
    import torch
    import torch.nn as nn
    import cnn_torch
    import fmnist

    torch.set_num_threads(threads)
    mlp = model_name == "mlp"
    if mlp:
        import mlp_torch
    xtr, ytr, _, _ = fmnist.load(flatten=mlp)
    images = torch.from_numpy(xtr) if mlp else torch.from_numpy(xtr).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(ytr)
    torch.manual_seed(0)
    model = mlp_torch.make_model() if mlp else cnn_torch.make(model_name)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(images.shape[0])
    batch = cnn_torch.BATCH
    position = [0]

    def burst(steps):
        times = []
        for _ in range(steps):
            start = position[0] % (images.shape[0] - batch)
            index = order[start:start + batch]
            position[0] += batch
            xb, yb = images[index], labels[index]
            began = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(xb), yb).backward()
            optimizer.step()
            times.append(time.perf_counter() - began)
        return statistics.median(times)

    return burst, torch.__version__


def dendrite_side(model_name, threads, binary):
    server = subprocess.Popen([binary, "bench", "--serve-steps", model_name], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, bufsize=1)

    def burst(steps):
        server.stdin.write(f"{steps} {threads}\n")
        server.stdin.flush()
        answer = server.stdout.readline()
        if not answer:
            raise SystemExit(f"{binary} bench --serve-steps {model_name} stopped (exit {server.wait()})")
        fields = answer.split()
        if len(fields) != 2 or fields[0] == "error:":
            raise SystemExit(f"unexpected answer from the step server: {answer.strip()}")
        return float(fields[0])

    return burst, server


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="lenet5", choices=["mlp", "lenet5", "cnn", "cnn-bn"],
                        help="the lab's MLP or a convolutional preset")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--burst", type=int, default=10, help="steps per burst (at most 1000)")
    parser.add_argument("--dendrite", default=os.path.join(ROOT, ".build", "release", "dendrite"))
    parser.add_argument("--anchors", default=os.path.join(os.path.dirname(ROOT), "shared", "anchors"),
                        help="the folder of cnn_torch.py, mlp_torch.py and fmnist.py")
    args = parser.parse_args()
    if args.rounds < 1 or not 1 <= args.burst <= 1000 or not 1 <= args.threads <= 1024:
        parser.error("--rounds must be positive, --burst from 1 to 1000, --threads from 1 to 1024")
    if not os.access(args.dendrite, os.X_OK):
        parser.error(f"no dendrite binary at {args.dendrite}: build it with `swift build -c release`")
    if not os.path.exists(os.path.join(args.anchors, "cnn_torch.py")):
        parser.error(f"no cnn_torch.py in {args.anchors}: pass --anchors")

    torch_burst, version = torch_side(args.model, args.threads, args.anchors)
    dendrite_burst, server = dendrite_side(args.model, args.threads, args.dendrite)
    try:
        # Warm-up: allocations, first-touch pages, thread pools.
        torch_burst(10)
        time.sleep(SETTLE_SECONDS)
        dendrite_burst(10)
        time.sleep(SETTLE_SECONDS)
        print(f"# {args.model}, {args.threads} threads, bursts of {args.burst} steps; torch {version}")
        print("| round | first | PyTorch ms | Dendrite ms | PyTorch ÷ Dendrite |")
        print("|---|---|---|---|---|")
        ratios = []
        for r in range(args.rounds):
            sides = [("PyTorch", torch_burst), ("Dendrite", dendrite_burst)]
            if r % 2:
                sides.reverse()
            medians = {}
            for name, burst in sides:
                medians[name] = burst(args.burst)
                time.sleep(SETTLE_SECONDS)
            ratio = medians["PyTorch"] / medians["Dendrite"]
            ratios.append(ratio)
            print(f"| {r + 1} | {sides[0][0]} | {medians['PyTorch'] * 1e3:.2f} | {medians['Dendrite'] * 1e3:.2f} "
                  f"| {ratio:.2f} |", flush=True)
        ratios.sort()
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        print(f"PyTorch ÷ Dendrite: median {statistics.median(ratios):.2f}, quartiles {quartiles[0]:.2f}–"
              f"{quartiles[2]:.2f}, range {ratios[0]:.2f}–{ratios[-1]:.2f} over {len(ratios)} rounds")
    finally:
        server.stdin.close()
        server.wait()


if __name__ == "__main__":
    main()
