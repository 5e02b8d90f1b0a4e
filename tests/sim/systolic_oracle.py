"""Slow, obviously-correct per-cycle stepping models of a weight-stationary (`run`) and an
input-stationary (`run_is`, below) systolic array (lanes = 1).
Test-only: the oracles the engine's closed forms are checked against.

Each PE (r, c) has weight banks, an activation register and a partial-sum register.
Every cycle: activations move one column right, partial sums one row down, each PE adds
a*w to the partial sum arriving from above, and the bottom row emits finished outputs.
Weights enter from the top, one row per cycle per column (a shift chain).

Double-buffered: two banks; fold f+1's weights start shifting into the free bank of
column c at cycle start(f) + c (column-skewed), and an activation carries its fold number
so a PE multiplies it by that fold's bank. A fold starts injecting once the previous fold
has injected all its rows and its own weights reached row 0 of column 0 (all rows
loaded), i.e. its loading started R cycles earlier. Single-buffered: one bank; a fold's
weights load only after the previous fold's last output has left the array.
The model also computes the product, so a bank overwritten too early shows up as a
wrong result (checked in the tests).
"""

from __future__ import annotations

import numpy as np


def run(A: np.ndarray, W: np.ndarray, R: int, C: int, double_buffer: bool):
    """Multiply A (m x K) by W (K x N) on an R x C WS array; returns (cycles, result)."""
    m, K = A.shape
    N = W.shape[1]
    folds = [(kb, nb) for nb in range(0, N, C) for kb in range(0, K, R)]
    nbanks = 2 if double_buffer else 1
    bank_w = np.zeros((nbanks, R, C))
    shift = np.zeros((nbanks, R, C))  # weights in flight down the shift chain
    a_reg = [[None] * C for _ in range(R)]  # (value, fold, row i)
    p_reg = [[None] * C for _ in range(R)]  # (psum, fold, row i)
    out = np.zeros((m, N))
    remaining = m * sum(min(C, N - nb) for _, nb in folds)
    load = {}  # fold -> cycle its loading starts (column 0)
    start = {}  # fold -> cycle its first row enters PE (0, 0)
    done_at = {}  # fold -> cycle its last output left
    outputs_left = {f: m * min(C, N - folds[f][1]) for f in range(len(folds))}
    load[0] = 0
    t = 0
    while remaining:
        # -- decide fold starts and loads for this cycle
        f = max(start) + 1 if start else 0
        if f < len(folds) and f in load and t >= load[f] + R:
            prev_ok = f == 0 or t >= start[f - 1] + m
            if prev_ok:
                start[f] = t
                if double_buffer and f + 1 < len(folds):
                    load[f + 1] = t
        if not double_buffer:
            g = len(load)
            if g < len(folds) and g - 1 in done_at:
                load[g] = t
        # -- weight shift chains (column c of fold g loads during [load+c*db, +R))
        for g, t0 in load.items():
            b = g % nbanks
            kb, nb = folds[g]
            for c in range(C):
                s = t - t0 - (c if double_buffer else 0)
                if 0 <= s < R:
                    shift[b, 1:, c] = shift[b, :-1, c].copy()
                    row = R - 1 - s  # bottom row's weight enters first
                    k, n = kb + row, nb + c
                    shift[b, 0, c] = W[k, n] if k < K and n < N else 0.0
                    if s == R - 1:
                        bank_w[b, :, c] = shift[b, :, c]
        # -- activations: shift right, inject skewed at column 0
        new_a = [[None] * C for _ in range(R)]
        for r in range(R):
            for c in range(C - 1, 0, -1):
                new_a[r][c] = a_reg[r][c - 1]
            new_a[r][0] = None
            for g, s0 in start.items():
                i = t - s0 - r
                kb, _ = folds[g]
                if 0 <= i < m:
                    k = kb + r
                    new_a[r][0] = (A[i, k] if k < K else 0.0, g, i)
        a_reg = new_a
        # -- MACs and partial sums moving down
        new_p = [[None] * C for _ in range(R)]
        for r in range(R):
            for c in range(C):
                a = a_reg[r][c]
                if a is None:
                    continue
                val, g, i = a
                above = 0.0 if r == 0 else p_reg[r - 1][c][0]
                new_p[r][c] = (above + val * bank_w[g % nbanks, r, c], g, i)
        p_reg = new_p
        # -- outputs leave the bottom row
        for c in range(C):
            p = p_reg[R - 1][c]
            if p is None:
                continue
            val, g, i = p
            kb, nb = folds[g]
            if nb + c < N:
                out[i, nb + c] += val
                remaining -= 1
                outputs_left[g] -= 1
                if outputs_left[g] == 0:
                    done_at[g] = t
        t += 1
    return t, out


