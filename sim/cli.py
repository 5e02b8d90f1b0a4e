"""The `sim` command line. Subcommands live in sim/cmd_*.py, each exposing a click
command named `command`; they are discovered here, so adding one never edits this file.

Every bad input ends with exit code 2 and exactly one line on stderr: an InputError
(`error: source: field: expectation`) or a click usage error (`error: sim run: ...`).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from importlib import metadata

import click

import sim
from common.errors import InputError
from common.progress import configure
from sim._click import FullHelpGroup

MAX_LINE = 300  # characters of an error line (a value quoted in it is cut before this)
# subcommand name -> module sim/cmd_<name>.py exposing a click command named `command`
_COMMANDS = sorted(
    m.name[4:] for m in pkgutil.iter_modules(sim.__path__) if m.name.startswith("cmd_")
)


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


def _fail(message: str) -> None:
    click.echo(_one_line(f"error: {message}"), err=True)
    sys.exit(2)


class _Group(FullHelpGroup):
    """Subcommands are the sim/cmd_*.py modules, imported only when used (start-up time:
    `sim run` does not load what `sim sweep` or `sim accuracy` need)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _COMMANDS and name not in self.commands:
            self.add_command(importlib.import_module(f"sim.cmd_{name}").command, name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as e:
            _fail(str(e))

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help() if e.ctx else "")
            rv = 0
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "sim"
            _fail(f"{where}: {e.format_message()} (see '{where} --help')")
        except click.ClickException as e:
            click.echo(_one_line(f"error: {e.format_message()}"), err=True)
            sys.exit(e.exit_code)
        except InputError as e:
            _fail(str(e))
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


def _version() -> str:
    try:
        return metadata.version("sim")
    except metadata.PackageNotFoundError:
        return "unknown"


@click.group("sim", cls=_Group, context_settings={"max_content_width": 120})
@click.version_option(_version(), "--version", prog_name="sim", message="%(prog)s %(version)s")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress bars (they are also off when stderr is not a terminal).",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show third-party progress bars, logs and warnings (transformers, torch).",
)
def main(quiet: bool, verbose: bool) -> None:
    """Simulate LLM inference on low-bit accelerators: time, energy, area and accuracy of a
    model, quantized a given way, on a given accelerator (preset name or arch YAML)."""
    configure(quiet=quiet, verbose=verbose)
