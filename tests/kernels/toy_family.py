"""A toy PE family living outside arch/: a weight-stationary systolic array (timing, energy
and area of arch.systolic_mac, INT8 MAC units) whose PEs multiply in sign-magnitude form
(|a|·|w| with the sign of a·w). It declares its own functional kernel and harness, so
`sim verify` runs it with no file of the project touched (tests/kernels/
test_verify_presets.py registers it in arch.families.FAMILIES for the test only)."""

from __future__ import annotations

import numpy as np

from arch.systolic_mac import SystolicMAC

KERNEL = "tests.kernels.toy_family:signmag_partials"
HARNESS = "tests.kernels.toy_family:harness"


def signmag_partials(a_codes, w_codes, group_size: int = 0) -> np.ndarray:
    """Exact int64 [M, N, G]: Σ_k sign(a·w)·(|a|·|w|) per group of K (sign-magnitude PEs)."""
    a = np.asarray(a_codes).astype(np.int64)
    w = np.asarray(w_codes).astype(np.int64)
    k = a.shape[1]
    gs = k if group_size <= 0 else group_size
    mag = np.abs(a)[:, None, :] * np.abs(w)[None, :, :]
    prod = np.sign(a)[:, None, :] * np.sign(w)[None, :, :] * mag
    pad = -k % gs
    prod = np.pad(prod, ((0, 0), (0, 0), (0, pad)))
    return prod.reshape(a.shape[0], w.shape[0], -1, gs).sum(-1)


def broken_partials(a_codes, w_codes, group_size: int = 0) -> np.ndarray:
    """A wrong PE: drops the sign of negative weights (must fail verification)."""
    return signmag_partials(a_codes, np.abs(np.asarray(w_codes)), group_size)


def harness(kernel: str, wq: str, aq: str):
    from kernels.cases import Case, dequantized_result, int_inputs

    fn = {KERNEL: signmag_partials, "tests.kernels.toy_family:broken_partials": broken_partials}[
        kernel
    ]

    def run(inp):
        return dequantized_result(fn(inp["ref_a"], inp["w_codes"], int(inp["gs"])), 0, inp)

    return Case(kernel, wq, aq, "int", int_inputs(wq, aq), run)


class ToySignMagnitude(SystolicMAC):
    """Systolic timing (inherited); sign-magnitude INT8 PEs (declared below)."""

    family = "toy_signmag"
    kernel = KERNEL

    def verification(self) -> tuple:
        from kernels.spec import VerifySpec

        formats = (("int8", "int8"), ("int4-g128", "int8"))
        return (VerifySpec(self.kernel, formats, harness=HARNESS),)


class ToyBroken(ToySignMagnitude):
    family = "toy_broken"
    kernel = "tests.kernels.toy_family:broken_partials"
