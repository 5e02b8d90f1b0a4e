"""Progress bars and third-party chatter, decided once per process by the CLI.

`progress(iterable, desc)` wraps tqdm writing to stderr; it is off when stderr is not a
terminal or when the user asked for quiet (`sim --quiet ...`). `quiet_third_party()`
silences transformers / huggingface_hub progress bars, logging and Python warnings unless
`sim --verbose` was given.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_state = {"quiet": False, "verbose": False}


def configure(quiet: bool = False, verbose: bool = False) -> None:
    _state["quiet"] = quiet
    _state["verbose"] = verbose
    if not verbose:
        quiet_third_party()


def enabled() -> bool:
    """True when a progress bar may be drawn: stderr is a terminal and not --quiet."""
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and not _state["quiet"]


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    if not enabled():
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc=desc, total=total, file=sys.stderr, leave=False)


def quiet_third_party() -> None:
    """transformers / huggingface_hub: no progress bars, no advisory warnings, errors only."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("transformers", "huggingface_hub", "accelerate", "gguf", "torch", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for mod in ("transformers", "huggingface_hub", "accelerate", "torch", "gguf"):
        warnings.filterwarnings("ignore", module=mod)
