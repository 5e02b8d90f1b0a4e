"""Load an arch YAML (path or preset name) into an `Accelerator`: the validated config,
its PE-family model and its technology table. Every error is an InputError naming the
file and the field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from arch.families import FAMILIES, family_class
from arch.pe import PEModel
from arch.schema import ArchConfig
from arch.tech import TechTable, tech_table
from common.errors import InputError, close_names, model_fields_at

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
    def dram_sustained_bytes_per_cycle(self) -> float:
        """Bandwidth a stream of requests sustains: the peak, or Little's law when too few
        bytes fly to cover the latency: outstanding_requests x request_bytes / latency."""
        d = self.config.memory.dram
        lat = self.dram_latency_cycles
        if lat <= 0 or d.outstanding_requests is None:
            return self.dram_bytes_per_cycle
        return min(self.dram_bytes_per_cycle, d.outstanding_requests * d.request_bytes / lat)

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
    """A preset name or an existing arch YAML file (never a FIFO, device or directory)."""
    from common.inputs import is_file, path_exists, short

    text = str(arch)
    p = Path(text)
    if not text.strip():
        raise InputError("ARCH", "(empty)", "a YAML path or a preset name")
    if p.suffix in (".yaml", ".yml") or path_exists(p):
        if not is_file(p):
            what = "not found" if not path_exists(p) else "not a regular file"
            raise InputError(short(text), "file", f"an existing arch YAML file ({what})")
        return p
    if "/" not in text and len(text) <= 100:
        preset = PRESETS_DIR / f"{text}.yaml"
        if preset.is_file():
            return preset
    names = preset_names()
    near = close_names(text, names, n=3)
    hint = f" (did you mean {', '.join(near)}?)" if near else ""
    raise InputError(
        short(text),
        "arch",
        f"a YAML path or a preset name{hint}; `sim list presets` lists the {len(names)} presets",
    )


def _loc(err: dict) -> str:
    return ".".join(str(x) for x in err["loc"]) or "(top level)"


def load_accelerator(arch: str) -> Accelerator:
    """Read, validate and build. `arch` is a YAML path or a preset name. The YAML is read
    with the limits of `common.inputs` (16 MiB, no aliases, no duplicate keys, finite
    numbers up to 2**53, nesting up to 64)."""
    from common.inputs import load_yaml_file

    path = resolve_arch_path(arch)
    src = str(path)
    raw = load_yaml_file(path, src)
    return build_accelerator(raw, src)


def build_accelerator(raw: object, source: str) -> Accelerator:
    """Validate a dict of arch fields (the parsed YAML) and build; errors name `source`."""
    src = source
    if not isinstance(raw, dict):
        raise InputError(src, "(top level)", "a mapping of arch fields")
    try:
        cfg = ArchConfig.model_validate(raw)
    except ValidationError as e:
        err = _first_error(e, ArchConfig)
        raise InputError(src, _loc(err), _expectation(err)) from None
    fam = cfg.pe_array.family
    if fam not in FAMILIES:
        raise InputError(src, "pe_array.family", "one of " + ", ".join(sorted(FAMILIES)))
    cls = family_class(fam)
    try:
        params = cls.Params.model_validate(cfg.pe_array.params)
    except ValidationError as e:
        err = _first_error(e, cls.Params)
        raise InputError(src, "pe_array.params." + _loc(err), _expectation(err)) from None
    tech = tech_table(cfg.technology_nm)
    try:
        pe = cls(cfg, params, tech)
    except ValueError as e:
        raise InputError(src, "pe_array", str(e)) from None
    return Accelerator(cfg, pe, tech, src)


def _expectation(err: dict) -> str:
    """What pydantic's first error expected, in words; user values quoted at most 80 chars.
    An unknown key next to a missing one is reported as the unknown key with the closest
    known names (a typo like `bandwith_gb_s`), see `_first_error`."""
    from common.inputs import quote

    if err["type"] == "extra_forbidden":
        near = err.get("ctx", {}).get("suggest")
        if near:
            return f"a known field (did you mean {' or '.join(near)}?)"
        return "a known field (this one is not part of the schema; see arch/README.md)"
    if err["type"] == "missing":
        return "a value (required field is missing)"
    return f"{err['msg']} (got {quote(err.get('input'))})"


def _first_error(e, model=None) -> dict:
    """The error to report: an unknown key (with close known names from `model`'s fields
    at that place) before any missing field, so a misspelled key is named as itself."""
    errs = e.errors()
    extra = [x for x in errs if x["type"] == "extra_forbidden"]
    if not extra:
        return errs[0]
    err = dict(extra[0])
    known = model_fields_at(model, err["loc"][:-1]) if model is not None else []
    near = close_names(err["loc"][-1], known)
    if near:
        err["ctx"] = {**err.get("ctx", {}), "suggest": near}
    return err
