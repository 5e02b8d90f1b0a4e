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
