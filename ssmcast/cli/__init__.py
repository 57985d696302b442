"""The ``ssmcast`` command line: a thin layer over the library, with no modelling logic.

The commands live in one module each (``_backtest``, ``_models`` for ``fit`` and
``predict``, ``_datasets``); what they share, the data and run options, is in ``_options``,
and reading data files in ``_io``. Model names come from :mod:`ssmcast.registry`.
"""

from __future__ import annotations

import click

from ssmcast._version import __version__
from ssmcast.cli._backtest import backtest_command
from ssmcast.cli._datasets import datasets_group
from ssmcast.cli._models import fit_command, predict_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="ssmcast")
def cli() -> None:
    """Forecast weather and sensor time series with state space models."""


cli.add_command(datasets_group)
cli.add_command(backtest_command)
cli.add_command(fit_command)
cli.add_command(predict_command)


def main() -> None:
    """Run the command line (the ``ssmcast`` entry point)."""
    cli(prog_name="ssmcast")
