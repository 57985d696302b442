"""Time rolling backtests: the loop of update + predict against a refit loop (and one pass).

Every contestant backtests the same series from the same origins (hourly temperature in
Beijing, daily origins, a 24-step horizon) and the table prints the median seconds over a
few repeats, the milliseconds per origin, and the ratio to its model's reference: the first
contestant of that model in ``CONTESTANTS`` (the update loop). A second table times one
``fit`` and one ``predict`` of each model on the history up to the last origin, the yardstick
of the evaluation issue (a 200-origin backtest of an SSM should cost at most 3 predicts).

The SSM estimator (default size, a short training budget: its accuracy is not the point
here) runs three ways: one parallel pass over all origins, the loop of update + predict, and
a refit every 50 origins. For it, the last table sets the forecasting cost of the one-pass
backtest (its time less one ``fit``) against one parallel pass over the same history.

A peer's rolling evaluation runs on the same series and origins: statsforecast's
``cross_validation`` (``n_jobs=1``) with its SeasonalNaive and AutoETS (season 24), each
without refit (fit once at the first origin, then ``forward`` over the data up to each
cutoff, as our update loop does) and with a refit at every origin. Its windows end at the end
of the series, so the series it gets is padded with NaN up to the last lead of the last
origin (our last origin has only 23 steps of data after it); the padded step is a target
only, never an input, and is not scored. The cutoffs are checked to equal ours. AutoETS with
a refit at every origin is timed on the last ``REFIT_SAMPLE`` origins only (one in
``--quick``) and scaled to all of them (a fit costs seconds). The peer table gives each
contestant's ratio to the SSM one-pass backtest and its MAE; SeasonalNaive's forecasts are
compared with ours point by point. Peers need the ``bench`` extra
(``pip install ".[bench]"``); without it they are skipped.

Run:  python benchmarks/backtest.py            (200 origins over 2014)
      python benchmarks/backtest.py --quick    (20 origins, seconds)
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ssmcast import SSMForecaster, backtest, datasets
from ssmcast.baselines import Climatology, Naive, SeasonalNaive
from ssmcast.models import ensemble_pass, model_inputs

try:  # the peer, from the optional `bench` extra
    import statsforecast
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS
    from statsforecast.models import SeasonalNaive as PeerSeasonalNaive
except ImportError:
    statsforecast = None

HORIZON = 24
STRIDE = 24
REFIT_SAMPLE = 2  # origins timed for a peer too slow to refit at all of them


@dataclasses.dataclass(frozen=True)
class Contestant:
    """A forecaster factory and the backtest options that make one timed run."""

    model: str
    make: Callable[[], Any]
    refit: bool | int = False
    method: str = "auto"


CONTESTANTS: dict[str, Contestant] = {
    "Naive: update loop": Contestant("Naive", Naive, method="loop"),
    "Naive: refit loop": Contestant("Naive", Naive, refit=True),
    "SeasonalNaive: update loop": Contestant("SeasonalNaive", SeasonalNaive, method="loop"),
    "SeasonalNaive: refit every 10": Contestant("SeasonalNaive", SeasonalNaive, refit=10),
    "SeasonalNaive: refit loop": Contestant("SeasonalNaive", SeasonalNaive, refit=True),
    "Climatology: update loop": Contestant("Climatology", Climatology, method="loop"),
    "Climatology: refit loop": Contestant("Climatology", Climatology, refit=True),
}
make_ssm = functools.partial(SSMForecaster, max_epochs=2, random_state=0, progress=False)
CONTESTANTS.update(
    {
        "SSMForecaster: one pass": Contestant("SSMForecaster", make_ssm, method="one_pass"),
        "SSMForecaster: update loop": Contestant("SSMForecaster", make_ssm, method="loop"),
        "SSMForecaster: refit every 50": Contestant("SSMForecaster", make_ssm, refit=50),
    }
)


@dataclasses.dataclass(frozen=True)
class Peer:
    """A statsforecast model factory and the cross_validation options of one timed run."""

    make: Callable[[], Any]
    refit: bool = False
    sampled: bool = False  # timed on the last REFIT_SAMPLE origins, scaled to all


def peer_contestants() -> dict[str, Peer]:
    if statsforecast is None:
        return {}
    season = functools.partial(PeerSeasonalNaive, season_length=24)
    ets = functools.partial(AutoETS, season_length=24)
    return {
        "SeasonalNaive: no refit": Peer(season),
        "SeasonalNaive: refit loop": Peer(season, refit=True),
        "AutoETS: no refit": Peer(ets),
        "AutoETS: refit loop": Peer(ets, refit=True, sampled=True),
    }


def peer_frame(y: pd.Series, last_origin: int) -> pd.DataFrame:
    """Statsforecast's long format, ending ``HORIZON`` steps after the last origin.

    ``cross_validation`` puts the last cutoff ``h`` steps before the end of the series, so
    the series is cut or padded with NaN (a target only, never seen by a model) to end there.
    """
    time = pd.date_range(y.index[0], periods=last_origin + HORIZON + 1, freq=y.index.freq)
    return pd.DataFrame({"unique_id": y.name, "ds": time, "y": y.reindex(time).to_numpy()})


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 origins, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    num_origins = 20 if args.quick else 200
    repeats = 1 if args.quick else args.repeats
    temp = datasets.load("beijing")["TEMP"].loc["2013-01-01":]
    start = len(temp) - num_origins * STRIDE + 1  # the last origin has one step left
    print(
        f"backtest of {len(temp)} hourly steps, {num_origins} origins every {STRIDE} steps, "
        f"horizon {HORIZON}; {platform.processor() or platform.machine()}, median of {repeats}"
    )

    results, reference, backtests = {}, {}, {}
    for name, contestant in CONTESTANTS.items():

        def run(contestant=contestant):
            return backtest(
                contestant.make(),
                temp,
                horizon=HORIZON,
                start=start,
                stride=STRIDE,
                refit=contestant.refit,
                method=contestant.method,
                progress=False,
            )

        result = run()  # warm up (and jit, for the SSM)
        assert len(result.cutoffs) == num_origins, len(result.cutoffs)
        backtests[name] = result
        seconds = median_seconds(run, repeats)
        reference.setdefault(contestant.model, seconds)
        results[name] = (seconds, result.method, seconds / reference[contestant.model])

    width = max(map(len, results)) + 2
    print(f"\n{'contestant':<{width}}{'path':>9}{'seconds':>10}{'ms/origin':>11}{'ratio':>8}")
    for name, (seconds, path, ratio) in results.items():
        per_origin = 1e3 * seconds / num_origins
        print(f"{name:<{width}}{path:>9}{seconds:>10.3f}{per_origin:>11.2f}{ratio:>8.2f}")

    peers = peer_contestants()
    if not peers:
        print('\nstatsforecast is not installed: peers skipped (pip install ".[bench]")')
    else:
        origins = start - 1 + STRIDE * np.arange(num_origins)
        df = peer_frame(temp, origins[-1])
        one_pass = results["SSMForecaster: one pass"][0]
        sample = 1 if args.quick else REFIT_SAMPLE
        print(
            f"\npeer: statsforecast {statsforecast.__version__} cross_validation, same origins, "
            "n_jobs=1; ratio to the SSM one-pass backtest"
        )
        labels = {
            name: f"{name} (last {sample}, scaled)" if peer.sampled else name
            for name, peer in peers.items()
        }
        pw = max(width, *(len(label) + 2 for label in labels.values()))
        print(f"{'contestant':<{pw}}{'seconds':>10}{'ms/origin':>11}{'ratio':>8}{'MAE':>8}")
        for name, peer in peers.items():
            windows = sample if peer.sampled else num_origins

            def cross_validation(peer=peer, windows=windows):
                sf = StatsForecast(models=[peer.make()], freq="h", n_jobs=1)
                return sf.cross_validation(
                    df=df, h=HORIZON, step_size=STRIDE, n_windows=windows, refit=peer.refit
                )

            cv = cross_validation()  # warm up (and the forecasts, checked below)
            cutoffs = pd.DatetimeIndex(cv["cutoff"].unique())
            assert cutoffs.equals(temp.index[origins[-windows:]]), (cutoffs, windows)
            # one timed run for a sampled peer (a refit costs seconds), scaled to all origins
            seconds = median_seconds(cross_validation, 1 if peer.sampled else repeats)
            seconds *= num_origins / windows
            yhat = cv.columns[-1]
            scored = cv.dropna(subset="y")
            mae = (scored["y"] - scored[yhat]).abs().mean()
            mae_text = f"{mae:>8.3f}" if not peer.sampled else f"{'-':>8}"
            per_origin = 1e3 * seconds / num_origins
            print(
                f"{labels[name]:<{pw}}{seconds:>10.3f}{per_origin:>11.2f}"
                f"{seconds / one_pass:>8.2f}{mae_text}"
            )
            if name == "SeasonalNaive: no refit":
                ours = backtests["SeasonalNaive: update loop"]
                both = ours.forecasts.merge(scored, on=["cutoff", "ds"])
                assert len(both) == len(ours.forecasts) == len(scored), (len(both), len(scored))
                gap = float((both["yhat"] - both[yhat]).abs().max())
                peer_season = (name, mae, len(scored), gap, ours.metrics.overall["MAE"])

        name, mae, points, gap, ours_mae = peer_season
        print(
            f"SeasonalNaive MAE over the same {points} scored points: statsforecast ({name}) "
            f"{mae:.4f}, ssmcast (update loop) {ours_mae:.4f}; largest gap between the two "
            f"forecasts {gap:.3g}"
        )

    history = temp.iloc[: start - 1 + (num_origins - 1) * STRIDE + 1]
    print(f"\nyardstick on the {len(history)}-step history up to the last origin")
    print(f"{'model':<{width}}{'fit ms':>10}{'predict ms':>12}")
    fit_times = {}
    for model, make in {c.model: c.make for c in CONTESTANTS.values()}.items():
        fitted = make(horizon=HORIZON).fit(history)  # warm up (and jit, for the SSM)
        fit_ms = 1e3 * median_seconds(lambda make=make: make(horizon=HORIZON).fit(history), repeats)
        predict_ms = 1e3 * median_seconds(fitted.predict, max(repeats, 5))
        fit_times[model] = (fit_ms, fitted)
        print(f"{model:<{width}}{fit_ms:>10.2f}{predict_ms:>12.3f}")

    fit_ms, f = fit_times["SSMForecaster"]
    values = history.to_numpy()[None, :, None]
    from ssmcast.data import calendar_features

    x, mask = model_inputs(
        f.scaler_.transform(values), None, calendar_features(history.index, f.freq_).values
    )
    dt = np.ones(len(history))
    s = f.fitted_.state  # the fitted value: network, recurrent state, scalers
    pass_ms = 1e3 * median_seconds(
        lambda: np.asarray(ensemble_pass(s.graphdef, s.params, x, dt, mask)[0].loc), repeats
    )
    one_pass_ms = 1e3 * results["SSMForecaster: one pass"][0]
    forecasting_ms = one_pass_ms - fit_ms
    print(
        f"\nSSM one-pass backtest of {num_origins} origins: {one_pass_ms:.0f} ms in all, "
        f"{forecasting_ms:.0f} ms beyond one fit; one parallel pass over the history "
        f"(what predict costs a model that re-encodes): {pass_ms:.0f} ms; "
        f"ratio {forecasting_ms / pass_ms:.2f}x (goal: at most 3x)"
    )


if __name__ == "__main__":
    main()
