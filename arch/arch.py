"""`Arch`: an accelerator description that scripts can build and vary without files.

    from sim import Arch
    a = Arch.load("bitmod")                       # preset name or YAML path
    b = a.replace({"pe_array.rows": 64, "memory.dram.bandwidth_gb_s": 64})
    c = Arch.from_dict({...})                     # the fields of an arch YAML

Every Arch is validated exactly as an arch YAML is (`arch.accelerator.build_accelerator`):
a bad value raises `InputError(source, dotted.path, expectation)`. An Arch is immutable;
`replace` returns a new, validated one. `simulate()` accepts an Arch, an Accelerator or a
preset name / YAML path (`as_accelerator`).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from arch.accelerator import Accelerator, build_accelerator, load_accelerator
from common.errors import InputError

_MISSING = object()


def get_path(raw: Mapping, path: str, default: Any = _MISSING) -> Any:
    """Value at a dotted path of a nested dict (`pe_array.params.mac`)."""
    cur: Any = raw
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            if default is _MISSING:
                raise KeyError(path)
            return default
        cur = cur[part]
    return cur


def set_path(raw: dict, path: str, value: Any, source: str) -> None:
    """Set a dotted path in a nested dict in place, creating missing mappings on the way
    (the schema then decides whether the field exists)."""
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise InputError(source, path or "(empty path)", "a dotted field path like pe_array.rows")
    cur = raw
    for i, part in enumerate(parts[:-1]):
        nxt = cur.get(part)
        if nxt is None:
            nxt = cur[part] = {}
        elif not isinstance(nxt, dict):
            where = ".".join(parts[: i + 1])
            raise InputError(source, path, f"a path through mappings ({where} is a value)")
        cur = nxt
    cur[parts[-1]] = value


class Arch:
    """A validated accelerator description (the dict of arch-YAML fields + its model)."""

    __slots__ = ("_raw", "_accel", "_digest")

    def __init__(self, raw: dict, accelerator: Accelerator) -> None:
        self._raw = raw
        self._accel = accelerator
        self._digest: str | None = None

    @classmethod
    def from_dict(cls, raw: Mapping, source: str = "arch dict") -> Arch:
        data = copy.deepcopy(dict(raw)) if isinstance(raw, Mapping) else raw
        return cls(data, build_accelerator(data, source))

    @classmethod
    def load(cls, preset_or_path: str | Path) -> Arch:
        accel = load_accelerator(str(preset_or_path))
        raw = yaml.safe_load(Path(accel.source).read_text())
        return cls(raw, accel)

    @classmethod
    def of(cls, arch: Arch | Accelerator | str | Path) -> Arch:
        """Arch from an Arch, an Accelerator (its validated config) or a name/path."""
        if isinstance(arch, Arch):
            return arch
        if isinstance(arch, Accelerator):
            raw = arch.config.model_dump(mode="json")
            return cls(raw, arch)
        return cls.load(arch)

    def replace(self, changes: Mapping[str, Any], source: str | None = None) -> Arch:
        """A new Arch with the dotted-path fields in `changes` set, validated."""
        raw = copy.deepcopy(self._raw)
        src = source or f"{self.name} (replace)"
        for path, value in changes.items():
            set_path(raw, path, value, src)
        return Arch(raw, build_accelerator(raw, src))

    def get(self, path: str, default: Any = _MISSING) -> Any:
        """The value at a dotted path: as written, else the schema's default."""
        v = get_path(self._raw, path, _MISSING)
        if v is not _MISSING:
            return v
        full = self._accel.config.model_dump(mode="json")
        return get_path(full, path, default)

    def to_dict(self) -> dict:
        return copy.deepcopy(self._raw)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self._raw, sort_keys=False)

    @property
    def accelerator(self) -> Accelerator:
        return self._accel

    @property
    def name(self) -> str:
        return self._accel.name

    @property
    def digest(self) -> str:
        """Hash of the validated config (equal configs, equal digests)."""
        if self._digest is None:
            cfg = self._accel.config.model_dump_json().encode()
            self._digest = hashlib.sha1(cfg).hexdigest()[:16]
        return self._digest

    @property
    def area_mm2(self) -> float:
        return sum(self._accel.area_um2().values()) * 1e-6

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Arch) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        a = self._accel.config.pe_array
        return f"Arch({self.name!r}, {a.family} {a.rows}x{a.cols}x{a.lanes}, {self.digest})"


def as_accelerator(arch: Arch | Accelerator | str | Path) -> Accelerator:
    """What `simulate()` accepts as its arch: an Arch, an Accelerator, a preset or a path."""
    if isinstance(arch, Accelerator):
        return arch
    if isinstance(arch, Arch):
        return arch.accelerator
    return load_accelerator(str(arch))
