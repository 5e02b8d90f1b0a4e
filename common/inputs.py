"""Safe readers for user input files: size caps, strict decoding, a hardened YAML loader and
a strict JSON loader, and a cap on what an error message quotes.

Every problem raises `InputError(source, field, expectation)` (one line, never a traceback).

Limits (issue 12; each is far above any legitimate input and far below what can hurt):
- `MAX_INPUT_BYTES` = 16 MiB for a YAML, JSON or CSV file, checked with `stat` before
  reading and again while reading (a file that grows, or a /proc file that reports size 0).
  The largest legitimate inputs are trace.json files (a few MB for a 30-layer model with
  per-layer statistics); arch YAML and config.json are a few KB.
- YAML: no anchors/aliases at all (`&x` / `*x`). Arch and sweep files never need them,
  and aliases are the "billion laughs" vector (a 1 KB file expanding to gigabytes); a
  small budget would still allow an exponential DAG to reach pydantic, so the budget is 0.
  Nesting depth <= `MAX_DEPTH` (64) and at most `MAX_NODES` (200 000) YAML events; no
  duplicate keys; every number finite with magnitude <= `MAX_NUMBER` (2**53, the largest
  integer float64 holds exactly; no physical quantity in an arch or config file comes near
  it); integers of more than 20 digits are rejected before Python converts them.
- JSON: the same number rules (NaN/Infinity/1e400 rejected, >20-digit integers rejected),
  no duplicate keys, nesting depth <= `MAX_DEPTH`.
- Error messages quote at most `MAX_QUOTE` (80) characters of any user value (`quote`).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from common.errors import InputError

MAX_INPUT_BYTES = 16 << 20
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_NUMBER = 2**53
MAX_INT_DIGITS = 20
MAX_QUOTE = 80


def quote(value: Any, limit: int = MAX_QUOTE) -> str:
    """`repr(value)` cut to `limit` characters (with the full length noted). Never builds
    the repr of a huge container: containers are described by type and length."""
    if isinstance(value, (dict, list, tuple, set)):
        text = f"a {type(value).__name__} of {len(value)} items"
        return text if len(text) <= limit else text[:limit]
    if isinstance(value, str) and len(value) > 4 * limit:
        value = value[: 4 * limit]  # repr of a cut string; the length is said below
        cut = True
    else:
        cut = False
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    r = repr(value)
    if len(r) > limit or cut:
        return r[: limit - 1] + "…"
    return r


MAX_PATH_QUOTE = 512  # a file path is named whole unless absurdly long


def short(text: str, limit: int = MAX_PATH_QUOTE) -> str:
    """A path or name cut to `limit` characters for an error message (a user needs the
    whole path of the file that is wrong; only absurd lengths are cut)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_bytes(
    path: str | os.PathLike, source: str | None = None, limit: int = MAX_INPUT_BYTES
) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (FIFOs, devices and directories
    are refused without opening them, so nothing blocks)."""
    src = short(source or str(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(src, "file", "an existing file (not found)") from None
    except (OSError, ValueError) as e:
        raise InputError(src, "file", f"a readable file ({_reason(e)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(src, "file", "a regular file (this is a directory)")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(src, "file", "a regular file (not a FIFO, socket or device)")
    if st.st_size > limit:
        raise InputError(
            src, "size", f"at most {limit >> 20} MiB (the file has {st.st_size} bytes)"
        )
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except (OSError, ValueError) as e:
        raise InputError(src, "file", f"a readable file ({_reason(e)})") from None
    if len(data) > limit:
        raise InputError(src, "size", f"at most {limit >> 20} MiB")
    return data


def decode_utf8(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(
            short(source), f"line {line}", f"UTF-8 text (byte {e.start} is not)"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InputError(short(source), f"line {line}", "text without NUL bytes")
    return text


def read_text(
    path: str | os.PathLike, source: str | None = None, limit: int = MAX_INPUT_BYTES
) -> str:
    """UTF-8 text of a regular file of at most `limit` bytes."""
    src = source or str(path)
    return decode_utf8(read_bytes(path, src, limit), src)


def _reason(e: BaseException) -> str:
    return getattr(e, "strerror", None) or str(e)[:MAX_QUOTE]


# ---- YAML ----------------------------------------------------------------------------------
def _mark(node_or_event) -> str:
    m = getattr(node_or_event, "start_mark", None)
    return f"line {m.line + 1}" if m is not None else "document"


@functools.cache
def _loaders() -> tuple[type, type]:
    """(the fast base loader, our checking loader): built on first use, so importing this
    module does not load PyYAML (`from sim import simulate` start-up)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _Loader(base):  # type: ignore[misc, valid-type]
        """SafeLoader that refuses duplicate keys, unhashable keys and out-of-range
        numbers."""

        source = "yaml"

        def construct_mapping(self, node, deep=False):
            if not isinstance(node, yaml.MappingNode):
                raise InputError(self.source, _mark(node), "a mapping")
            self.flatten_mapping(node)
            out = {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    hash(key)
                except TypeError:
                    raise InputError(
                        self.source, _mark(key_node), "a scalar mapping key (not a list or mapping)"
                    ) from None
                if key in out:
                    raise InputError(
                        self.source,
                        f"{_mark(key_node)}: {short(str(key))}",
                        "a key given only once",
                    )
                out[key] = self.construct_object(value_node, deep=deep)
            return out

        def construct_yaml_int(self, node):
            digits = sum(c.isdigit() for c in node.value)
            if digits > MAX_INT_DIGITS:
                raise InputError(
                    self.source, _mark(node), f"an integer of at most {MAX_INT_DIGITS} digits"
                )
            value = super().construct_yaml_int(node)
            _check_number(value, self.source, _mark(node))
            return value

        def construct_yaml_float(self, node):
            value = super().construct_yaml_float(node)
            _check_number(value, self.source, _mark(node))
            return value

    _Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
    _Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
    _Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)
    # YAML 1.2 floats without a dot (`1e30`, `1E+9`) are numbers, not strings, so that
    # they meet the number rules instead of reaching a schema as text that parses to inf.
    _Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)[eE][-+]?[0-9]+$"),
        list("-+.0123456789"),
    )
    return base, _Loader


