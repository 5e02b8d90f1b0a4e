"""`QTensor`: integer codes + per-block scales of one quantized tensor, and block layout helpers.

Layout: the quantization axis is moved last and the other axes flattened to R rows, so a
tensor is viewed as [R, K]. K is split into nb = ceil(K / g) blocks of g elements; when
K % g != 0 the last block is *partial*: it is padded with zeros to g elements for the
arithmetic and the padding is dropped afterwards. Every grouped format represents 0
exactly, so the padding changes neither the block's absmax, nor its (range-including-0)
asymmetric min/max, nor any MSE used for selection: the partial block behaves exactly as a
block of K % g elements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quant.formats import NumberFormat
from quant.olive import abfloat_format, normal_format, olive_decode, olive_encode


@dataclass(frozen=True)
class Blocks:
    """How a tensor was cut into blocks: original shape, axis, rows R, length K, group g."""

    shape: tuple[int, ...]
    axis: int
    rows: int
    k: int
    g: int

    @property
    def nb(self) -> int:
        return -(-self.k // self.g) if self.k else 0

    @property
    def lead(self) -> tuple[int, ...]:
        s = list(self.shape)
        del s[self.axis]
        return tuple(s)

    def split(self, x: np.ndarray) -> np.ndarray:
        """[.., K, ..] -> [R, nb, g] (zero padded), same dtype."""
        xm = np.moveaxis(x, self.axis, -1).reshape(self.rows, self.k)
        pad = self.nb * self.g - self.k
        if pad:
            xm = np.concatenate([xm, np.zeros((self.rows, pad), dtype=xm.dtype)], axis=1)
        return xm.reshape(self.rows, self.nb, self.g)

    def merge(self, b: np.ndarray) -> np.ndarray:
        """[R, nb, g] -> original shape (padding dropped)."""
        xm = b.reshape(self.rows, self.nb * self.g)[:, : self.k]
        return np.moveaxis(xm.reshape(*self.lead, self.k), -1, self.axis)

    def per_block(self, a: np.ndarray) -> np.ndarray:
        """[R, nb] -> lead + (nb,)."""
        return np.asarray(a).reshape(*self.lead, self.nb)


def make_blocks(x: np.ndarray, axis: int, g: int) -> Blocks:
    """Blocks of g along axis (g = 0: one block per row, i.e. per channel / per token)."""
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("cannot quantize a 0-d array")
    axis = axis % x.ndim
    k = x.shape[axis]
    rows = int(np.prod(x.shape)) // k if k else 0
    return Blocks(tuple(x.shape), axis, rows, k, g if g > 0 else max(k, 1))


@dataclass(frozen=True, eq=False)
class QTensor:
    """A quantized tensor.

    codes: integer codes, same shape as the input (see quant.formats for representation).
    scales: float32 scale per block, shape `lead + (nb,)` where lead is the input shape
        without `axis` and nb the number of blocks along it (nb = 1 per channel / token);
        per-tensor formats store shape `(1,) * ndim` (broadcastable).
    zeros: integer zero point per block (asymmetric INT: x ≈ (q − z)·s), else None.
    format_name: canonical name (quant/README.md). block_size: elements per block along
        `axis` (0 = whole row / whole tensor).
    types: selected element-format index per block (BitMoD: 0..3 = ER+, ER−, EA+, EA−; ANT
        per tensor: shape (1,)), or None when only one element format is used.
    formats: the element formats indexed by `types` (one entry when `types` is None).
    tensor_scale: second-level FP32 scale multiplying every block (NVFP4), else 1.0.
    scale_codes: stored scale bit patterns where the scale itself is a low-bit format
        (E8M0 for MX, UE4M3 for NVFP4), else None.
    olive_pairs: codes are OliVe outlier-victim pairs along `axis` (decode is pair-aware).
    """

    codes: np.ndarray
    scales: np.ndarray
    zeros: np.ndarray | None
    format_name: str
    block_size: int
    axis: int
    formats: tuple[NumberFormat, ...]
    types: np.ndarray | None = None
    tensor_scale: float = 1.0
    scale_codes: np.ndarray | None = None
    olive_pairs: bool = False

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.codes.shape)

    def element_values(self) -> np.ndarray:
        """Element values before scaling (float32, same shape as codes)."""
        if self.olive_pairs:
            return olive_decode(self.codes, self.formats[0], self.axis)
        if self.types is None or len(self.formats) == 1:
            return self.formats[0].decode(self.codes)
        b = make_blocks(self.codes, self.axis, self.block_size)
        idx = b.split(self.formats[0].index(self.codes))
        tables = np.stack([f.table.astype(np.float32) for f in self.formats])
        types = np.broadcast_to(self.types, (*b.lead, b.nb)).reshape(b.rows, b.nb, 1)
        return b.merge(tables[types, idx])

    def dequantize(self) -> np.ndarray:
        """Reconstructed values, float32, same shape as the input."""
        vals = self.element_values()
        if self.scales.size == 1 and self.zeros is None:
            s = np.float32(self.scales.reshape(()) * np.float32(self.tensor_scale))
            return (vals * s).astype(np.float32)
        b = make_blocks(vals, self.axis, self.block_size)
        v = b.split(vals)
        s = np.broadcast_to(self.scales, (*b.lead, b.nb)).reshape(b.rows, b.nb, 1)
        if self.zeros is not None:
            z = np.broadcast_to(self.zeros, (*b.lead, b.nb)).reshape(b.rows, b.nb, 1)
            v = v - z.astype(np.float32)
        out = v * s.astype(np.float32)
        if self.tensor_scale != 1.0:
            out = out * np.float32(self.tensor_scale)
        return b.merge(out).astype(np.float32)


def quantize_olive(x: np.ndarray, name: str, axis: int = -1):
    """`olive-int4` / `olive-flint4` (see module docstring)."""
    x = np.asarray(x, dtype=np.float32)
    if np.isnan(x).any():
        raise ValueError("cannot quantize an array containing NaN")
    normal = normal_format(name.split("-")[1])
    xm = np.moveaxis(x, axis, -1)
    mu = xm.mean(axis=-1, keepdims=True, dtype=np.float64)
    sd = xm.std(axis=-1, keepdims=True, dtype=np.float64)
    alpha = np.minimum(
        np.abs(xm).max(axis=-1, keepdims=True), np.maximum(np.abs(mu + 3 * sd), np.abs(mu - 3 * sd))
    )
    s = (alpha / normal.max_abs).astype(np.float32)
    safe = np.where(s > 0, s, np.float32(1))
    codes = olive_encode(np.where(s > 0, xm / safe, 0).astype(np.float32), normal)
    return QTensor(
        np.moveaxis(codes, -1, axis),
        s,
        None,
        name,
        0,
        axis % x.ndim,
        (normal, abfloat_format()),
        olive_pairs=True,
    )
