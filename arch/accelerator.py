"""Load an arch YAML (path or preset name) into an `Accelerator`: the validated config,
its PE-family model and its technology table. Every error is an InputError naming the
file and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from arch.families import FAMILIES, family_class
from arch.pe import PEModel
from arch.schema import ArchConfig
from arch.tech import TechTable, tech_table
from common.errors import InputError

PRESETS_DIR = Path(__file__).with_name("presets")


@dataclass(frozen=True)
class Accelerator:
    config: ArchConfig
    pe: PEModel
    tech: TechTable
    source: str  # file it came from

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def frequency_hz(self) -> float:
        return self.config.frequency_mhz * 1e6

    @property
    def dram_bytes_per_cycle(self) -> float:
        d = self.config.memory.dram
        return d.bandwidth_gb_s * 1e9 * d.efficiency / self.frequency_hz

    @property
    def dram_latency_cycles(self) -> float:
        return self.config.memory.dram.latency_ns * 1e-9 * self.frequency_hz

    def buffer_access_pj(self, which: str) -> float:
        """Energy of one access of `width_bits` to buffer `which` (pJ)."""
        b = getattr(self.config.memory.buffers, which)
        if b.energy_pj_per_access is not None:
            return b.energy_pj_per_access
        return self.tech.sram_access_pj(b.size_bytes, b.banks, b.width_bits)

    def area_um2(self) -> dict[str, float]:
        """Area by component: PE array parts, each buffer, vector unit (um^2)."""
        area = {f"pe.{k}": v for k, v in self.pe.area_um2().items()}
        for which in ("weight", "input", "output"):
            b = getattr(self.config.memory.buffers, which)
            area[f"sram.{which}"] = self.tech.sram_area_um2(b.size_bytes, b.banks)
        area["vector_unit"] = self.config.vector_unit.area_um2
        return area


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def resolve_arch_path(arch: str) -> Path:
    p = Path(arch)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise InputError(arch, "file", "an existing arch YAML file")
        return p
    preset = PRESETS_DIR / f"{arch}.yaml"
    if preset.is_file():
        return preset
    raise InputError(arch, "arch", "a YAML path or a preset name: " + ", ".join(preset_names()))


def _loc(err: dict) -> str:
    return ".".join(str(x) for x in err["loc"]) or "(top level)"


def load_accelerator(arch: str) -> Accelerator:
    """Read, validate and build. `arch` is a YAML path or a preset name."""
    path = resolve_arch_path(arch)
    src = str(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "document"
        raise InputError(src, where, f"well-formed YAML ({getattr(e, 'problem', e)})") from None
    return build_accelerator(raw, src)


def build_accelerator(raw: object, source: str) -> Accelerator:
    """Validate a dict of arch fields (the parsed YAML) and build; errors name `source`."""
    src = source
    if not isinstance(raw, dict):
        raise InputError(src, "(top level)", "a mapping of arch fields")
    try:
        cfg = ArchConfig.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(src, _loc(err), _expectation(err)) from None
    fam = cfg.pe_array.family
    if fam not in FAMILIES:
        raise InputError(src, "pe_array.family", "one of " + ", ".join(sorted(FAMILIES)))
    cls = family_class(fam)
    try:
        params = cls.Params.model_validate(cfg.pe_array.params)
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(src, "pe_array.params." + _loc(err), _expectation(err)) from None
    tech = tech_table(cfg.technology_nm)
    try:
        pe = cls(cfg, params, tech)
    except ValueError as e:
        raise InputError(src, "pe_array", str(e)) from None
    return Accelerator(cfg, pe, tech, src)


def _expectation(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return "a known field (this one is not part of the schema; see arch/README.md)"
    if err["type"] == "missing":
        return "a value (required field is missing)"
    return f"{err['msg']} (got {err.get('input')!r})"
