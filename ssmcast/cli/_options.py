"""What the commands share: the options that name the data and the run, and their parsing.

Each ``*_option`` is a click decorator (or makes one) with the same flag, type, default
and help wherever it is used, so that ``backtest``, ``fit`` and ``predict`` read alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import pandas as pd

from ssmcast import registry
from ssmcast.base import BaseForecaster
from ssmcast.cli._io import DataError, closest, read_series, select_targets

F = TypeVar("F", bound=Callable[..., Any])

#: ``--out`` that names a folder (``backtest``) or a file (``fit``, ``predict``).
OUT_FOLDER = click.Path(file_okay=False)
OUT_FILE = click.Path(dir_okay=False)


def stacked(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """One decorator applying ``decorators`` as if written top to bottom above a function."""

    def apply(command: F) -> F:
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


def data_options(command: F) -> F:
    """The options that name the data: DATA or --dataset, --target, --time-col, --id-col."""
    return stacked(
        click.argument("data", required=False, type=click.Path(dir_okay=False)),
        click.option("--dataset", help="A built-in dataset instead of DATA ('ssmcast datasets')."),
        click.option(
            "--target",
            "targets",
            multiple=True,
            required=True,
            help="Column to forecast (repeatable).",
        ),
        click.option("--time-col", help="The time column of DATA (found when omitted)."),
        click.option(
            "--id-col", help="Series id column of a long DATA file (one row per series and time)."
        ),
        date_options,
    )(command)


def date_options(command: F) -> F:
    """``--dayfirst/--monthfirst`` and ``--date-format``: how to read dates like 01/02/2024."""
    return stacked(
        click.option(
            "--dayfirst/--monthfirst",
            default=None,
            help="Read dates like 01/02/2024 day-first (1 February) or month-first (2 "
            "January); needed only when the data cannot tell.",
        ),
        click.option(
            "--date-format",
            help="The layout of the time column in strftime codes, e.g. '%d/%m/%Y %H:%M'.",
        ),
    )(command)


def model_option(choices: tuple[str, ...], help: str) -> Callable[[F], F]:
    """``--model`` (default ``s5``) among registered forecaster names."""
    return click.option(
        "--model", type=click.Choice(choices), default="s5", show_default=True, help=help
    )


def horizon_option(
    help: str = "Steps ahead to forecast.", *, required: bool = True
) -> Callable[[F], F]:
    """``--horizon N``, a positive number of steps."""
    return click.option("--horizon", type=click.IntRange(min=1), required=required, help=help)


def list_option(name: str, default: str, help: str) -> Callable[[F], F]:
    """A comma-separated option (read with :func:`parse_list`); its default shown if any."""
    show_default = True if default else None  # None: click's own choice, as if not given
    return click.option(name, default=default, show_default=show_default, help=help)


def out_option(path: click.Path, help: str) -> Callable[[F], F]:
    """``--out``, required: a folder or a file (:data:`OUT_FOLDER`, :data:`OUT_FILE`).

    The folder (or the file's folder) is created when the options are read, before any
    work, so a path that cannot be written fails at once rather than after training.
    """

    def prepare(ctx, param, value):
        if value is None:
            return value
        folder = Path(value) if path is OUT_FOLDER else Path(value).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DataError(
                f"Cannot write to --out {value}: could not create the folder {folder} "
                f"({err.strerror or err})."
            ) from err
        return value

    return click.option("--out", type=path, required=True, help=help, callback=prepare)


quiet_option = click.option("--quiet", is_flag=True, help="No progress output.")


def training_options(*, ssm_only: bool = False) -> Callable[[F], F]:
    """``--max-epochs``, ``--ensemble-size`` and ``--seed`` of a trained model.

    Args:
        ssm_only: Whether the command also runs baselines, which take neither: the help
            texts then say that the options are for SSM models.
    """
    scope = " for SSM models" if ssm_only else ""
    return stacked(
        click.option("--max-epochs", type=click.IntRange(min=1), help=f"Training epochs{scope}."),
        click.option(
            "--ensemble-size",
            type=click.IntRange(min=1),
            help=f"Networks trained together and averaged{scope} [default: 4]; 1 trains about "
            "four times faster on a CPU.",
        ),
        click.option("--seed", type=int, default=0, show_default=True, help=f"Random seed{scope}."),
    )


def make_forecaster(
    name: str,
    *,
    horizon: int,
    max_epochs: int | None,
    seed: int | None,
    quiet: bool,
    ensemble_size: int | None = None,
) -> BaseForecaster:
    """The forecaster behind a ``--model`` name, with the command line's settings.

    Trained models get the horizon, seed, progress and (when given) epochs and ensemble size;
    baselines only the horizon.
    """
    if registry.get(name).kind != "model":
        return registry.make(name, horizon=horizon)
    given = {"max_epochs": max_epochs, "ensemble_size": ensemble_size}
    params = {key: value for key, value in given.items() if value is not None}
    return registry.make(name, horizon=horizon, random_state=seed, progress=not quiet, **params)


def parse_start(text: str) -> float | int | pd.Timestamp:
    """``--start``: a fraction in (0, 1), an integer position, or a timestamp.

    Examples:
        >>> parse_start("0.8"), parse_start("-720"), parse_start("2014-06-01")
        (0.8, -720, Timestamp('2014-06-01 00:00:00'))
    """
    try:
        value = float(text)
    except ValueError:
        try:
            return pd.Timestamp(text)
        except (ValueError, TypeError) as err:
            raise click.BadParameter(
                f"expected a fraction such as 0.8, a position such as -720, or a time such as "
                f"2014-06-01; got {text!r}.",
                param_hint="--start",
            ) from err
    if value.is_integer() and not 0 < value < 1:
        return int(value)
    if not 0 < value < 1:
        raise click.BadParameter(
            f"a fraction must lie strictly between 0 and 1 (0.8: the last 20%); got {text!r}. "
            "Pass a whole number for a position, or a time.",
            param_hint="--start",
        )
    return value


def parse_levels(text: str | None) -> list[float]:
    """``--quantiles``: levels strictly between 0 and 1, each once (usage error otherwise).

    Examples:
        >>> parse_levels("0.1,0.5,0.9")
        [0.1, 0.5, 0.9]
    """
    levels = parse_list(text, "--quantiles", kind=float)
    bad = [v for v in levels if not 0 < v < 1]
    if bad:
        raise click.BadParameter(
            f"quantile levels must lie strictly between 0 and 1 (e.g. 0.1,0.5,0.9); got "
            f"{', '.join(f'{v:g}' for v in bad)}.",
            param_hint="--quantiles",
        )
    if len(set(levels)) != len(levels):
        raise click.BadParameter(f"each level once; got {text!r}.", param_hint="--quantiles")
    return levels


def parse_list(text: str | None, option: str, *, kind: Callable[[str], Any] = str) -> list:
    """A comma-separated option value as a list (empty for None or '').

    Examples:
        >>> parse_list("0.1, 0.9", "--quantiles", kind=float), parse_list("", "--compare")
        ([0.1, 0.9], [])
    """
    if not text:
        return []
    try:
        return [kind(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise click.BadParameter(f"could not read {text!r}: {err}.", param_hint=option) from err


def load_target_frame(
    data: str | None,
    dataset: str | None,
    targets: tuple[str, ...],
    time_col: str | None,
    id_col: str | None,
    dayfirst: bool | None = None,
    date_format: str | None = None,
) -> tuple[pd.DataFrame, str]:
    """The target columns from a file or a shipped dataset, and a name for the source."""
    if (data is None) == (dataset is None):
        raise click.UsageError("Give exactly one of DATA (a file) or --dataset NAME.")
    if dataset is not None:
        from ssmcast import datasets

        names = list(datasets.list()["name"])
        if dataset not in names:
            raise DataError(
                f"Unknown dataset '{dataset}'.{closest(dataset, names)} Available: "
                f"{', '.join(names)}."
            )
        return select_targets(datasets.load(dataset), list(targets), source=dataset), dataset
    frame = read_series(
        data,
        targets=list(targets),
        time_col=time_col,
        id_col=id_col,
        dayfirst=dayfirst,
        date_format=date_format,
    )
    return frame, Path(data).name