def _check_number(value, source: str, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(source, where, f"a finite number (got {value})")
    if abs(value) > MAX_NUMBER:
        raise InputError(source, where, f"a number of magnitude at most 2**53 (got {quote(value)})")


def _yaml_error(e: Exception, source: str) -> InputError:
    mark = getattr(e, "problem_mark", None)
    where = f"line {mark.line + 1}" if mark else "document"
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    return InputError(source, where, f"well-formed YAML ({short(problem)})")


def load_yaml(text: str, source: str) -> Any:
    """Parse one YAML document under the limits above."""
    import yaml

    source = short(source)
    base, checking = _loaders()
    try:
        depth = events = 0
        for ev in yaml.parse(text, Loader=base):
            events += 1
            if isinstance(ev, yaml.AliasEvent) or getattr(ev, "anchor", None):
                raise InputError(
                    source,
                    _mark(ev),
                    "no YAML anchors or aliases (&name / *name); write values out",
                )
            if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise InputError(source, _mark(ev), f"nesting at most {MAX_DEPTH} levels deep")
            elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(ev, yaml.DocumentStartEvent) and events > 2:
                raise InputError(source, _mark(ev), "a single YAML document (found a second)")
            if events > MAX_NODES:
                raise InputError(source, "document", f"at most {MAX_NODES} YAML nodes")
        loader = checking(text)
        loader.source = source
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        raise _yaml_error(e, source) from None
    except RecursionError:
        raise InputError(source, "document", f"nesting at most {MAX_DEPTH} levels deep") from None


def load_yaml_file(path: str | os.PathLike, source: str | None = None) -> Any:
    src = source or str(path)
    return load_yaml(read_text(path, src), src)


# ---- JSON ----------------------------------------------------------------------------------
def _depth_ok(text: str) -> bool:
    """Cheap upper bound of JSON nesting (brackets outside strings are counted)."""
    depth = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def load_json(text: str, source: str, position_in_field: bool = True) -> Any:
    """`json.loads` with: no NaN/Infinity, finite numbers <= 2**53 in magnitude, integers
    of at most 20 digits, no duplicate keys, nesting <= MAX_DEPTH."""
    source = short(source)

    def num_int(s: str) -> int:
        if len(s.lstrip("-")) > MAX_INT_DIGITS:
            raise InputError(source, "JSON", f"integers of at most {MAX_INT_DIGITS} digits")
        return int(s)

    def pairs(items):
        out = {}
        for k, v in items:
            if k in out:
                raise InputError(source, short(k), "a key given only once (duplicate JSON key)")
            out[k] = v
        return out

    if not _depth_ok(text):
        raise InputError(source, "JSON", f"nesting at most {MAX_DEPTH} levels deep")
    try:
        data = json.loads(text, parse_int=num_int, object_pairs_hook=pairs)
    except json.JSONDecodeError as e:
        pos = f"line {e.lineno}, column {e.colno}"
        if position_in_field:
            raise InputError(source, f"JSON ({pos})", f"valid JSON: {short(e.msg)}") from None
        raise InputError(source, "JSON", f"valid JSON ({pos}: {short(e.msg)})") from None
    except RecursionError:
        raise InputError(source, "JSON", f"nesting at most {MAX_DEPTH} levels deep") from None
    _check_numbers(data, source)
    return data


def _check_numbers(data: Any, source: str) -> None:
    """Every number finite and of magnitude <= 2**53; the error names the dotted path."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, dict):
            stack.extend((f"{path}.{k}" if path else str(k), x) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((f"{path}.{i}" if path else str(i), x) for i, x in enumerate(v))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            _check_number(v, source, short(path or "(top level)"))


def load_json_file(
    path: str | os.PathLike, source: str | None = None, position_in_field: bool = True
) -> Any:
    src = source or str(path)
    return load_json(read_text(path, src), src, position_in_field)


def path_exists(p: str | os.PathLike) -> bool:
    """`Path.exists` that answers False (not an exception) for names the OS refuses
    (too long, embedded NUL, a component that is a file)."""
    try:
        os.stat(p)
        return True
    except (OSError, ValueError):
        return False


def is_file(p: str | os.PathLike) -> bool:
    try:
        return stat.S_ISREG(os.stat(p).st_mode)
    except (OSError, ValueError):
        return False


def is_dir(p: str | os.PathLike) -> bool:
    try:
        return stat.S_ISDIR(os.stat(p).st_mode)
    except (OSError, ValueError):
        return False


__all__ = [
    "MAX_INPUT_BYTES",
    "MAX_QUOTE",
    "Path",
    "decode_utf8",
    "is_dir",
    "is_file",
    "load_json",
    "load_json_file",
    "load_yaml",
    "load_yaml_file",
    "path_exists",
    "quote",
    "read_bytes",
    "read_text",
    "short",
]
