"""Plots render with the Agg backend, hold the expected artists, and save to PNG."""

from __future__ import annotations

import functools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from ssmcast import backtest, datasets
from ssmcast.baselines import Naive, SeasonalNaive
from ssmcast.plot import plot_error_by_lead, plot_forecast, plot_grid, plot_origins


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@functools.cache
def temp() -> pd.Series:
    return datasets.load("beijing")["TEMP"].loc["2014-01-01":"2014-01-14"]


@functools.cache
def result(model: str = "seasonal", levels: tuple | None = (0.1, 0.5, 0.9)):
    make = SeasonalNaive if model == "seasonal" else Naive
    return backtest(make(), temp(), horizon=24, start=-96, levels=levels, progress=False)


@functools.cache
def nyc_result():
    data = datasets.load("nyc_weather", as_="xarray")["temp"].isel(time=slice(0, 300))
    return backtest(SeasonalNaive(), data, horizon=12, start=240, stride=12, progress=False)


def bands(ax) -> list:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def test_plot_forecast(tmp_path):
    forecaster = SeasonalNaive(horizon=24).fit(temp())
    quantiles = forecaster.predict_quantiles([0.05, 0.1, 0.5, 0.9, 0.95])
    ax = plot_forecast(temp(), forecaster.predict(), quantiles, history_steps=72, title="TEMP")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["history", "forecast"]
    assert len(lines[0].get_xdata()) == 72 and len(lines[1].get_xdata()) == 24
    assert len(bands(ax)) == 2  # 90% and 80% intervals; the median is not a band
    assert ax.get_title() == "TEMP" and ax.get_ylabel() == "TEMP"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "forecast 90% interval" in labels and "forecast 80% interval" in labels
    path = tmp_path / "forecast.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000


def test_plot_forecast_draws_on_the_given_axes():
    _, (left, right) = plt.subplots(1, 2)
    forecast = Naive(horizon=6).fit(temp()).predict()
    assert plot_forecast(temp(), forecast, ax=right, label="naive") is right
    assert not left.get_lines() and [line.get_label() for line in right.get_lines()] == [
        "history",
        "naive",
    ]
    assert not bands(right)


def test_plot_forecast_refuses_several_series():
    frame = datasets.load("beijing").loc["2014-01-01", ["TEMP", "DEWP"]]
    with pytest.raises(TypeError, match="`history` of plot_forecast must be one series"):
        plot_forecast(frame, frame["TEMP"])


def test_plot_error_by_lead_several_models(tmp_path):
    results = {"seasonal naive": result("seasonal"), "naive": result("naive")}
    ax = plot_error_by_lead(results, metric="RMSE")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["seasonal naive", "naive"]
    assert list(lines[1].get_xdata()) == list(range(1, 25))
    assert list(lines[1].get_ydata()) == results["naive"].metrics.by_lead["RMSE"].tolist()
    assert ax.get_ylabel() == "RMSE" and ax.get_xlabel() == "lead time (steps of h)"
    ax.figure.savefig(tmp_path / "error.png")
    with pytest.raises(ValueError, match=r"'metric'.*CRPS"):
        plot_error_by_lead(result("naive", None), metric="CRPS")


def test_error_by_lead_of_one_result_is_labelled_by_its_forecaster():
    ax = plot_error_by_lead(result("seasonal"), metric="CRPS")
    assert [line.get_label() for line in ax.get_lines()] == ["SeasonalNaive"]


def test_plot_origins(tmp_path):
    res = result("seasonal")
    ax = plot_origins(res, origins=[0, res.cutoffs[-1]])
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == [
        "truth",
        f"from {res.cutoffs[0]:%Y-%m-%d %H:%M}",
        f"from {res.cutoffs[-1]:%Y-%m-%d %H:%M}",
    ]
    assert len(bands(ax)) == 2 and ax.get_title() == "TEMP"
    assert len(ax.get_lines()[1].get_xdata()) == 24
    ax.figure.savefig(tmp_path / "origins.png")
    default = plot_origins(res)
    assert len(default.get_lines()) == 1 + 3
    with pytest.raises(ValueError, match="not a cutoff"):
        plot_origins(res, origins=["2014-01-13 05:00"])
    with pytest.raises(ValueError, match="'series'"):
        plot_origins(res, series="DEWP")


def test_plot_grid(tmp_path):
    fig = plot_grid(nyc_result(), ncols=2, origins=[0, 2])
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["EWR", "JFK", "LGA"]
    assert len(fig.axes) == 4 and all(len(ax.get_lines()) == 3 for ax in visible)
    path = tmp_path / "grid.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000
    assert len(plot_grid(nyc_result(), series=["JFK"]).axes) == 1
    with pytest.raises(ValueError, match="'ncols'"):
        plot_grid(nyc_result(), ncols=0)
