"""Forecast accuracy of ssmcast against baselines and peers, on one fixed protocol.

The protocol (the same for every contestant; see docs/benchmarks.md):

* Seventeen series from the shipped datasets (``TASKS``), each with its horizon: the ten
  weather series of the first round, then seven that the default model was not developed
  on (half-hourly demand, traffic counts with a 10-month outage, daily PM2.5 at three
  sites of a 12-site panel, measured solar radiation and wind speed).
* Fit once on the first 80% of the time steps, then forecast ``horizon`` steps from rolling
  origins over the last 20%, one origin every ``horizon`` steps (``backtest(...,
  start=0.8, stride=horizon, refit=False)``). Between origins a forecaster sees the new
  observations without refitting (``update`` for ssmcast, ``forward`` for statsforecast, the
  new input window for neuralforecast).
* Scores over every origin and lead: MASE (scaled by the in-sample MAE of the seasonal naive
  forecast on the training 80%, season 24 hourly, 144 ten-minute, 48 half-hourly, 7 daily),
  MAE, RMSE, CRPS (from the 19 quantiles 0.05, 0.10, ..., 0.95) and the coverage of the
  central 80% interval (quantiles 0.1 and 0.9). Missing truths are not scored.
* Contestants: every ssmcast model with its default settings, the ssmcast baselines,
  statsforecast AutoETS, AutoTheta and MSTL, and neuralforecast NHITS and PatchTST (the
  ``bench`` extra; skipped when not installed). Peers cannot read NaN, so they get the series
  with its gaps filled by the last observed value (the truth they are scored on keeps them).
  Deep models run several seeds; the tables show the mean and the spread.

A second set of eleven series (``HOLDOUT``, ``--holdout``: other variables of the same
datasets) is kept out of the choice of the defaults and scored apart, in its own CSV, to
show whether those choices carry over to series they were not made on.

Results are appended to a CSV, one row per task, contestant and seed. Rows already there are
skipped, so an interrupted run resumes; a run that failed is recorded and tried again next
time. ``--report`` turns the CSV into the Markdown tables and the figure of the docs.

Run:  python benchmarks/accuracy.py                          (everything: about two hours)
      python benchmarks/accuracy.py --contestants s5,SeasonalNaive --tasks beijing/TEMP
      python benchmarks/accuracy.py --report                   (tables and figure from the CSV)
      python benchmarks/accuracy.py --holdout --contestants s5,AutoETS   (the held-out series)
      python benchmarks/accuracy.py --holdout --report
      python benchmarks/accuracy.py --smoke --out /tmp/smoke.csv   (seconds; in the tests)
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import importlib.metadata
import math
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ssmcast import SSMForecaster, backtest, baselines, datasets, metrics
from ssmcast.data import season_length

ROOT = Path(__file__).resolve().parent.parent
CSV_PATH = ROOT / "docs" / "benchmarks" / "accuracy.csv"
REPORT_PATH = ROOT / "docs" / "benchmarks" / "accuracy-report.txt"
FIGURE_PATH = ROOT / "docs" / "images" / "accuracy-mase.png"

TRAIN_FRACTION = 0.8
LEVELS = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05, 0.10, ..., 0.95
PEER_LEVELS = [round(100 * (1 - 2 * q)) for q in LEVELS if q < 0.5]  # 90, 80, ..., 10
SEEDS = 3
# The CPU budget of the neuralforecast models: training steps, windows per step, one thread
NEURAL_MAX_STEPS = 300
NEURAL_WINDOWS = {"NHITS": 256, "PatchTST": 32}
# AutoTheta and MSTL re-estimate at every ``forward``: over the whole history that takes hours
# on the hourly series, so they fit and forecast on the last SLIDING_WINDOW steps
SLIDING_WINDOW = 2000
FIELDS = [
    "task", "horizon", "freq", "contestant", "family", "seed", "MASE", "MAE", "RMSE", "CRPS",
    "coverage", "count", "seconds", "error",
]  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Task:
    """One series of a shipped dataset and its forecast horizon."""

    dataset: str
    column: str
    horizon: int

    @property
    def name(self) -> str:
        """``dataset/column``."""
        return f"{self.dataset}/{self.column}"

    def load(self) -> pd.Series:
        """The series, named after its column, on the dataset's regular time grid."""
        y = datasets.load(self.dataset)[self.column]
        return y.rename(self.column)


