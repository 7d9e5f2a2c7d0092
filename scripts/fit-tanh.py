#!/usr/bin/env python3
"""Fits the rational tanh of the kernels: tanh x ~ x P(x^2) / Q(x^2), P and Q of degree 4, Q(0) = 1,
for the least maximum relative error on 0 < x <= 8 (CKernels/activation.c, SwiftKernels/Math.swift).

Linearised least squares (x P - tanh x Q = 0, scaled by 1 / (tanh x Q) of the previous step) with
Lawson's reweighting towards the minimax solution. Prints the coefficients as float literals and
the fit's maximum relative error. Needs numpy. Usage: scripts/fit-tanh.py
"""
import numpy as np

DEGREE = 4
X_MAX = 8.0
STEPS = 200

x = np.concatenate([np.linspace(1e-6, 1.0, 20000), np.linspace(1.0, X_MAX, 40000)])
t = np.tanh(x)
s = x * x
columns = [x * s**i for i in range(DEGREE + 1)] + [-t * s**j for j in range(1, DEGREE + 1)]
basis = np.stack(columns, axis=1)

weights = np.ones_like(x)
q_values = np.ones_like(x)
best = None
for _ in range(STEPS):
    scale = weights / (t * q_values)
    c, *_ = np.linalg.lstsq(basis * scale[:, None], t * scale, rcond=None)
    p, q = c[: DEGREE + 1], np.concatenate([[1.0], c[DEGREE + 1 :]])
    q_values = np.polyval(q[::-1], s)
    error = np.abs(x * np.polyval(p[::-1], s) / q_values - t) / t
    if best is None or error.max() < best[0]:
        best = (error.max(), p, q)
    weights = weights * np.sqrt(error / error.max()) + 1e-12
    weights /= weights.max()

worst, p, q = best
print(f"max relative error of the fit on (0, {X_MAX}]: {worst:.3g}")
print("P, by powers of x^2 from 0 to 4:", ", ".join(f"{np.float32(a):.9e}f" for a in p))
print("Q, by powers of x^2 from 0 to 4:", ", ".join(f"{np.float32(a):.9e}f" for a in q))
