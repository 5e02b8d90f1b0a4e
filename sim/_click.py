"""Click helpers shared by the CLI modules (kept out of sim/cli.py so that any cmd_ module
can import them without importing the CLI)."""

from __future__ import annotations

import click


class FullHelpGroup(click.Group):
    """A group whose `--help` lists each command's whole first sentence, never cut '...'."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=500)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