TASKS = (
    Task("beijing", "TEMP", 24),
    Task("beijing", "DEWP", 24),
    Task("beijing", "PRES", 24),
    Task("appliances_energy", "T_out", 36),  # weather station, hourly values interpolated
    Task("appliances_energy", "T6", 36),  # a 10-minute sensor outside the building
    Task("nyc_weather", "EWR_temp", 24),
    Task("nyc_weather", "JFK_temp", 24),
    Task("nyc_weather", "LGA_temp", 24),
    Task("sea_temperature", "temperature", 48),
    Task("seattle_weather", "temp_max", 7),
    # Failure modes the default model has not been tuned on (see docs/datasets.md):
    Task("electricity_demand", "demand", 48),  # half-hourly, strong daily and weekly profile
    Task("metro_traffic", "traffic_volume", 24),  # a 10-month outage over 57% of the test part
    Task("beijing_multisite", "Dongsi_PM2.5", 7),  # a daily panel of 12 sites: three of them
    Task("beijing_multisite", "Huairou_PM2.5", 7),
    Task("beijing_multisite", "Shunyi_PM2.5", 7),
    Task("schwingbach", "solarrad_Wm2", 24),  # measured global solar radiation
    Task("schwingbach", "windspeed_ms", 24),
)
HOURLY_WEATHER = tuple(t.name for t in TASKS if t.dataset in ("beijing", "nyc_weather"))
# Held out: other variables of the shipped datasets, kept out of the choice of the defaults
# (``--holdout``; scored apart, docs/benchmarks/holdout.csv). A default tuned to TASKS that
# does not carry over to these would show it here.
HOLDOUT = (
    Task("beijing", "pm2.5", 24),  # hourly PM2.5 with gaps: bursts, not a daily cycle
    Task("nyc_weather", "JFK_humid", 24),  # relative humidity, bounded
    Task("nyc_weather", "LGA_wind_speed", 24),  # wind speed: noisy, skewed, no clear cycle
    Task("nyc_weather", "EWR_pressure", 24),  # station pressure: synoptic swings
    Task("schwingbach", "airtemp_degC", 24),
    Task("schwingbach", "relhum_perc", 24),
    Task("appliances_energy", "RH_out", 36),  # 10-minute grid, hourly station values
    Task("seattle_weather", "temp_min", 7),
    Task("beijing_multisite", "Aotizhongxin_O3", 7),  # daily ozone at a fourth site
    Task("co2", "co2", 13),  # weekly Mauna Loa CO2: trend and a yearly cycle
    Task("metro_traffic", "temp", 24),  # weather beside the traffic counts, same outage
)
HOLDOUT_CSV_PATH = ROOT / "docs" / "benchmarks" / "holdout.csv"
HOLDOUT_REPORT_PATH = ROOT / "docs" / "benchmarks" / "holdout-report.txt"


# --------------------------------------------------------------------------------------------
# Contestants: each returns the long frame of forecasts (cutoff, lead, yhat, q0.05, ...)


@dataclasses.dataclass(frozen=True)
class Contestant:
    """A named forecasting method; ``run(task, y, seed)`` returns its forecasts frame."""

    name: str
    family: str  # "ssmcast", "baseline", "statsforecast", "neuralforecast"
    run: Callable[[Task, pd.Series, int], pd.DataFrame]
    seeded: bool = False  # several seeds (deep models); else seed 0 only
    available: Callable[[], str | None] = lambda: None  # why it cannot run, or None


def _ssmcast_backtest(make: Callable[[Task, int], Any]):
    def run(task: Task, y: pd.Series, seed: int) -> pd.DataFrame:
        result = backtest(
            make(task, seed),
            y,
            horizon=task.horizon,
            start=TRAIN_FRACTION,
            levels=LEVELS,
            progress=False,
        )
        return result.forecasts

    return run


def _ssm(model: str, **settings: Any) -> Callable[[Task, int], Any]:
    def make(task: Task, seed: int) -> SSMForecaster:
        return SSMForecaster(
            model=model, horizon=task.horizon, random_state=seed, progress=False, **settings
        )

    return make


def _baseline(cls: type) -> Callable[[Task, int], Any]:
    return lambda task, seed: cls(horizon=task.horizon)


