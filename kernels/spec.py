"""What `sim verify` runs for one PE datapath: the declaration each PE family returns from
its `verification()` method (arch/<family>.py).

Plain data with no heavy imports, so arch/ can build it without loading numba: the kernel
and its harness are named as "module:function" strings and imported only when run.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Harness that knows the calling convention of every kernel under kernels/.
DEFAULT_HARNESS = "kernels.cases:harness"


@dataclass(frozen=True)
class VerifySpec:
    """One functional kernel and the operand formats it is checked on.

    kernel: "module:function" of the kernel modelling the datapath's arithmetic, e.g.
        "kernels.decoders:ant_partials".
    formats: (weight format, activation format) names, one verification case each.
    harness: "module:function" `(kernel, wq, aq) -> kernels.cases.Case` that makes the
        inputs, calls the kernel and says how its result is checked; the default covers
        the kernels under kernels/, a family defined elsewhere names its own.
    """

    kernel: str
    formats: tuple[tuple[str, str], ...]
    harness: str = DEFAULT_HARNESS
