"""The sktime adapter: sktime's own estimator checks, the index conversions, and the import.

sktime is optional (the ``sktime`` extra, part of ``dev``): without it, only the import tests
run. Models are tiny (``get_test_params``), and compiled programs persist in the session's
compilation cache (see ``conftest.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from ssmcast import datasets


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_ssmcast_imports_without_sktime_and_says_how_to_install_it():
    # one interpreter for both checks (starting JAX takes seconds)
    result = _python(
        "import sys, ssmcast, ssmcast.backtesting, ssmcast.plot\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sktime'))\n"
        "sys.modules['sktime'] = None\n"  # as if sktime were not installed
        "try:\n"
        "    import ssmcast.sktime\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    assert result.returncode == 0, result.stderr
    imported, message = result.stdout.strip().split("\n", 1)
    assert imported == "[]", "importing ssmcast must not import sktime"
    assert 'pip install "ssmcast[sktime]"' in message


# --- with sktime -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adapter():
    pytest.importorskip("sktime", reason="the sktime extra (part of dev)")
    from ssmcast.sktime import SSMCastForecaster

    return SSMCastForecaster


def _tiny(cls, **overrides):
    return cls(**{**cls.get_test_params()[0], **overrides})


# sktime's suite, as two test items that two workers share: the object and estimator tests
# (fit, predict, clone, pickle on univariate, multivariate, panel and hierarchical data), and
# the forecaster tests. Every distinct data shape compiles new XLA programs, so the full
# forecaster tests (many index types, update windows and lengths) take many minutes on a
# 2-core machine (7.5 minutes with a cold compilation cache on a loaded one): they run with
# SSMCAST_SKTIME_FULL=1 (all of them passed when this test was written). By default, the
# forecaster checks below run: each path once (panel and hierarchical data with X, unequal
# lengths, update with X, the errors sktime expects); intervals and quantiles are checked
# by the estimator checks and the tests further down.
_QUICK = [
    "test_different_fh_in_fit_and_predict_error_handling",
    "test_fh_not_passed_error_handling",
    "test_hierarchical_with_exogenous",
    "test_pred_int_tag",
    "test_predict_series_name_preserved",
    "test_raises_not_fitted_error",
    "test_unequal_length_hierarchical_fit_predict",
    "test_update_tag",
    "test_update_with_exogenous_variables",
]


@pytest.mark.parametrize("part", ["estimator", "forecaster"])
def test_sktime_check_estimator(adapter, part):
    from sktime.forecasting.tests.test_all_forecasters import TestAllForecasters
    from sktime.utils.estimator_checks import check_estimator

    forecaster_tests = sorted(n for n in dir(TestAllForecasters) if n.startswith("test_"))
    if part == "estimator":
        # the adapter's doctests run in this suite already (--doctest-modules)
        split = {"tests_to_exclude": [*forecaster_tests, "test_doctest_examples"]}
    elif os.environ.get("SSMCAST_SKTIME_FULL") == "1":
        split = {"tests_to_run": forecaster_tests}
    else:
        split = {"tests_to_run": _QUICK}
    instance = adapter(**adapter.get_test_params()[0])  # one set: the second shares its programs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # sktime 1.2's notice on remember_data
        results = check_estimator(instance, raise_exceptions=True, verbose=False, **split)
    assert results and set(results.values()) == {"PASSED"}


# --- the conversions, without a model -----------------------------------------------------------


def test_time_axis_of_each_index_type(adapter):
    from ssmcast.sktime._convert import TimeAxis

    periods = pd.period_range("2020-01", periods=4, freq="M")
    axis = TimeAxis.from_index(periods, None, "y")
    assert axis.kind == "period" and axis.freq == pd.offsets.MonthBegin()
    assert axis.to_datetime(periods, "y")[0] == pd.Timestamp("2020-01-01")

    ints = pd.Index([10, 12, 14, 18])  # spacing 2, one step absent
    axis = TimeAxis.from_index(ints, None, "y")
    assert (axis.kind, axis.origin, axis.step) == ("integer", 10, 2)
    stamps = axis.to_datetime(ints, "y")
    steps = (stamps - stamps[0]) // pd.Timedelta(microseconds=1)
    assert steps.tolist() == [0, 1, 2, 4]  # a step of the index is a microsecond
    # the calendar does not move: same hour, minute and second at every step
    assert stamps.hour.nunique() == stamps.minute.nunique() == stamps.second.nunique() == 1
    with pytest.raises(ValueError, match="off the grid"):
        axis.to_datetime(pd.Index([13]), "y")

    irregular = pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-05", "2020-01-06"])
    with pytest.raises(ValueError, match="`y` has no regular frequency"):
        TimeAxis.from_index(irregular, None, "y")
    with pytest.raises(TypeError, match="DatetimeIndex, a PeriodIndex or an integer"):
        TimeAxis.from_index(pd.Index(["a", "b"]), None, "y")


def test_panel_frames_round_trip_their_keys(adapter):
    from ssmcast.sktime._convert import Frames

    time = pd.period_range("2020-01", periods=3, freq="M")
    index = pd.MultiIndex.from_product([["b", "a"], ["x", "y"], time], names=["h0", "h1", "t"])
    y = pd.DataFrame({"v": np.arange(12.0)}, index=index)
    frames = Frames(y)
    assert frames.panel and frames.instances == [("b", "x"), ("b", "y"), ("a", "x"), ("a", "y")]
    long = frames.to_long(y, "y", frames.value_names())
    assert long["unique_id"].tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    out = frames.output_index(pd.period_range("2020-04", periods=2, freq="M"))
    assert out.names == ["h0", "h1", "t"] and len(out) == 8
    assert out[0] == ("b", "x", pd.Period("2020-04", "M"))
    with pytest.raises(ValueError, match="instances that the data passed to fit did not have"):
        frames.to_long(y.rename(index={"b": "c"}, level="h0"), "y", frames.value_names())
    with pytest.raises(ValueError, match="distinct names"):
        frames.covariate_names(pd.DataFrame({"ds": [1.0]}))


# --- one fitted model on an integer index --------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_on_integers(adapter):
    temp = datasets.load("beijing")["TEMP"].loc["2014-11-20":"2014-11-30"]
    y = pd.Series(temp.to_numpy(), index=pd.RangeIndex(100, 100 + len(temp)), name="TEMP")
    f = _tiny(adapter).fit(y.iloc[:-6], fh=[1, 2, 3])
    return f, y


def test_integer_index_round_trip(fitted_on_integers):
    f, y = fitted_on_integers
    assert f.forecaster_.seasons == () and f.forecaster_.horizon == 3  # no calendar, no season
    forecast = f.predict(fh=[1, 3, 5])  # 5 > horizon: rolls out
    assert forecast.index.tolist() == [y.index[-7] + k for k in (1, 3, 5)]  # after the cutoff
    assert forecast.name == "TEMP" and np.isfinite(forecast).all()
    intervals = f.predict_interval(fh=[1, 2], coverage=[0.5, 0.9])
    lower, upper = intervals[("TEMP", 0.9, "lower")], intervals[("TEMP", 0.9, "upper")]
    assert (lower <= intervals[("TEMP", 0.5, "lower")]).all() and (upper > lower).all()


def test_update_skips_what_the_state_has_seen(fitted_on_integers):
    f, y = fitted_on_integers
    a, b = f.clone(), f.clone()
    a.fit(y.iloc[:-6], fh=[1, 2, 3])
    b.fit(y.iloc[:-6], fh=[1, 2, 3])
    a.update(y.iloc[-6:-3])
    b.update(y.iloc[-20:-3])  # overlaps the fitted data: those steps are already in the state
    assert a.cutoff[0] == b.cutoff[0] == y.index[-4]
    pd.testing.assert_series_equal(a.predict(), b.predict())