def _missing(module: str) -> Callable[[], str | None]:
    def why() -> str | None:
        try:
            __import__(module)
        except ImportError as err:
            return f"{module} is not installed ({err}); pip install '.[bench]'"
        return None

    return why


def peer_frame(y: pd.Series, origins: np.ndarray, horizon: int) -> pd.DataFrame:
    """The long ``unique_id, ds, y`` frame a peer reads, ending ``horizon`` after the last origin.

    Peers' rolling evaluations put the last cutoff ``horizon`` steps before the end of the
    frame, so the series is padded past its end (by repeating the last value: a target only,
    never an input, and not scored). Gaps are filled with the last observed value, which uses
    only the past (an interpolation would let an origin inside a gap see the value after it).
    """
    stamps = pd.date_range(y.index[0], periods=origins[-1] + horizon + 1, freq=y.index.freq)
    filled = y.reindex(stamps).ffill().bfill()  # bfill: only a gap at the very start
    return pd.DataFrame({"unique_id": y.name, "ds": stamps, "y": filled.to_numpy(float)})


def _peer_forecasts(
    cv: pd.DataFrame, alias: str, y: pd.Series, origins: np.ndarray, point: str, quantile
) -> pd.DataFrame:
    """A peer's cross-validation frame as ours: cutoff, lead, yhat and the quantiles."""
    cutoffs = pd.DatetimeIndex(sorted(cv["cutoff"].unique()))
    expected = y.index[origins]
    if not cutoffs.equals(pd.DatetimeIndex(expected)):
        raise RuntimeError(f"{alias}: the peer's cutoffs differ from ours ({cutoffs[:3]}...)")
    cv = cv.sort_values(["cutoff", "ds"])
    # leads by position on the grid (a week or a month is no fixed Timedelta to divide by)
    grid = pd.date_range(y.index[0], cv["ds"].max(), freq=y.index.freq)
    lead = grid.get_indexer(cv["ds"]) - grid.get_indexer(cv["cutoff"])
    out = pd.DataFrame(
        {
            "cutoff": cv["cutoff"].to_numpy(),
            "ds": cv["ds"].to_numpy(),
            "lead": lead,
            "yhat": cv[point].to_numpy(float),
        }
    )
    for level in LEVELS:
        out[f"q{level:g}"] = cv[quantile(level)].to_numpy(float)
    return out[out["ds"] <= y.index[-1]]


def _interval_column(alias: str, level: float, median: str) -> str:
    """statsforecast/neuralforecast names of a quantile from central intervals."""
    if abs(level - 0.5) < 1e-9:
        return median
    width = round(100 * abs(1 - 2 * level))
    return f"{alias}-{'lo' if level < 0.5 else 'hi'}-{width}"


def origins(y: pd.Series, horizon: int) -> np.ndarray:
    """Positions of the cutoffs, as ``backtest(start=0.8, stride=horizon)`` places them."""
    first = int(TRAIN_FRACTION * len(y)) - 1
    return np.arange(first, len(y) - 1, horizon)


