"""The ``ssmcast backtest`` command: rolling-origin evaluation against baselines, to files."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import click
import pandas as pd

from ssmcast._cli_io import DataError, closest, read_series, select_targets

SSM_MODELS = ("s5", "mamba", "hybrid")
BASELINES = ("naive", "seasonal_naive", "climatology", "drift")
MODELS = SSM_MODELS + BASELINES


def make_forecaster(
    name: str, *, horizon: int, max_epochs: int | None, seed: int | None, quiet: bool
):
    """The forecaster behind a ``--model`` name, with the command line's settings."""
    if name in SSM_MODELS:
        from ssmcast.forecaster import SSMForecaster

        kwargs = {} if max_epochs is None else {"max_epochs": max_epochs}
        return SSMForecaster(
            model=name, horizon=horizon, random_state=seed, progress=not quiet, **kwargs
        )
    from ssmcast import baselines

    classes = {
        "naive": baselines.Naive,
        "seasonal_naive": baselines.SeasonalNaive,
        "climatology": baselines.Climatology,
        "drift": baselines.Drift,
    }
    return classes[name](horizon=horizon)


def parse_start(text: str):
    """``--start``: a fraction in (0, 1), an integer position, or a timestamp."""
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
    return value


def parse_list(text: str | None, option: str, *, kind=str) -> list:
    """A comma-separated option value as a list (empty for None or '')."""
    if not text:
        return []
    try:
        return [kind(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise click.BadParameter(f"could not read {text!r}: {err}.", param_hint=option) from err


def load_target_frame(data, dataset, targets, time_col, id_col) -> tuple[pd.DataFrame, str]:
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
    return read_series(data, targets=list(targets), time_col=time_col, id_col=id_col), Path(
        data
    ).name


def check_horizon_fits(time: pd.DatetimeIndex, start, horizon: int) -> None:
    """Refuse a horizon longer than the steps from ``start`` to the end of the data."""
    from ssmcast.backtest import _start_position

    try:
        position = _start_position(start, pd.DatetimeIndex(time))
    except (ValueError, TypeError) as err:
        raise DataError(str(err)) from err
    remaining = len(time) - position
    if horizon > remaining:
        raise DataError(
            f"--horizon {horizon} is longer than the {remaining} steps from --start to the end "
            "of the data; lower --horizon or move --start earlier."
        )


def metrics_table(result, references: dict[str, object], model: str) -> pd.DataFrame:
    """Scores by lead and overall for the model and each reference, with skill columns."""
    frames = []
    for name, res in {model: result, **references}.items():
        metrics = res.metrics
        by_lead = metrics.by_lead.reset_index()
        overall = metrics.overall.to_frame().T.assign(lead="all")
        table = pd.concat([by_lead, overall], ignore_index=True)
        if name == model:
            for ref_name in references:
                skill = result.skill(references[ref_name])
                cols = {c: f"skill_{c}_vs_{ref_name}" for c in skill.by_lead.columns}
                lead_skill = skill.by_lead.reset_index().rename(columns=cols)
                all_skill = skill.overall.rename(cols).to_frame().T.assign(lead="all")
                skill_table = pd.concat([lead_skill, all_skill], ignore_index=True)
                table = table.merge(skill_table, on="lead", how="left")
        frames.append(table.assign(model=name))
    out = pd.concat(frames, ignore_index=True)
    return out[["model", "lead", *[c for c in out.columns if c not in ("model", "lead")]]]


def data_options(command):
    """The options that name the data: DATA or --dataset, --target, --time-col, --id-col."""
    options = [
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
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command("backtest")
@data_options
@click.option(
    "--model", type=click.Choice(MODELS), default="s5", show_default=True, help="The forecaster."
)
@click.option(
    "--horizon", type=click.IntRange(min=1), required=True, help="Steps ahead to forecast."
)
@click.option(
    "--start",
    default="0.8",
    show_default=True,
    help="First forecast time: a fraction of the data, a position or a timestamp.",
)
@click.option(
    "--stride", type=click.IntRange(min=1), help="Steps between origins [default: horizon]."
)
@click.option(
    "--refit",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Refit every K origins (0: fit once, then update).",
)
@click.option(
    "--quantiles",
    default="0.1,0.5,0.9",
    show_default=True,
    help="Quantile levels to forecast ('' for none).",
)
@click.option(
    "--compare",
    default="naive,climatology",
    show_default=True,
    help="Baselines to score against ('' for none).",
)
@click.option("--max-epochs", type=click.IntRange(min=1), help="Training epochs for SSM models.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed for SSM models.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    required=True,
    help="Folder for forecasts.csv, metrics.csv and backtest.png.",
)
@click.option("--quiet", is_flag=True, help="No progress output.")
def backtest_command(
    data, dataset, targets, time_col, id_col, model, horizon, start, stride, refit, quantiles,
    compare, max_epochs, seed, out, quiet,
):  # fmt: skip
    """Backtest a model over rolling origins and score it by lead time against baselines.

    Writes OUT/forecasts.csv (one row per series, origin and lead), OUT/metrics.csv (scores
    by lead and overall, with skill against each --compare baseline) and OUT/backtest.png.
    """
    from ssmcast import backtest as run_backtest

    levels = parse_list(quantiles, "--quantiles", kind=float)
    references = parse_list(compare, "--compare")
    for ref in references:
        if ref not in ("naive", "seasonal_naive", "climatology"):
            raise click.BadParameter(
                f"unknown baseline {ref!r}; choose from naive, seasonal_naive, climatology.",
                param_hint="--compare",
            )
    frame, source = load_target_frame(data, dataset, targets, time_col, id_col)
    y = frame.iloc[:, 0] if frame.shape[1] == 1 else frame
    start = parse_start(start)
    check_horizon_fits(frame.index, start, horizon)
    forecaster = make_forecaster(
        model, horizon=horizon, max_epochs=max_epochs, seed=seed, quiet=quiet
    )
    if not quiet:
        click.echo(
            f"backtest: {model} on {source} ({', '.join(frame.columns)}), horizon {horizon}",
            err=True,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore" if quiet else "default")
            result = run_backtest(
                forecaster, y, horizon=horizon, start=start, stride=stride,
                refit=refit if refit > 1 else bool(refit), levels=levels or None,
                progress=not quiet,
            )  # fmt: skip
            compared = {ref: result.reference(ref) for ref in references}
    except (ValueError, TypeError) as err:
        raise DataError(str(err)) from err

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.forecasts.to_csv(out_dir / "forecasts.csv", index=False)
    table = metrics_table(result, compared, model)
    table.to_csv(out_dir / "metrics.csv", index=False)
    _plot(result, compared, model, out_dir / "backtest.png")
    _summary(table, model, references)
    if not quiet:
        click.echo(f"wrote {out_dir / 'forecasts.csv'}, metrics.csv and backtest.png", err=True)


def _plot(result, compared, model, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from ssmcast.plot import plot_error_by_lead

    ax = plot_error_by_lead({model: result, **compared}, metric="MAE")
    ax.figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(ax.figure)


def _summary(table: pd.DataFrame, model: str, references: list[str]) -> None:
    overall = table[table["lead"] == "all"].set_index("model")
    columns = [c for c in ("MAE", "RMSE", "MASE", "CRPS", "coverage") if c in overall.columns]
    shown = overall[columns].copy()
    for ref in references:
        column = f"skill_MAE_vs_{ref}"
        if column in overall.columns:
            shown.loc[model, f"MAE skill vs {ref}"] = overall.loc[model, column]
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 120):
        click.echo(shown.to_string(na_rep=""))
    sys.stdout.flush()
