"""The one error type for bad user input.

Every boundary (arch YAML, model name, config file, trace dir, format string, CSV) raises
`InputError`; the CLI prints `str(err)` on one line and exits with code 2.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad user input: names the source (file or argument), the field and what was expected."""

    def __init__(self, source: str, field: str, expected: str) -> None:
        self.source = source
        self.field = field
        self.expected = expected
        super().__init__(f"{source}: {field}: {expected}")


def close_names(word: str, names, n: int = 2) -> list[str]:
    """Up to n of `names` close to `word` (a misspelling's likely intent), best first."""
    import difflib

    return difflib.get_close_matches(str(word), list(names), n=n, cutoff=0.6)


def model_fields_at(model, loc) -> list[str]:
    """Field names of the pydantic model found at `loc` (a path of keys) under `model`:
    the names a key at that place may have (for "did you mean" messages)."""
    import typing

    cur = model
    for part in loc:
        fields = getattr(cur, "model_fields", None)
        if not fields or part not in fields:
            return []
        ann = fields[part].annotation
        args = [a for a in typing.get_args(ann) if hasattr(a, "model_fields")]
        cur = args[0] if args else ann
    return list(getattr(cur, "model_fields", None) or [])