def run_is(A: np.ndarray, W: np.ndarray, R: int, C: int, double_buffer: bool):
    """Multiply A (m x K) by W (K x N) on an R x C input-stationary array; returns
    (cycles, result).

    PE (r, c) of fold (kb, mb) holds input A[mb + c, kb + r] (the stationary operand,
    loaded over a one-row-per-cycle shift chain from the top, bottom row first). Column j
    of W streams in from the left, skewed: W[kb + r, j] enters PE row r at cycle
    start + j + r and moves one column right per cycle; partial sums move one row down;
    the bottom of column c emits output (mb + c, j). Folds: m-block outer, k-block inner.
    Double-buffered: fold f+1's inputs shift into the free bank of column c from cycle
    start(f) + c (column-skewed), and a streamed weight carries its fold number so a PE
    multiplies it by that fold's bank; a fold starts once the previous one has streamed
    all N columns and its own inputs are loaded. Single-buffered: a fold's inputs load
    only after the previous fold's last output has left.
    """
    m, K = A.shape
    N = W.shape[1]
    folds = [(kb, mb) for mb in range(0, m, C) for kb in range(0, K, R)]
    nbanks = 2 if double_buffer else 1
    bank_x = np.zeros((nbanks, R, C))  # stationary inputs
    shift = np.zeros((nbanks, R, C))  # inputs in flight down the shift chain
    w_reg = [[None] * C for _ in range(R)]  # (value, fold, column j)
    p_reg = [[None] * C for _ in range(R)]  # (psum, fold, column j)
    out = np.zeros((m, N))
    remaining = N * sum(min(C, m - mb) for _, mb in folds)
    outputs_left = {f: N * min(C, m - folds[f][1]) for f in range(len(folds))}
    load, start, done_at = {0: 0}, {}, {}
    t = 0
    while remaining:
        f = max(start) + 1 if start else 0
        if f < len(folds) and f in load and t >= load[f] + R:
            if f == 0 or t >= start[f - 1] + N:
                start[f] = t
                if double_buffer and f + 1 < len(folds):
                    load[f + 1] = t
        if not double_buffer:
            g = len(load)
            if g < len(folds) and g - 1 in done_at:
                load[g] = t
        # -- input shift chains: column c of fold g loads during [load + c*db, + R)
        for g, t0 in load.items():
            b = g % nbanks
            kb, mb = folds[g]
            for c in range(C):
                s = t - t0 - (c if double_buffer else 0)
                if 0 <= s < R:
                    shift[b, 1:, c] = shift[b, :-1, c].copy()
                    row = R - 1 - s
                    k, i = kb + row, mb + c
                    shift[b, 0, c] = A[i, k] if k < K and i < m else 0.0
                    if s == R - 1:
                        bank_x[b, :, c] = shift[b, :, c]
        # -- weights: shift right, inject skewed at column 0
        new_w = [[None] * C for _ in range(R)]
        for r in range(R):
            for c in range(C - 1, 0, -1):
                new_w[r][c] = w_reg[r][c - 1]
            for g, s0 in start.items():
                j = t - s0 - r
                if 0 <= j < N:
                    k = folds[g][0] + r
                    new_w[r][0] = (W[k, j] if k < K else 0.0, g, j)
        w_reg = new_w
        # -- MACs and partial sums moving down
        new_p = [[None] * C for _ in range(R)]
        for r in range(R):
            for c in range(C):
                w = w_reg[r][c]
                if w is None:
                    continue
                val, g, j = w
                above = 0.0 if r == 0 else p_reg[r - 1][c][0]
                new_p[r][c] = (above + val * bank_x[g % nbanks, r, c], g, j)
        p_reg = new_p
        # -- outputs leave the bottom row
        for c in range(C):
            p = p_reg[R - 1][c]
            if p is None:
                continue
            val, g, j = p
            i = folds[g][1] + c
            if i < m:
                out[i, j] += val
                remaining -= 1
                outputs_left[g] -= 1
                if outputs_left[g] == 0:
                    done_at[g] = t
        t += 1
    return t, out
