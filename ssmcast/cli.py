"""The ``ssmcast`` command line: a thin layer over the library, with no modelling logic."""

from __future__ import annotations

import click

from ssmcast._cli_backtest import backtest_command
from ssmcast._cli_datasets import datasets_group
from ssmcast._cli_models import fit_command, predict_command
from ssmcast._version import __version__


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
