"""Small custom models for trace-export tests, reachable as `tests.workloads.custom_model:NAME`.

Each factory returns (nn.Module, example input), the contract of `sim trace export
module.path:factory`.
"""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """3-layer MLP (64 -> 128 -> 96 -> 10) with ReLU, no tokenizer, not an LLM."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 96)
        self.head = nn.Linear(96, 10, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def mlp() -> tuple[nn.Module, torch.Tensor]:
    """The MLP with seeded weights and a (2, 8, 64) input: M = 16 rows per linear."""
    torch.manual_seed(0)
    return MLP(), torch.randn(2, 8, 64)


def shared() -> tuple[nn.Module, torch.Tensor]:
    """One linear called twice with different row counts (two ops of one module)."""
    torch.manual_seed(1)
    lin = nn.Linear(32, 32)

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = lin

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x) + self.lin(x[:2]).sum(0)

    return Twice(), torch.randn(6, 32)


def no_linear() -> tuple[nn.Module, torch.Tensor]:
    return nn.ReLU(), torch.randn(3, 3)


def not_a_pair() -> nn.Module:
    return nn.Linear(4, 4)
