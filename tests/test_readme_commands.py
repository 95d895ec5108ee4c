"""Every command of the ``scanflow`` CLI, subcommands included, is shown in README.md.

As sqlite-utils checks its documentation against its commands: a command added without a
line in the README fails here, and so does a command the README names that does not exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from scanflow.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def commands(group: click.Group, prefix: str = "scanflow") -> list[str]:
    """Every command's full name ("scanflow user add"), the groups' own names included."""
    out = []
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        full = f"{prefix} {name}"
        out.append(full)
        if isinstance(command, click.Group):
            out += commands(command, full)
    return out


def test_the_walk_sees_nested_groups():
    names = commands(cli)
    assert "scanflow ingest" in names and "scanflow user add" in names
    assert "scanflow export alto" in names and len(names) > 40


def test_every_command_is_in_the_readme():
    text = README.read_text()
    missing = [name for name in commands(cli)
               if not re.search(re.escape(name) + r"(?![\w-])", text)]
    assert not missing, f"commands not shown in README.md: {missing}"


def test_the_readme_names_only_commands_that_exist():
    known = set(commands(cli))
    text = README.read_text()
    groups = {n.split()[1] for n in known if any(k.startswith(n + " ") for k in known)}
    named = set()
    for line in re.findall(r"^(?:\$ )?(scanflow [a-z][\w-]*(?: [a-z][\w-]*)?)", text, re.M):
        words = line.split()
        named.add(" ".join(words[:3]) if words[1] in groups else " ".join(words[:2]))
    assert not named - known, f"README shows commands that do not exist: {named - known}"
