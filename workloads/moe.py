"""Mixture-of-experts routing: how many tokens each expert gets, and the MoE ops of a layer.

Routing model. A token's router picks `top_k` distinct experts out of E. Let pi_i be the
probability that expert i is among one token's picks (sum_i pi_i = top_k). Tokens are
routed independently, so over a batch of T tokens

    expected tokens routed to expert i   = T * pi_i
    P(expert i gets at least one token)  = 1 - (1 - pi_i)^T
    expected distinct experts (union)    U = sum_i [1 - (1 - pi_i)^T]

Balanced routing (the default) is pi_i = top_k / E for every expert (a load-balanced router
in expectation; Mixtral, DeepSeek and Qwen train with load-balancing losses for exactly
this), which gives the closed form

    U = E * (1 - (1 - top_k/E)^T)

(derivation: one token misses expert i with probability 1 - k/E, since it picks k of the E
experts uniformly without replacement; T independent tokens all miss it with probability
(1 - k/E)^T; sum the complement over the E experts). U = top_k at T = 1 and tends to E as
T grows: decode at batch B streams the weights of U(B) experts per MoE layer, so
tokens/s rises almost linearly with B while U(B) ~ B*k, and the knee comes where U(B)
saturates at E (every expert's weights are read once per step whatever B is).

Skewed routing: `Routing(zipf=s)` gives expert popularity p_i proportional to i^-s (Zipf,
s = 0 is balanced). Inclusion probabilities are pi_i = min(1, c * p_i) with c chosen so that
sum pi_i = top_k (an expert cannot be picked twice by one token). Measured routing:
`Routing(counts=...)` uses per-layer histograms recorded in a trace (tokens per expert).

Integer histograms. Ops need integer M, so `expert_histogram(T, ...)` returns tokens per
expert that (a) sum exactly to T * top_k, (b) use u = round(U) experts (at least
ceil(T*k/T)=k, at most min(E, T*k)), the u most popular ones, and (c) split the T*k
assignments among them in proportion to pi_i by largest remainders, at least one each.
For balanced routing this is the even split: (T*k mod u) experts get one token more.

Expert parallelism (experts spread over several chips, all-to-all dispatch) is out of
scope; `Routing.experts_per_device` is the seam where it will plug in (default: all
experts on this device; any other value is refused).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from common.errors import InputError
from workloads.ops import Op
from workloads.zoo import ModelShape, MoEShape


@dataclass(frozen=True)
class Routing:
    """How tokens spread over experts. `zipf`: Zipf exponent of expert popularity (0:
    balanced). `counts`: measured tokens per expert, keyed by (phase, step) with one
    histogram per MoE layer (from a trace); overrides `zipf` where present.
    `experts_per_device`: expert-parallelism seam (None = all experts here)."""

    zipf: float = 0.0
    counts: tuple[tuple[tuple[str, int], tuple[tuple[int, ...], ...]], ...] = ()
    experts_per_device: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.zipf) and self.zipf >= 0):
            raise InputError("argument", "moe zipf", f"a finite number >= 0 (got {self.zipf})")

    def measured(self, phase: str, step: int) -> tuple[tuple[int, ...], ...] | None:
        for key, hists in self.counts:
            if key == (phase, step):
                return hists
        return None


BALANCED = Routing()


def inclusion_probs(experts: int, top_k: int, zipf: float = 0.0) -> np.ndarray:
    """pi_i, the probability that expert i (0 = most popular) is among one token's top_k
    picks: min(1, c * i^-zipf) with sum pi = top_k (module docstring)."""
    p = np.arange(1, experts + 1, dtype=float) ** -zipf
    p /= p.sum()
    pi = np.minimum(1.0, top_k * p)
    for _ in range(experts):  # water-filling: raise the uncapped ones until the sum is k
        free = pi < 1.0
        short = top_k - pi.sum()
        if short <= 1e-12 or not free.any():
            break
        pi[free] = np.minimum(1.0, pi[free] * (1 + short / pi[free].sum()))
    return pi


def expected_union(tokens: int, experts: int, top_k: int, zipf: float = 0.0) -> float:
    """Expected number of distinct experts used by `tokens` independently routed tokens:
    sum_i 1 - (1 - pi_i)^tokens; E*(1 - (1 - k/E)^T) when balanced."""
    if zipf == 0.0:
        return experts * (1.0 - (1.0 - top_k / experts) ** tokens)
    pi = inclusion_probs(experts, top_k, zipf)
    return float(np.sum(1.0 - (1.0 - pi) ** tokens))


def expert_histogram(tokens: int, experts: int, top_k: int, zipf: float = 0.0) -> list[int]:
    """Integer tokens per expert (length E, most popular first, zeros for unused experts)
    with the expected union and exact total tokens*top_k (module docstring)."""
    total = tokens * top_k
    u = round(expected_union(tokens, experts, top_k, zipf))
    u = max(min(u, experts, total), top_k)
    pi = inclusion_probs(experts, top_k, zipf)[:u]
    share = pi / pi.sum() * (total - u)  # one token each, the rest in proportion to pi
    base = np.floor(share).astype(int)
    rest = total - u - int(base.sum())
    order = np.argsort(-(share - base), kind="stable")[:rest]
    base[order] += 1
    return [int(b) + 1 for b in base] + [0] * (experts - u)


def layer_histograms(
    shape: ModelShape, tokens: int, routing: Routing, phase: str, step: int
) -> list[tuple[int, ...]]:
    """Tokens per expert of each MoE layer: measured where the routing has them for this
    (phase, step), else the synthetic histogram (the same for every layer)."""
    moe = shape.moe
    assert moe is not None
    if routing.experts_per_device not in (None, moe.experts):
        raise InputError(
            "argument",
            "experts_per_device",
            f"None or {moe.experts} (expert parallelism across devices is not modelled yet)",
        )
    hists = routing.measured(phase, step)
    if hists is not None:
        if len(hists) != shape.moe_layers or any(
            len(h) != moe.experts or sum(h) != tokens * moe.top_k for h in hists
        ):
            raise InputError(
                "routing",
                f"counts[{phase} {step}]",
                f"{shape.moe_layers} histograms of {moe.experts} experts summing to "
                f"{tokens} tokens x top_k {moe.top_k}",
            )
        return [tuple(h) for h in hists]
    h = tuple(expert_histogram(tokens, moe.experts, moe.top_k, routing.zipf))
    return [h] * shape.moe_layers


def moe_ops(
    shape: ModelShape,
    phase: str,
    tokens: int,
    wq: str,
    aq: str,
    hists: Sequence[Sequence[int]],
) -> list[Op]:
    """The MoE MLP of all MoE layers for `tokens` tokens, `hists[l]` tokens per expert.

    router (linear H x E, M = tokens) -> router_topk (softmax-class vector op over the E
    logits: scoring, top-k selection and weight normalization) -> per distinct expert load
    m: expert_gate_proj / expert_up_proj (M = m, K = H, N = I_e), expert_down_proj
    (M = m, K = I_e, N = H), count = experts with that load summed over layers -> act and
    gate_mul over all routed rows -> expert_combine (weighted sum of the top_k outputs,
    eltwise over tokens*top_k*H) -> the shared expert (M = tokens) and its gate. Experts
    that get no token are not run and their weights are not read. Expert weights use `wq`.
    """
    moe: MoEShape = shape.moe  # type: ignore[assignment]
    H, Ie, L = shape.hidden, moe.expert_intermediate, shape.moe_layers
    loads = Counter(m for h in hists for m in h if m > 0)
    routed = sum(sum(h) for h in hists) // max(len(hists), 1)  # rows per layer = tokens * k

    def lin(name: str, m: int, k: int, n: int, count: int) -> Op:
        return Op(name, "linear", phase, M=m, K=k, N=n, count=count, bq=wq, aq=aq)

    def vec(name: str, kind: str, elements: int) -> Op:
        return Op(name, kind, phase, elements=elements, count=L, bq=aq, aq=aq)

    ops = [
        lin("router", tokens, H, moe.experts, L),
        vec("router_topk", "softmax", tokens * moe.experts),
    ]
    ordered = sorted(loads.items(), reverse=True)
    ops += [lin("expert_gate_proj", m, H, Ie, c) for m, c in ordered]
    ops += [lin("expert_up_proj", m, H, Ie, c) for m, c in ordered]
    ops += [vec("expert_act", "act", routed * Ie), vec("expert_gate_mul", "eltwise", routed * Ie)]
    ops += [lin("expert_down_proj", m, Ie, H, c) for m, c in ordered]
    ops.append(vec("expert_combine", "eltwise", routed * H))
    if moe.shared_intermediate:
        Is = moe.shared_intermediate
        ops += [
            lin("shared_gate_proj", tokens, H, Is, L),
            lin("shared_up_proj", tokens, H, Is, L),
            vec("shared_act", "act", tokens * Is),
            vec("shared_gate_mul", "eltwise", tokens * Is),
            lin("shared_down_proj", tokens, Is, H, L),
        ]
        if moe.shared_gate:
            ops.append(lin("shared_expert_gate", tokens, H, 1, L))
        ops.append(vec("shared_add", "eltwise", tokens * H))
    return ops
