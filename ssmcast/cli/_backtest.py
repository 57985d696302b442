"""The ``ssmcast backtest`` command: rolling-origin evaluation against baselines, to files."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import click
import pandas as pd

from ssmcast import registry
from ssmcast.cli import _options as opt
from ssmcast.cli._io import DataError
from ssmcast.data import columns_as_series


def reference_names() -> tuple[str, ...]:
    """The baselines that ``--compare`` accepts: those a backtest result can score against."""
    from ssmcast.backtesting import REFERENCES

    return tuple(name for name in registry.names("baseline") if name in REFERENCES)


def check_horizon_fits(time: pd.DatetimeIndex, start, horizon: int) -> None:
    """Refuse a horizon longer than the steps from ``start`` to the end of the data."""
    from ssmcast.backtesting import start_position

    try:
        position = start_position(start, pd.DatetimeIndex(time))
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


@click.command("backtest")
@opt.data_options
@opt.model_option(registry.names(), help="The forecaster.")
@opt.horizon_option()
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
@opt.list_option("--quantiles", "0.1,0.5,0.9", help="Quantile levels to forecast ('' for none).")
@opt.list_option("--compare", "naive,climatology", help="Baselines to score against ('' for none).")
@opt.training_options(ssm_only=True)
@click.option(
    "--series-columns",
    is_flag=True,
    help="Read each target column as its own series (a station) of one global model, not as "
    "a channel of one series.",
)
@click.option(
    "--dask-scheduler",
    metavar="ADDRESS",
    help="Make an SSM model's forecasts block by block of series (--series-columns) on this "
    "dask.distributed scheduler, e.g. tcp://10.0.0.1:8786; needs pip install 'ssmcast[dask]'.",
)
@opt.out_option(opt.OUT_FOLDER, help="Folder for forecasts.csv, metrics.csv and backtest.png.")
@opt.quiet_option
def backtest_command(
    data, dataset, targets, time_col, id_col, dayfirst, date_format, model, horizon, start,
    stride, refit, quantiles, compare, max_epochs, ensemble_size, seed, series_columns,
    dask_scheduler, out, quiet,
):  # fmt: skip
    """Backtest a model over rolling origins and score it by lead time against baselines.

    Writes OUT/forecasts.csv (one row per series, origin and lead), OUT/metrics.csv (scores
    by lead and overall, with skill against each --compare baseline) and OUT/backtest.png.
    """
    from ssmcast.backtesting import backtest

    levels = opt.parse_levels(quantiles)
    references = opt.parse_list(compare, "--compare")
    accepted = reference_names()
    for ref in references:
        if ref not in accepted:
            raise click.BadParameter(
                f"unknown baseline {ref!r}; choose from {', '.join(accepted)}.",
                param_hint="--compare",
            )
    frame, source = opt.load_target_frame(
        data, dataset, targets, time_col, id_col, dayfirst, date_format
    )
    y = frame.iloc[:, 0] if frame.shape[1] == 1 else frame
    start = opt.parse_start(start)
    check_horizon_fits(frame.index, start, horizon)
    forecaster = opt.make_forecaster(
        model,
        horizon=horizon,
        max_epochs=max_epochs,
        ensemble_size=ensemble_size,
        seed=seed,
        quiet=quiet,
    )
    if not quiet:
        click.echo(
            f"backtest: {model} on {source} ({', '.join(frame.columns)}), horizon {horizon}",
            err=True,
        )
    client = None if dask_scheduler is None else _connect(dask_scheduler)
    try:
        if series_columns:  # with a client: one block of series per worker
            workers = None if client is None else len(client.scheduler_info()["workers"])
            y = columns_as_series(y, workers)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore" if quiet else "default")
            result = backtest(
                forecaster, y, horizon=horizon, start=start, stride=stride,
                refit=refit if refit > 1 else bool(refit), levels=levels or None,
                progress=not quiet,
            )  # fmt: skip
            compared = {ref: result.reference(ref) for ref in references}
    except (ValueError, TypeError) as err:
        raise DataError(str(err)) from err
    finally:
        if client is not None:
            client.close()

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    result.forecasts.to_csv(out_dir / "forecasts.csv", index=False)
    table = metrics_table(result, compared, model)
    table.to_csv(out_dir / "metrics.csv", index=False)
    _plot(result, compared, model, out_dir / "backtest.png")
    _summary(table, model, references)
    if not quiet:
        click.echo(f"wrote {out_dir / 'forecasts.csv'}, metrics.csv and backtest.png", err=True)


def _connect(address: str):
    """A ``dask.distributed`` client of the scheduler at ``address`` (the active one)."""
    try:
        from distributed import Client
    except ImportError:
        raise click.UsageError(
            "--dask-scheduler needs dask.distributed: pip install 'ssmcast[dask]'."
        ) from None
    try:
        return Client(address, timeout=30)
    except (OSError, TimeoutError, ValueError) as err:
        raise click.BadParameter(
            f"cannot reach a dask scheduler at {address!r} ({err}). Start one with "
            "`dask scheduler` and give its address, e.g. tcp://127.0.0.1:8786.",
            param_hint="--dask-scheduler",
        ) from None


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
