"""The `sim` command line. Subcommands live in sim/cmd_*.py, each exposing a click
command named `command`; they are discovered here, so adding one never edits this file.
Bad user input (InputError) ends with exit code 2 and one line on stderr."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

import sim
from common.errors import InputError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
def main() -> None:
    """Simulate LLM inference on low-bit accelerators."""


for _mod in sorted(m.name for m in pkgutil.iter_modules(sim.__path__) if m.name.startswith("cmd_")):
    main.add_command(importlib.import_module(f"sim.{_mod}").command)
