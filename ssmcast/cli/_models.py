"""The ``ssmcast fit`` and ``ssmcast predict`` commands: save a model, forecast from it."""

from __future__ import annotations

import warnings
from pathlib import Path

import click
import pandas as pd

from ssmcast import registry
from ssmcast.cli import _options as opt
from ssmcast.cli._io import DataError, read_series


def _model_targets(forecaster, targets, id_col) -> list[str]:
    """Target columns for update data: as given, or the names the saved model knows."""
    if targets:
        return list(targets)
    names = forecaster.layout_.column_names()
    if id_col is None and names is not None:
        return names
    raise click.UsageError("Name the target column(s) of the update data with --target.")


def _write_table(table, path: Path) -> None:
    frame = table.to_frame() if isinstance(table, pd.Series) else table.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = ["_".join(str(part) for part in col) for col in frame.columns]
    frame = frame.rename_axis("time").reset_index()
    if path.suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


@click.command("fit")
@opt.data_options
@opt.model_option(registry.names(capability="save"), help="The SSM model.")
@opt.horizon_option()
@opt.training_options()
@opt.out_option(opt.OUT_FILE, help="Model file to write (e.g. model.ssmcast).")
@opt.quiet_option
def fit_command(
    data, dataset, targets, time_col, id_col, dayfirst, date_format, model, horizon, max_epochs,
    ensemble_size, seed, out, quiet,
):  # fmt: skip
    """Fit an SSM model on DATA (or --dataset) and save it to --out."""
    frame, source = opt.load_target_frame(
        data, dataset, targets, time_col, id_col, dayfirst, date_format
    )
    y = frame.iloc[:, 0] if frame.shape[1] == 1 else frame
    forecaster = opt.make_forecaster(
        model,
        horizon=horizon,
        max_epochs=max_epochs,
        ensemble_size=ensemble_size,
        seed=seed,
        quiet=quiet,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore" if quiet else "default")
            forecaster.fit(y)
    except (ValueError, TypeError) as err:
        raise DataError(str(err)) from err
    forecaster.save(out)
    click.echo(
        f"saved {out}: {model} on {source} ({', '.join(map(str, frame.columns))}), horizon "
        f"{horizon}, data up to {forecaster.cutoff_}"
    )


@click.command("predict")
@click.argument("model_path", type=click.Path(dir_okay=False))
@click.option(
    "--update",
    "new_data",
    type=click.Path(dir_okay=False),
    help="New observations after the model's last time, applied before forecasting.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    help="Target column(s) of the update data [default: the model's].",
)
@click.option("--time-col", help="The time column of the update data.")
@click.option("--id-col", help="Series id column of a long update file.")
@opt.date_options
@opt.horizon_option("Steps ahead [default: the model's horizon].", required=False)
@opt.list_option(
    "--quantiles",
    "",
    help="Quantile levels to write, e.g. 0.1,0.5,0.9 [default: the point forecast].",
)
@click.option(
    "--save-model",
    type=click.Path(dir_okay=False),
    help="Also save the updated model here (for the next run).",
)
@opt.out_option(opt.OUT_FILE, help="Forecast file to write (.csv or .parquet).")
def predict_command(
    model_path, new_data, targets, time_col, id_col, dayfirst, date_format, horizon, quantiles,
    save_model, out,
):  # fmt: skip
    """Forecast from a saved model, after applying --update data if given."""
    from ssmcast.forecaster import SSMForecaster

    levels = opt.parse_levels(quantiles)
    try:
        forecaster = SSMForecaster.load(model_path)
        if new_data is not None:
            names = _model_targets(forecaster, targets, id_col)
            frame = read_series(
                new_data,
                targets=names,
                time_col=time_col,
                id_col=id_col,
                dayfirst=dayfirst,
                date_format=date_format,
            )
            forecaster.update(frame.iloc[:, 0] if frame.shape[1] == 1 else frame)
        table = (
            forecaster.predict_quantiles(levels, horizon=horizon)
            if levels
            else forecaster.predict(horizon=horizon)
        )
    except (ValueError, TypeError) as err:
        raise DataError(str(err)) from err
    _write_table(table, Path(out))
    if save_model:
        forecaster.save(save_model)
    click.echo(f"wrote {out}: {len(table)} steps from {forecaster.cutoff_}")