def _statsforecast(make: Callable[[Task], Any], window: int | None = None):
    def run(task: Task, y: pd.Series, seed: int) -> pd.DataFrame:
        from statsforecast import StatsForecast

        cutoffs = origins(y, task.horizon)
        model = make(task)
        sf = StatsForecast(models=[model], freq=y.index.freqstr, n_jobs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cv = sf.cross_validation(
                df=peer_frame(y, cutoffs, task.horizon),
                h=task.horizon,
                step_size=task.horizon,
                n_windows=len(cutoffs),
                refit=False,
                level=PEER_LEVELS,
                input_size=window,
            )
        alias = str(model)
        return _peer_forecasts(
            cv.reset_index(),
            alias,
            y,
            cutoffs,
            alias,
            lambda q: _interval_column(alias, q, alias),
        )

    return run


def statsforecast_window(name: str) -> int | None:
    """Steps a statsforecast model fits and forecasts on (None: the whole history)."""
    return None if name == "AutoETS" else SLIDING_WINDOW


def statsforecast_models() -> dict[str, Callable[[Task], Any]]:
    def season(task: Task) -> int:
        return season_length(task.load().index.freq)

    def ets(task: Task):
        from statsforecast.models import AutoETS

        return AutoETS(season_length=season(task))

    def theta(task: Task):
        from statsforecast.models import AutoTheta

        return AutoTheta(season_length=season(task))

    def mstl(task: Task):
        from statsforecast.models import MSTL

        s = season(task)
        seasons = [7, 365] if s == 7 else [s, 7 * s]  # daily and weekly; weekly and yearly
        return MSTL(season_length=seasons)

    return {"AutoETS": ets, "AutoTheta": theta, "MSTL": mstl}


def neural_model(name: str, task: Task, seed: int) -> Any:
    """A neuralforecast model with the benchmark's settings and CPU budget."""
    import logging

    import torch
    from neuralforecast import models as nf_models
    from neuralforecast.losses.pytorch import MQLoss

    torch.set_num_threads(1)
    for logger in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(logger).setLevel(logging.ERROR)
    return getattr(nf_models, name)(
        h=task.horizon,
        input_size=7 * task.horizon,
        loss=MQLoss(level=PEER_LEVELS),
        max_steps=NEURAL_MAX_STEPS,
        windows_batch_size=NEURAL_WINDOWS[name],
        scaler_type="robust",
        random_seed=seed,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        accelerator="cpu",
    )


def _neuralforecast(name: str):
    def run(task: Task, y: pd.Series, seed: int) -> pd.DataFrame:
        from neuralforecast import NeuralForecast

        cutoffs = origins(y, task.horizon)
        nf = NeuralForecast(models=[neural_model(name, task, seed)], freq=y.index.freqstr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cv = nf.cross_validation(
                df=peer_frame(y, cutoffs, task.horizon),
                n_windows=len(cutoffs),
                step_size=task.horizon,
                refit=False,
            )
        return _peer_forecasts(
            cv.reset_index(),
            name,
            y,
            cutoffs,
            f"{name}-median",
            lambda q: _interval_column(name, q, f"{name}-median"),
        )

    return run


def contestants(smoke: bool = False) -> dict[str, Contestant]:
    tiny = {"d_model": 8, "num_layers": 1, "max_epochs": 1, "ensemble_size": 1} if smoke else {}
    out = {
        f"ssmcast {model}": Contestant(
            f"ssmcast {model}", "ssmcast", _ssmcast_backtest(_ssm(model, **tiny)), seeded=True
        )
        for model in ("s5", "mamba", "hybrid")
    }
    for cls in (baselines.Naive, baselines.SeasonalNaive, baselines.Climatology, baselines.Drift):
        out[cls.__name__] = Contestant(cls.__name__, "baseline", _ssmcast_backtest(_baseline(cls)))
    for name, make in statsforecast_models().items():
        window = statsforecast_window(name)
        out[name] = Contestant(
            name,
            "statsforecast",
            _statsforecast(make, window),
            available=_missing("statsforecast"),
        )
    for name in ("NHITS", "PatchTST"):
        out[name] = Contestant(
            name,
            "neuralforecast",
            _neuralforecast(name),
            seeded=True,
            available=_missing("neuralforecast"),
        )
    return out


# --------------------------------------------------------------------------------------------
# Scoring


def mase_scale(y: pd.Series) -> float:
    """In-sample MAE of the seasonal naive forecast on the training part of ``y``."""
    train = y.to_numpy(float)[: int(TRAIN_FRACTION * len(y))]
    s = season_length(y.index.freq)
    return float(np.nanmean(np.abs(train[s:] - train[:-s])))


def score(forecasts: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """MASE, MAE, RMSE, CRPS and 80% coverage of a forecasts frame against the truth ``y``."""
    truth = y.reindex(pd.DatetimeIndex(forecasts["ds"])).to_numpy(float)
    point = forecasts["yhat"].to_numpy(float)
    # crossing quantiles (a quantile-loss network may give them) are sorted, for every entry
    quantiles = np.sort(forecasts[[f"q{q:g}" for q in LEVELS]].to_numpy(float), axis=-1)
    if not np.isfinite(point).all() or not np.isfinite(quantiles).all():
        raise RuntimeError("the forecasts contain NaN or infinite values")
    keep = ~np.isnan(truth)
    truth, point, quantiles = truth[keep], point[keep], quantiles[keep]
    low, high = LEVELS.index(0.1), LEVELS.index(0.9)
    mae = float(metrics.mae(truth, point))
    return {
        "MASE": mae / mase_scale(y),
        "MAE": mae,
        "RMSE": float(metrics.rmse(truth, point)),
        "CRPS": float(metrics.crps_quantiles(truth, quantiles, LEVELS)),
        "coverage": float(metrics.interval_coverage(truth, quantiles[:, low], quantiles[:, high])),
        "count": int(keep.sum()),
    }


# --------------------------------------------------------------------------------------------
# Running


def _done(path: Path) -> set[tuple[str, str, int]]:
    if not path.exists():
        return set()
    frame = pd.read_csv(path)
    frame = frame[frame["error"].isna()]  # a failed run is tried again
    return {(r.task, r.contestant, int(r.seed)) for r in frame.itertuples()}


def _append(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow({key: row.get(key, "") for key in FIELDS})


def run(
    tasks: Sequence[Task], chosen: Sequence[Contestant], seeds: int, out: Path
) -> list[dict[str, Any]]:
    """Run every contestant on every task (and seed) not yet in ``out``; return new rows."""
    done, rows = _done(out), []
    for task in tasks:
        y = task.load()
        for contestant in chosen:
            why = contestant.available()
            if why is not None:
                print(f"skip {contestant.name}: {why}", flush=True)
                continue
            for seed in range(seeds if contestant.seeded else 1):
                if (task.name, contestant.name, seed) in done:
                    continue
                row = {
                    "task": task.name,
                    "horizon": task.horizon,
                    "freq": y.index.freqstr,
                    "contestant": contestant.name,
                    "family": contestant.family,
                    "seed": seed,
                }
                start = time.perf_counter()
                try:
                    row.update(score(contestant.run(task, y, seed), y))
                except Exception as err:  # a peer that fails is reported, not fatal
                    row["error"] = f"{type(err).__name__}: {err}".replace("\n", " ")[:300]
                row["seconds"] = round(time.perf_counter() - start, 2)
                _append(out, row)
                rows.append(row)
                shown = row.get("error") or f"MASE {row['MASE']:.3f}"
                print(
                    f"{task.name:28s} {contestant.name:16s} seed {seed}  {shown}  "
                    f"({row['seconds']:.0f} s)",
                    flush=True,
                )
    return rows


# --------------------------------------------------------------------------------------------
# Report


def versions() -> str:
    names = ["ssmcast", "jax", "statsforecast", "neuralforecast", "torch"]
    found = []
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return ", ".join(found)


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean (and standard deviation over seeds) of each score per task and contestant."""
    ok = frame[frame["error"].isna()] if "error" in frame else frame
    grouped = ok.groupby(["task", "contestant"], sort=False)
    table = grouped[["MASE", "MAE", "RMSE", "CRPS", "coverage"]].mean()
    table["MASE_sd"] = grouped["MASE"].std()
    table["seeds"] = grouped["seed"].count()
    return table.reset_index()


def _fmt(value: float, digits: int = 3) -> str:
    return (
        ""
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def goals(
    table: pd.DataFrame, model: str = "ssmcast s5", task_set: Sequence[Task] = TASKS
) -> list[str]:
    """The goals for the default model, checked task by task over ``task_set``."""
    mase = table.pivot(index="task", columns="contestant", values="MASE")
    tasks = [t.name for t in task_set if t.name in mase.index]
    lines = []
    if model not in mase:
        return lines
    mine = mase.loc[tasks, model]
    if "SeasonalNaive" in mase:
        wins = (mine < mase.loc[tasks, "SeasonalNaive"]).sum()
        lines.append(f"{model} beats SeasonalNaive (MASE) on {wins} of {len(tasks)} series.")
    if "AutoETS" in mase and mase["AutoETS"].notna().any():
        ets = mase.loc[tasks, "AutoETS"]
        wins = (mine < ets).sum()
        lines.append(f"{model} beats AutoETS on {wins} of {ets.notna().sum()} series.")
    peers = [c for c in mase if c not in ("Naive", "SeasonalNaive", "Climatology", "Drift")]
    peers = [c for c in peers if not c.startswith("ssmcast")]
    with_peers = [t for t in tasks if peers and mase.loc[t, peers].notna().any()]
    if with_peers:
        wins = (mine[with_peers] < mase.loc[with_peers, peers].min(axis=1)).sum()
        lines.append(
            f"{model} beats the best peer on {wins} of the {len(with_peers)} series the peers "
            "ran on (goal: at least 80%)."
        )
    rows = table[table["contestant"] == model].set_index("task").reindex(tasks)
    calibrated = rows["coverage"].between(0.75, 0.85).sum()
    lines.append(
        f"{model}'s 80% interval covers 0.75 to 0.85 on {calibrated} of {len(tasks)} series "
        "(goal: at least 80%)."
    )
    seeded = rows[rows["seeds"] > 1]
    if len(seeded):
        steady = (seeded["MASE_sd"] <= 0.02).sum()
        lines.append(
            f"{model}'s MASE varies by at most 0.02 (standard deviation over seeds) on {steady} "
            f"of {len(seeded)} series (goal: all); the largest is "
            f"{seeded['MASE_sd'].max():.3f}."
        )
    if peers:
        hourly = [t for t in HOURLY_WEATHER if t in mase.index and mase.loc[t, peers].notna().any()]
        best = mase.loc[hourly, peers].min(axis=1)
        who = mase.loc[hourly, peers].idxmin(axis=1)
        for task in hourly:
            verdict = "no worse than" if mine[task] <= best[task] else "worse than"
            lines.append(
                f"{task}: {model} MASE {mine[task]:.3f}, {verdict} the best peer "
                f"({who[task]} {best[task]:.3f})."
            )
    return lines


def _matrix(
    table: pd.DataFrame,
    tasks: list[str],
    order: list[str],
    metric: str,
    *,
    spread: bool = False,
    digits: int = 3,
    best: str | None = "min",
) -> list[str]:
    """A Markdown table of one score: a row per contestant, a column per task."""
    lines = ["| contestant | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    wide = table.pivot(index="task", columns="contestant", values=metric)
    top = wide.min(axis=1) if best == "min" else None
    for name in order:
        cells = []
        for task in tasks:
            row = table[(table["task"] == task) & (table["contestant"] == name)]
            if row.empty:
                cells.append("—")
                continue
            r = row.iloc[0]
            cell = _fmt(r[metric], digits)
            if spread and r["seeds"] > 1:
                cell += f" ± {_fmt(r[f'{metric}_sd'], digits)}"
            if top is not None and math.isclose(r[metric], top[task]):
                cell = f"**{cell}**"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def report(
    csv_path: Path,
    report_path: Path,
    figure_path: Path | None,
    task_set: Sequence[Task] = TASKS,
) -> str:
    """Markdown tables (and a figure) from the results CSV; written to ``report_path``.

    The tables show the tasks of ``task_set`` found in the CSV, in its order.
    """
    frame = pd.read_csv(csv_path)
    table = summarise(frame)
    family_order = ["ssmcast", "statsforecast", "neuralforecast", "baseline"]
    known = contestants()
    present = list(dict.fromkeys(table["contestant"]))
    order = sorted(
        present,
        key=lambda name: (
            family_order.index(known[name].family) if name in known else len(family_order),
            list(known).index(name) if name in known else 0,
        ),
    )
    tasks = [t.name for t in task_set if t.name in set(table["task"])]
    command = "python benchmarks/accuracy.py" + (" --holdout" if task_set is HOLDOUT else "")
    lines = [
        f"Results of `{command}` ({len(frame)} runs), summarised on "
        f"{pd.Timestamp.now():%Y-%m-%d}: {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, {versions()}.",
        "",
        "**MASE** (lower is better; mean over seeds, ± standard deviation where several):",
        "",
        *_matrix(table, tasks, order, "MASE", spread=True),
        "",
        "**CRPS** (in the units of each series, lower is better; mean over seeds):",
        "",
        *_matrix(table, tasks, order, "CRPS"),
        "",
        "**Coverage of the 80% interval** (0.80 is ideal; mean over seeds):",
        "",
        *_matrix(table, tasks, order, "coverage", digits=2, best=None),
    ]
    lines += ["", "**Goals for the default model:**", ""]
    lines += [f"* {line}" for line in goals(table, task_set=task_set)]
    key = ["task", "contestant", "seed"]
    failed = frame[frame["error"].notna()]
    succeeded = frame[frame["error"].isna()].set_index(key).index
    errors = failed[~failed.set_index(key).index.isin(succeeded)]  # not retried with success
    if len(errors):
        lines += ["", "**Runs that failed** (not in the tables):", ""]
        for r in errors.drop_duplicates(["task", "contestant"]).itertuples():
            lines.append(f"* {r.task}, {r.contestant}: {r.error}")
    for task in tasks:
        rows = table[table["task"] == task].set_index("contestant")
        rows = rows.loc[[name for name in order if name in rows.index]].reset_index()
        lines += [
            "",
            f'??? note "{task} (horizon {int(frame[frame["task"] == task]["horizon"].iloc[0])}): '
            'all scores"',
            "",
            "    | contestant | MASE | MAE | RMSE | CRPS | 80% coverage | seeds |",
            "    |---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows.itertuples():
            lines.append(
                f"    | {r.contestant} | {_fmt(r.MASE)} | {_fmt(r.MAE)} | {_fmt(r.RMSE)} | "
                f"{_fmt(r.CRPS)} | {_fmt(r.coverage, 2)} | {r.seeds} |"
            )
    text = "\n".join(lines) + "\n"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(text, encoding="utf-8")
    if figure_path is not None:
        _figure(table, tasks, order, figure_path)
    return text


def _figure(table: pd.DataFrame, tasks: list[str], order: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mase = table.pivot(index="task", columns="contestant", values="MASE").loc[tasks]
    ratio = mase.div(mase["SeasonalNaive"], axis=0) if "SeasonalNaive" in mase else mase
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(tasks) + 1.5))
    markers = "os^DvP*Xh"
    shown = [name for name in order if name not in ("Naive", "Drift", "Climatology")]
    for i, name in enumerate(shown):
        offset = (i - (len(shown) - 1) / 2) * 0.06  # spread the contestants of a row
        rows = np.arange(len(tasks)) + offset
        if name == "ssmcast s5":
            style = {"color": "C3", "ms": 9, "zorder": 3, "markeredgecolor": "black"}
        else:
            style = {"ms": 6, "alpha": 0.85}
        ax.plot(ratio[name], rows, markers[i % len(markers)], label=name, linestyle="none",
                **style)  # fmt: skip
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(range(len(tasks)), tasks)
    ax.invert_yaxis()
    ax.set_xlabel("MASE relative to SeasonalNaive (lower is better)")
    ax.set_title("Naive, Drift and Climatology are left out (off the scale on most series)",
                 fontsize=9)  # fmt: skip
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", help="comma-separated task names (default: all)")
    parser.add_argument("--contestants", help="comma-separated contestants (default: all)")
    parser.add_argument("--seeds", type=int, default=SEEDS, help="seeds of the deep models")
    parser.add_argument("--out", type=Path, help="the results CSV (default: the docs' CSV)")
    parser.add_argument("--report", action="store_true", help="only write tables and figure")
    parser.add_argument(
        "--holdout",
        action="store_true",
        help="the held-out series (HOLDOUT) instead of the main ones, in their own CSV",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="one small task, tiny models, one seed"
    )
    args = parser.parse_args(argv)
    task_set = HOLDOUT if args.holdout else TASKS
    if args.out is None:
        args.out = HOLDOUT_CSV_PATH if args.holdout else CSV_PATH
    if args.report:
        if args.holdout:
            print(report(args.out, HOLDOUT_REPORT_PATH, None, task_set=HOLDOUT))
        else:
            print(report(args.out, REPORT_PATH, FIGURE_PATH))
        return 0
    pool = contestants(smoke=args.smoke)
    tasks = task_set
    if args.smoke:
        tasks = [t for t in TASKS if t.name == "seattle_weather/temp_max"]
    if args.tasks:
        wanted = [name.strip() for name in args.tasks.split(",")]
        known = {t.name for t in task_set} | {t.dataset for t in task_set}
        if unknown := [w for w in wanted if w not in known]:
            parser.error(f"unknown tasks {unknown}; choose tasks or datasets from {sorted(known)}")
        tasks = [t for t in task_set if t.name in wanted or t.dataset in wanted]
    chosen = list(pool.values())
    if args.contestants:
        wanted = [name.strip() for name in args.contestants.split(",")]
        unknown = [w for w in wanted if w not in pool and f"ssmcast {w}" not in pool]
        if unknown:
            parser.error(f"unknown contestants {unknown}; choose from {list(pool)}")
        chosen = [c for c in chosen if c.name in wanted or c.name[len("ssmcast ") :] in wanted]
    if args.smoke:
        chosen = [c for c in chosen if c.family in ("ssmcast", "baseline")]
        args.seeds = 1
    rows = run(tasks, chosen, args.seeds, args.out)
    print(f"{len(rows)} new runs written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
