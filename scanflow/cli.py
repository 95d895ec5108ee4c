"""The ``scanflow`` command: a thin click layer over the importable API.

Each command parses options, calls one library function, and prints its result. Known
errors (:class:`scanflow.errors.ScanflowError`) become one line on stderr and an exit code.
"""

from __future__ import annotations

import click


@click.group()
def cli():
    """scanflow: scanned English assessment books in, each pupil's writing archived."""


# --- rubric commands ---


def main():
    cli()
