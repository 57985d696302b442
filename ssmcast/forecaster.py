"""SSMForecaster: a state space model forecaster with the scikit-learn estimator API.

The estimator is the only place with fitted state. Data flows one way: the data layer turns
the caller's frames into scaled arrays, the network (:mod:`ssmcast.models`) reads them in
parallel mode for training and in recurrent mode for updates, and the data layer turns
forecast arrays back into the caller's layout.
"""

from __future__ import annotations

import difflib
import warnings
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from flax import nnx
from sklearn.base import clone

from ssmcast import io, training
from ssmcast._calibration import Tracker, calibration_factor, start_tracker
from ssmcast._checks import check_int, check_real, check_seed
from ssmcast._fitted_ssm import (
    SSMState,
    advance_state,
    batched_init_state,
    encode,
    forecast_origins,
    num_members_of,
    quantiles,
    rollout,
)
from ssmcast.base import BaseForecaster, Capabilities, FitMeta, Fitted, fitted_attribute
from ssmcast.data import (
    Panel,
    Scaler,
    active_client,
    fit_scaler,
    is_dask_backed,
    join_blocks,
    map_series_chunks,
    nominal_step,
    season_length,
    to_panel,
)
from ssmcast.models import MODEL_NAMES, build_model, ensemble_pass
from ssmcast.models._heads import NormalHead
from ssmcast.models._network import LEVEL_INPUTS
from ssmcast.models._seasonal import least_squares_mix

__all__ = ["SSMForecaster"]

FORMAT = "ssmcast-model"
# 2: seasonal base, staleness input, calibration, ensembles; 3: online calibration;
# 4: the level input (a format-4 network may read a running level that older readers lack);
# 5: the running level as a candidate of the seasonal base; 6: the last change as one too
FORMAT_VERSION = 6
# What a format-1 model (ssmcast 0.1) was, for the settings that file cannot name: its
# fitted state, and the parameters that reproduce that model when it is cloned and refitted
_FORMAT_1 = {"seasons": [], "staleness": False, "scale_factor": None, "members": None}
_FORMAT_1_PARAMS = {
    "seasons": (),
    "staleness": False,
    "calibrate": False,
    "segment_length": 256,
    "ensemble_size": 1,
    "clip_outliers": None,
}
# a format-2 model kept its calibration fixed after fit
_FORMAT_2_PARAMS = {"calibration_rate": 0.0}
# a model of format 3 or older read the targets' absolute values only
_FORMAT_3 = {"level_input": "absolute"}
# a model of format 4 or older had no running level in its seasonal base
_FORMAT_4 = {"base_level": False}
# a model of format 5 or older had no last-change candidate in its seasonal base
_FORMAT_5 = {"base_change": False}
_MEMBERS = ("params", "state")


class SSMForecaster(BaseForecaster):
    """Forecast with a state space model: fit once, then update in O(1) per observation.

    The network reads the series causally and, at every time step, forecasts the next
    ``horizon`` steps with a normal distribution per lead (the "forking sequences" scheme):
    training uses every position of long segments in one parallel scan, and a new
    observation advances the recurrent state in O(1). Forecasts start from persistence (the
    last observed value), so an untrained network is a sensible baseline. Calendar features
    (hour of day, day of week, day of year, as the frequency allows) are inputs. Missing
    values (NaN) are masked; missing timestamps become NaN rows.

    Args:
        model: ``"s5"`` (linear, time-invariant SSM), ``"mamba"`` (selective SSM) or
            ``"hybrid"`` (SSM blocks with sliding-window attention).
        horizon: Steps forecast from each origin; ``predict`` rolls out recursively beyond.
        d_model: Width of the network.
        num_layers: Number of residual blocks.
        state_dim: States per SSM layer; the layer's default when None.
        max_epochs: Most training epochs (each about one pass over the training range).
        batch_size: Training segments per step.
        segment_length: Time steps per training segment; when None, 256 or three times the
            longest season, whichever is longer (at most 1024). The first season of each
            segment (at most half of it) feeds the state and is not scored.
        learning_rate: Peak learning rate (the SSM parameters use a third of it).
        validation_fraction: Share of the observations held out at the end for early
            stopping (counted in observed values, so an outage does not empty the tail).
        patience: Epochs without a better validation loss before stopping.
        selection_window: Epochs (odd) whose mean validation loss judges each epoch, for
            early stopping and for the epoch whose parameters are kept: the epoch itself and
            ``selection_window // 2`` on each side. Where the validation loss is flat and
            noisy, one lucky epoch then decides neither (1 judges each epoch alone).
        loss: ``"crps"`` or ``"nll"`` (both train the probabilistic head).
        method: Scan method of the SSM layers (``"auto"`` picks by backend and size).
        freq: The data's frequency (a pandas alias); inferred when None.
        seasons: Season lengths (in steps) of the seasonal base the heads start from:
            ``"auto"`` takes the daily cycle from the frequency (24 hourly, 48 half-hourly,
            7 for daily data's week) and, below a day, the weekly one too; a tuple of ints;
            or ``()`` for persistence alone.
        staleness: Feed the time since the last observation, so that after an outage the
            network knows its persistence is stale and the base can lean on the season or
            the mean level.
        level_input: How the network reads the targets: ``"absolute"``, the values as they
            are; ``"local"``, their departure from a running level (the last observed value
            less its exponential moving average over the shortest season, a linear
            recurrence: O(1) per update), so that its inputs stay in the range seen in
            training when the level shifts (a month warmer than any in training); or
            ``"both"``. The level itself reaches the forecast through the seasonal base
            either way.
        calibrate: Rescale the forecast spread per lead so that the central 80% interval
            covers 80% of the last ``validation_fraction`` of the fitted observations (at
            least the last 10%): a split-conformal recalibration, by a factor between 0.5
            and 4 per lead.
        calibration_rate: With ``calibrate``, how fast the factors follow the errors after
            fit: every new observation scores the forecasts made before it, and each series,
            lead and channel moves its own factor up (in logs) by ``0.8 * calibration_rate``
            when the observation fell outside the 80% interval and down by ``0.2 *
            calibration_rate`` when inside, so the interval settles where it covers 80% of
            recent errors (online quantile tracking; about ``2 / calibration_rate`` recent
            forecasts count). The one-pass backtest does the same between its origins. 0
            keeps the factors of the fit.
        clip_outliers: Values farther than this many robust standard deviations (from the
            interquartile range) from their series' median are read clipped to that
            distance, in training and in updates, and do not inflate the scaling; fitting on
            such values warns. Forecasts stay in the data's units. None reads every value
            as it is.
        ensemble_size: Networks trained together from different seeds (one vmapped
            computation) and combined as an equal mixture: the forecast is their mean and
            the spread adds their disagreement to their own. More members give steadier
            forecasts across seeds, at about proportional training time on a CPU.
        random_state: Seed of the initialisation and training; random when None.
        progress: Show a progress bar while training.
        devices: Devices to train on, data parallel: None for every device of the default
            backend, an int for the first n, or a list of ``jax.Device``. Each step's batch
            of segments is split over them (see :func:`ssmcast.training.fit_ensemble`), so
            the forecasts match a one-device fit up to float rounding. Under
            ``jax.distributed.initialize``, None spans every process's devices and each
            process fits on its own share of the series (same timestamps); they train one
            model together and each keeps the state of its own series.

    Attributes:
        fitted_: Everything the fit learned, as one value: the shared
            :class:`~ssmcast.base.FitMeta` and the model's ``SSMState`` (network, recurrent
            state, last forecast, scalers, training record).
        history_: Training and validation loss per epoch.
        best_epoch_: The epoch whose parameters were kept (the latest over the members); -1
            when every member kept its untrained network, the least-squares seasonal base
            with the base's own spread, because no epoch scored better on the validation
            tail.
        cutoff_: The last timestamp seen (``fit`` or ``update``).
        freq_: The data's frequency (a pandas offset).
        layout_: How forecasts are rebuilt in the caller's layout.
        num_series_, num_channels_: The shape of the data.
        num_gaps_: Missing timestamps inserted as NaN rows at ``fit``.
        scaler_: The per-series, per-channel scaling statistics.
        input_dim_: Network inputs: targets, covariates and calendar features.
        devices_: The devices the fit trained on (a loaded model: the default devices).

    Examples:
        >>> from ssmcast import SSMForecaster, datasets
        >>> temp = datasets.load("beijing")["TEMP"].loc["2014-10-01":"2014-11-30"]
        >>> f = SSMForecaster(
        ...     horizon=6, d_model=8, max_epochs=1, ensemble_size=1, random_state=0, progress=False
        ... )
        >>> f.fit(temp).predict().index[0]
        Timestamp('2014-12-01 00:00:00')
        >>> f.predict_quantiles([0.1, 0.9]).shape
        (6, 2)
    """

    def __init__(
        self,
        model: str = "s5",
        horizon: int = 24,
        *,
        d_model: int = 32,
        num_layers: int = 2,
        state_dim: int | None = None,
        max_epochs: int = 20,
        batch_size: int = 16,
        segment_length: int | None = None,
        learning_rate: float = 6e-3,
        validation_fraction: float = 0.1,
        patience: int = 5,
        selection_window: int = 1,
        loss: str = "crps",
        method: str = "auto",
        freq: str | None = None,
        seasons: str | tuple[int, ...] = "auto",
        staleness: bool = True,
        level_input: str = "absolute",
        calibrate: bool = True,
        calibration_rate: float = 0.02,
        clip_outliers: float | None = 20.0,
        ensemble_size: int = 4,
        random_state: int | None = None,
        progress: bool = True,
        devices: int | list | None = None,
    ):
        self.model = model
        self.horizon = horizon
        self.d_model = d_model
        self.num_layers = num_layers
        self.state_dim = state_dim
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.segment_length = segment_length
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.selection_window = selection_window
        self.loss = loss
        self.method = method
        self.freq = freq
        self.seasons = seasons
        self.staleness = staleness
        self.level_input = level_input
        self.calibrate = calibrate
        self.calibration_rate = calibration_rate
        self.clip_outliers = clip_outliers
        self.ensemble_size = ensemble_size
        self.random_state = random_state
        self.progress = progress
        self.devices = devices

    capabilities: ClassVar[Capabilities] = Capabilities(
        one_pass_backtest=True, quantiles=True, covariates=True, save=True
    )

    # --- fitted attributes: views of ``fitted_`` -------------------------------------------

    history_ = fitted_attribute("history", "Training and validation loss per epoch.", part="state")
    best_epoch_ = fitted_attribute(
        "best_epoch",
        "The epoch whose parameters were kept (the latest over the members; -1: the base).",
        part="state",
    )
    scaler_ = fitted_attribute("scaler", "The target scaling statistics.", part="state")
    input_dim_ = fitted_attribute("input_dim", "Network inputs.", part="state")
    num_covariates_ = fitted_attribute("num_covariates", "Covariate columns.", part="state")
    devices_ = fitted_attribute("devices", "The devices the fit trained on.", part="state")

    def __sklearn_clone__(self) -> SSMForecaster:
        """An unfitted copy; a list of devices is shared, not copied (devices cannot be)."""
        if not isinstance(self.devices, (list, tuple)):
            return super().__sklearn_clone__()
        params = self.get_params(deep=False)
        params = {
            name: clone(value, safe=False) for name, value in params.items() if name != "devices"
        }
        return type(self)(**params, devices=list(self.devices))

    def __getstate__(self) -> dict:
        """For pickle (Dask sends the fitted model to its workers): devices stay behind.

        A device belongs to its process, so the copy names none; unpickled, it lists the
        default devices of the process that reads it, as a loaded model does.
        """
        state = dict(super().__getstate__())  # a copy: the instance keeps its own
        if isinstance(self.devices, (list, tuple)):
            state["devices"] = None
        fitted = state.get("fitted_")
        if fitted is not None:
            state["fitted_"] = fitted._replace(state=fitted.state._replace(devices=None))
        return state

    def __setstate__(self, state: dict) -> None:
        fitted = state.get("fitted_")
        if fitted is not None and fitted.state.devices is None:
            devices = training.resolve_devices(None)
            state["fitted_"] = fitted._replace(state=fitted.state._replace(devices=devices))
        super().__setstate__(state)

    # --- checks ----------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.model not in MODEL_NAMES:
            near = difflib.get_close_matches(str(self.model), MODEL_NAMES, n=1, cutoff=0.5)
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise ValueError(
                f"The 'model' parameter of SSMForecaster must be one of {list(MODEL_NAMES)}. "
                f"Got {self.model!r}.{hint}"
            )
        for name in (
            "d_model",
            "num_layers",
            "max_epochs",
            "batch_size",
            "patience",
            "selection_window",
            "ensemble_size",
        ):
            check_int(getattr(self, name), name, "SSMForecaster")
        if self.selection_window % 2 == 0:
            raise ValueError(
                "The 'selection_window' parameter of SSMForecaster must be odd (the epoch "
                f"judged and as many on each side). Got {self.selection_window}; use "
                f"{self.selection_window + 1}."
            )
        for name in ("state_dim", "segment_length"):
            check_int(getattr(self, name), name, "SSMForecaster", allow_none=True)
        if not (isinstance(self.seasons, str) and self.seasons == "auto"):
            if isinstance(self.seasons, str) or not hasattr(self.seasons, "__iter__"):
                raise TypeError(
                    "The 'seasons' parameter of SSMForecaster must be 'auto' or a tuple of "
                    f"season lengths in steps, e.g. (24, 168). Got {self.seasons!r}."
                )
            for m in self.seasons:
                check_int(m, "seasons", "SSMForecaster", example="seasons=(24, 168)")
        if self.level_input not in LEVEL_INPUTS:
            raise ValueError(
                "The 'level_input' parameter of SSMForecaster must be one of "
                f"{list(LEVEL_INPUTS)}. Got {self.level_input!r}."
            )
        if self.loss not in ("crps", "nll"):
            raise ValueError(
                f"The 'loss' parameter of SSMForecaster must be 'crps' or 'nll'. Got {self.loss!r}."
            )
        check_real(
            self.validation_fraction, "validation_fraction", "SSMForecaster", minimum=0, maximum=0.5
        )
        check_real(
            self.learning_rate, "learning_rate", "SSMForecaster", minimum=0, include_minimum=False
        )
        check_real(
            self.calibration_rate,
            "calibration_rate",
            "SSMForecaster",
            minimum=0,
            maximum=1,
            include_maximum=True,
            example="calibration_rate=0.02, or 0 to keep the factors of the fit",
        )
        if self.clip_outliers is not None:
            check_real(
                self.clip_outliers,
                "clip_outliers",
                "SSMForecaster",
                minimum=0,
                include_minimum=False,
                example="clip_outliers=20.0, or None for no clipping",
            )
        check_seed(self.random_state, "SSMForecaster", draw=False)
        training.resolve_devices(self.devices)

    def _min_length(self, panel: Panel) -> tuple[int, str]:
        return 2 * self.horizon + 2, f" to learn forecasts {self.horizon} steps ahead"

    # --- fit ---------------------------------------------------------------------------------

    def _fit(self, panel: Panel, covariates) -> SSMState:
        seed = check_seed(self.random_state, "SSMForecaster")
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31))
        devices = training.resolve_devices(self.devices)
        mesh = training.make_mesh(devices)
        seed = training.agree(seed)  # several processes train one model from one seed
        clip = None if self.clip_outliers is None else float(self.clip_outliers)
        scaler = fit_scaler(panel.values, clip=clip)
        _warn_clipped(scaler, panel.values, panel.layout.labels(), "y", clip)
        covariate_scaler = None
        if covariates is not None:
            covariate_scaler = fit_scaler(covariates, clip=clip)
            names = [f"column {i}" for i in range(covariates.shape[-1])]
            _warn_clipped(covariate_scaler, covariates, names * len(covariates), "X", clip)
        x, mask = encode(scaler, covariate_scaler, panel.values, panel.time, panel.freq, covariates)
        # several processes: every process's series, this one's at rows ``mine``
        x, mine = training.gather_processes(x)
        mask, _ = training.gather_processes(mask)
        seasons = self._seasons(panel.freq)
        networks = [
            self._build_network(
                member_seed,
                input_dim=x.shape[-1],
                num_channels=panel.num_channels,
                seasons=seasons,
                staleness=bool(self.staleness),
                level_input=self.level_input,
                base_level=True,
                base_change=True,
            )
            for member_seed in _member_seeds(seed, self.ensemble_size)
        ]
        fallback = None
        if networks[0].base is not None:  # start from the best blend of naive forecasts
            targets = x[..., : panel.num_channels]
            end = x.shape[1] - training.validation_steps(
                ~np.isnan(targets), self.validation_fraction
            )
            level_period = networks[0].level_period if networks[0].base_level else None
            mix, spread = least_squares_mix(
                seasons,
                self.horizon,
                targets,
                end,
                level_period=level_period,
                dt=panel.dt(),
                last_change=networks[0].base_change,
                return_spread=True,
            )
            mix = jnp.asarray(mix)
            for network in networks:
                network.base.mix[...] = mix
            # the fitted base with its own spread: training keeps it unless it does better
            fallback = [nnx.clone(network) for network in networks]
            for network in fallback:
                if isinstance(network.head, NormalHead):
                    network.head.start_spread(spread)
        longest = max((0, *seasons))
        segment_length = self.segment_length or min(max(256, 3 * longest), 1024)
        config = training.TrainConfig(
            epochs=self.max_epochs,
            batch_size=self.batch_size,
            segment_length=segment_length,
            learning_rate=self.learning_rate,
            ssm_learning_rate=self.learning_rate / 3,
            loss=self.loss,
            val_fraction=self.validation_fraction,
            patience=self.patience,
            selection_window=self.selection_window,
            burn_in=min(longest, segment_length // 2),
            seed=seed,
            progress=self.progress,
        )
        try:
            result = training.fit_ensemble(
                networks, x, panel.dt(), mask, config=config, mesh=mesh, fallback=fallback
            )
        except training.TrainingDivergedError as err:
            warnings.warn(
                f"{err} The model keeps the best parameters seen before that.",
                RuntimeWarning,
                stacklevel=3,
            )
            result = err.result
        graphdef, params = nnx.split(networks[0])[0], result.params  # members share the graph
        forecast, carry = ensemble_pass(graphdef, params, x, panel.dt(), mask)
        factor = None
        if self.calibrate:
            tail = max(self.validation_fraction, 0.1)
            factor = calibration_factor(forecast, x[..., : panel.num_channels], tail)
        if jax.process_count() > 1:  # keep the state of this process's series
            carry = jax.tree.map(lambda leaf: leaf[:, mine], carry)
            forecast = jax.tree.map(lambda leaf: leaf[mine], forecast)
        loc, scale = forecast.loc[:, -1], forecast.scale[:, -1]
        last = (np.asarray(forecast.loc[:, -1]), np.asarray(forecast.scale[:, -1]))
        if not all(np.isfinite(a).all() for a in last):
            raise ValueError(
                "The fitted network forecasts NaN or infinite values from the end of `y`, "
                "so it is refused. Check `y` and `X` for extreme values, or lower "
                f"'learning_rate' (now {self.learning_rate})."
            )
        return SSMState(
            graphdef=graphdef,
            params=params,
            carry=carry,
            loc=loc,
            scale=scale,
            scaler=scaler,
            covariate_scaler=covariate_scaler,
            horizon=int(self.horizon),
            num_covariates=0 if covariates is None else int(covariates.shape[-1]),
            input_dim=int(x.shape[-1]),
            history=result.history,
            best_epoch=int(result.best_epoch),
            seasons=seasons,
            staleness=bool(self.staleness),
            level_input=self.level_input,
            base_level=networks[0].base_level,
            base_change=networks[0].base_change,
            scale_factor=factor,
            seed=seed,
            devices=devices,
            tracker=self._start_tracker(factor, forecast),
        )

    def _start_tracker(self, factor, forecast) -> Tracker | None:
        """The online calibration from the end of a parallel pass, or None without one."""
        if factor is None or float(self.calibration_rate) == 0:
            return None
        tail = slice(-self.horizon, None)  # only the last horizon steps' forecasts are kept
        return start_tracker(
            factor,
            np.asarray(forecast.loc[:, tail]),
            np.asarray(forecast.scale[:, tail]),
            float(self.calibration_rate),
        )

    def _seasons(self, freq) -> tuple[int, ...]:
        """The season lengths of the seasonal base for data of frequency ``freq``."""
        if not (isinstance(self.seasons, str) and self.seasons == "auto"):
            return tuple(int(m) for m in self.seasons)
        season = season_length(freq)
        if season <= 1:
            return ()
        if nominal_step(freq) < pd.Timedelta(days=1):
            return (season, 7 * season)  # the daily and the weekly cycle
        return (season,)

    def _build_network(
        self,
        seed: int,
        *,
        input_dim: int,
        num_channels: int,
        seasons,
        staleness: bool,
        level_input: str,
        base_level: bool,
        base_change: bool,
    ):
        return build_model(
            self.model,
            input_dim=input_dim,
            output_dim=num_channels,
            horizon=self.horizon,
            d_model=self.d_model,
            num_layers=self.num_layers,
            state_dim=self.state_dim,
            method=self.method,
            seasons=tuple(seasons),
            staleness=staleness,
            level_input=level_input,
            base_level=base_level,
            base_change=base_change,
            rngs=nnx.Rngs(seed),
        )

    # --- update and predict: pure functions of the fitted value ------------------------------

    def _update(self, fitted: Fitted, panel: Panel, covariates) -> SSMState:
        return advance_state(fitted.meta, fitted.state, panel.values, panel.time, covariates)

    def _predict(self, fitted: Fitted, horizon: int, covariates) -> np.ndarray:
        loc, _ = rollout(fitted.meta, fitted.state, horizon, covariates)
        return fitted.state.scaler.inverse_transform(loc.astype(np.float64))

    def _predict_quantiles(self, fitted: Fitted, horizon: int, levels, covariates) -> np.ndarray:
        loc, scale = rollout(fitted.meta, fitted.state, horizon, covariates)
        return fitted.state.scaler.inverse_transform(quantiles(loc, scale, levels))

    def predict(self, horizon: int | None = None, X: Any = None, *, y: Any = None) -> Any:
        """Forecast the next ``horizon`` steps after ``cutoff_``, or after the end of ``y``.

        Without ``y``, as :meth:`ssmcast.base.BaseForecaster.predict`. With ``y`` (series of
        the fitted frequency and channels, in any layout), the fitted network reads each
        series of ``y`` from its start (with the series' own scaling, as ``fit`` would) and
        forecasts from its end: one global model for many stations. A dask-backed
        ``xr.DataArray``/``xr.Dataset`` chunked along a series dimension runs chunk by
        chunk on the active ``dask.distributed`` client (the model is sent to the workers
        once); the result equals the forecast from the same data in memory.

        Args:
            horizon: Number of steps; the ``horizon`` parameter when None.
            X: Covariates on the forecast timestamps (not with ``y``).
            y: Series to forecast from, or None for the fitted ones.

        Returns:
            The forecast in the layout of ``y`` (of the fitted data when ``y`` is None).

        Raises:
            ValueError: If ``y`` comes with ``X``, the model was fitted with covariates, or
                ``y`` does not match the fitted frequency or channels.
        """
        if y is None:
            return super().predict(horizon, X)
        self._check_fitted("predict")
        if X is not None or self.fitted_.state.num_covariates:
            raise ValueError(
                "SSMForecaster.predict with `y` forecasts from the series of `y` alone: it takes "
                "no `X`, and needs a model fitted without covariates."
            )
        client = active_client() if is_dask_backed(y) else None
        if client is None:
            return _forecast_series(self, y, horizon)
        return join_blocks(y, map_series_chunks(_forecast_series, self, y, client, horizon))

    def _for_series(self, y: Any) -> SSMForecaster:
        """A fitted copy for the series of ``y``: these weights, ``y``'s scaling and state.

        What ``fit`` on ``y`` would hold if training had given these weights: the scaling
        statistics are the series' own (per series and channel), and the recurrent state and
        the last forecast come from one parallel pass over ``y``.
        """
        meta, state = self.fitted_
        panel = to_panel(y, freq=meta.freq.freqstr, name="y")
        if panel.num_channels != meta.num_channels:
            raise ValueError(
                f"`y` has {panel.num_channels} channel(s) per series, but this SSMForecaster "
                f"was fitted on {meta.num_channels}. Pass series of the same variables."
            )
        clip = None if self.clip_outliers is None else float(self.clip_outliers)
        scaler = fit_scaler(panel.values, clip=clip)
        x, mask = encode(scaler, None, panel.values, panel.time, panel.freq, None)
        forecast, carry = ensemble_pass(state.graphdef, state.params, x, panel.dt(), mask)
        copy = clone(self)
        copy.fitted_ = Fitted(
            FitMeta.from_panel(panel),
            state._replace(
                carry=carry,
                loc=forecast.loc[:, -1],
                scale=forecast.scale[:, -1],
                scaler=scaler,
                tracker=self._start_tracker(state.scale_factor, forecast),
            ),
        )
        return copy

    # --- backtest ----------------------------------------------------------------------------

    def _backtest_one_pass(self, panel: Panel, origins, horizon: int, levels):
        """Forecasts from every origin in one parallel pass (see :func:`ssmcast.backtest`).

        The network is causal, so the forecast it emits at step ``t`` of one pass over the
        whole panel equals what ``update`` up to ``t`` and then ``predict`` give. Horizons
        beyond the fitted one roll out from each origin in recurrent mode.
        """
        fitted = self.fitted_
        loc, scale = forecast_origins(fitted.meta, fitted.state, panel, origins, horizon)
        num_series, num_origins, _, num_channels = loc.shape
        scaler = fitted.state.scaler

        def unscale(values):  # (S, O, H, C, ...) -> origins first, in data units
            flat = values.reshape(num_series, num_origins * horizon, num_channels, -1)
            out = scaler.inverse_transform(flat.astype(np.float64))
            return np.moveaxis(out.reshape(values.shape), 1, 0)

        point = unscale(loc)
        return point, (unscale(quantiles(loc, scale, levels)) if levels else None)

    # --- save and load -----------------------------------------------------------------------

    def save(self, path) -> None:
        """Save the fitted forecaster to ``path`` (a zip of JSON and msgpack; no pickle).

        The file is written next to ``path`` first and then renamed over it, so a save that
        fails part-way leaves any earlier file at ``path`` intact.

        Args:
            path: File to write, conventionally with the suffix ``.ssmcast``.

        Raises:
            sklearn.exceptions.NotFittedError: If the forecaster is not fitted.
        """
        self._check_fitted("save")
        meta, state = self.fitted_
        fitted = {
            **meta.to_dict(),
            "input_dim": state.input_dim,
            "num_covariates": state.num_covariates,
            "scaler": state.scaler.to_dict(),
            "covariate_scaler": None
            if state.covariate_scaler is None
            else state.covariate_scaler.to_dict(),
            "history": {k: [float(v) for v in vs] for k, vs in state.history.items()},
            "best_epoch": int(state.best_epoch),
            "seasons": list(state.seasons),
            "staleness": bool(state.staleness),
            "level_input": state.level_input,
            "base_level": bool(state.base_level),
            "base_change": bool(state.base_change),
            "members": num_members_of(state.params),
            "scale_factor": None
            if state.scale_factor is None
            else [float(v) for v in state.scale_factor],
            # the online calibration: its rate and how many issued forecasts it holds
            "tracker": None
            if state.tracker is None
            else {"rate": state.tracker.rate, "issued": len(state.tracker.issued)},
        }
        params = self.get_params()
        if not (params["random_state"] is None or isinstance(params["random_state"], int)):
            # a RandomState cannot be written as JSON: save the seed it gave this fit
            params["random_state"] = state.seed
        params["devices"] = None  # devices belong to this machine: a loaded model takes the default
        config = {"estimator": type(self).__name__, "params": params, "fitted": fitted}
        trees = {
            "params": nnx.to_pure_dict(state.params),
            "state": io.numbered_leaves(
                (state.carry, (state.loc, state.scale), _tracker_arrays(state.tracker))
            ),
        }
        io.write_archive(path, config, trees, format=FORMAT, version=FORMAT_VERSION)

    @classmethod
    def load(cls, path) -> SSMForecaster:
        """Load a forecaster saved by :meth:`save`; it predicts exactly as the saved one.

        Args:
            path: The file written by :meth:`save`.

        Returns:
            The fitted forecaster.

        Raises:
            ValueError: If the file is missing, truncated, not an ssmcast model, written
                by a newer format version, or holds non-finite weights or state.
        """
        archive = io.read_archive(path, format=FORMAT, version=FORMAT_VERSION, members=_MEMBERS)
        config = archive.config
        if config.get("estimator") != cls.__name__:
            raise io.refuse(path, f"it holds a {config.get('estimator')!r}, not a {cls.__name__}.")
        try:
            fitted, params = config["fitted"], config["params"]
            if config["format_version"] == 1:
                fitted, params = {**_FORMAT_1, **fitted}, {**_FORMAT_1_PARAMS, **params}
            if config["format_version"] <= 2:
                fitted, params = {"tracker": None, **fitted}, {**_FORMAT_2_PARAMS, **params}
            if config["format_version"] <= 3:
                fitted, params = {**_FORMAT_3, **fitted}, {**_FORMAT_3, **params}
            if config["format_version"] <= 4:
                fitted = {**_FORMAT_4, **fitted}
            if config["format_version"] <= 5:
                fitted = {**_FORMAT_5, **fitted}
            # saved before outliers were clipped: its scaler reads every value as it is
            params = {"clip_outliers": None, **params}
            forecaster = cls(**params)
            forecaster.fitted_ = forecaster._restore(fitted, archive.members)
        except (KeyError, TypeError, ValueError) as err:
            raise io.refuse(path, f"the file is truncated or corrupted ({err}).") from err
        return forecaster

    def _restore(self, fitted: dict[str, Any], members: dict[str, bytes]) -> Fitted:
        """The fitted value from an archive's config and trees (see :meth:`load`)."""
        meta = FitMeta.from_dict(fitted)
        if meta.covariates is None and int(fitted["num_covariates"]):
            # saved before covariates had names: they match by position, as they did then
            positions = tuple(f"#{i}" for i in range(int(fitted["num_covariates"])))
            meta = meta._replace(covariates=positions)
        self._check_params()
        seasons = tuple(int(m) for m in fitted["seasons"])
        staleness = bool(fitted["staleness"])
        level_input = str(fitted["level_input"])
        base_level = bool(fitted["base_level"])
        base_change = bool(fitted["base_change"])
        # format 1 stored one network without a member axis; it becomes an ensemble of one
        stacked = fitted["members"] is not None
        size = int(fitted["members"]) if stacked else 1
        if size != self.ensemble_size:
            raise ValueError(f"it holds {size} members where ensemble_size is {self.ensemble_size}")

        def build():
            return self._build_network(
                0,
                input_dim=int(fitted["input_dim"]),
                num_channels=meta.num_channels,
                seasons=seasons,
                staleness=staleness,
                level_input=level_input,
                base_level=base_level,
                base_change=base_change,
            )

        # the size the config names against the weights stored: first a lower bound (every
        # block holds at least one d_model x d_model matrix), then the exact size, from the
        # network's shapes alone (nothing allocated)
        stored = len(members["params"])
        implied = size * self.num_layers * self.d_model**2 * 4
        if implied <= 2 * stored + 2**20:
            shapes = jax.tree.leaves(nnx.state(nnx.eval_shape(build)))
            implied = size * sum(4 * int(np.prod(leaf.shape)) for leaf in shapes)
        if implied > 2 * stored + 2**20:
            raise ValueError(
                f"its settings name a network of at least {implied:,} bytes of weights, but "
                f"it stores {stored:,}"
            )
        network = build()
        graphdef, params = training.stack_members([network] * size)
        if not stacked:
            params = jax.tree.map(lambda leaf: leaf[0], params)
        nnx.replace_by_pure_dict(
            params, io.restore_tree(members["params"], nnx.to_pure_dict(params))
        )
        shape = (meta.num_series, self.horizon, meta.num_channels)
        last = (np.zeros(shape, np.float32), np.zeros(shape, np.float32))
        carry = batched_init_state(graphdef, params if stacked else _one(params), meta.num_series)
        if not stacked:
            carry = jax.tree.map(lambda leaf: leaf[0], carry)
        tracked = fitted["tracker"]
        arrays = ()
        if tracked is not None:
            issued = np.zeros((meta.num_series, int(tracked["issued"]), *shape[1:]), np.float32)
            arrays = (np.zeros(shape, np.float32), issued, issued)
        carry, (loc, scale), arrays = io.restore_leaves(members["state"], (carry, last, arrays))
        tracker = None
        if tracked is not None:
            log_factor, issued_loc, issued_scale = (np.asarray(a, np.float32) for a in arrays)
            issued = tuple(
                (issued_loc[:, i].copy(), issued_scale[:, i].copy())
                for i in range(issued_loc.shape[1])
            )
            tracker = Tracker(log_factor, issued, float(tracked["rate"]))
        if not stacked:
            params, carry = _one(params), _one(carry)
        covariate_scaler = fitted["covariate_scaler"]
        factor = fitted["scale_factor"]
        state = SSMState(
            graphdef=graphdef,
            params=params,
            carry=carry,
            loc=loc,
            scale=scale,
            scaler=Scaler.from_dict(fitted["scaler"]),
            covariate_scaler=None
            if covariate_scaler is None
            else Scaler.from_dict(covariate_scaler),
            horizon=int(self.horizon),
            num_covariates=int(fitted["num_covariates"]),
            input_dim=int(fitted["input_dim"]),
            history=fitted["history"],
            best_epoch=int(fitted["best_epoch"]),
            seasons=seasons,
            staleness=staleness,
            level_input=level_input,
            base_level=base_level,
            base_change=base_change,
            scale_factor=None if factor is None else _finite_factor(factor, self.horizon),
            devices=training.resolve_devices(None),
            tracker=tracker,
        )
        return Fitted(meta, state)


def _forecast_series(forecaster: SSMForecaster, y: Any, horizon: int | None) -> Any:
    """The forecast after the end of ``y`` (see :meth:`SSMForecaster.predict`)."""
    return forecaster._for_series(y).predict(horizon)


def _tracker_arrays(tracker: Tracker | None) -> tuple:
    """The online calibration as arrays to save: log factors, issued locs and scales."""
    if tracker is None:
        return ()
    shape = (tracker.log_factor.shape[0], 0, *tracker.log_factor.shape[1:])
    if not tracker.issued:
        return (tracker.log_factor, np.zeros(shape, np.float32), np.zeros(shape, np.float32))
    stacked = (np.stack([pair[i] for pair in tracker.issued], axis=1) for i in (0, 1))
    return (tracker.log_factor, *stacked)


def _one(tree):
    """``tree`` as an ensemble of one (a new leading member axis)."""
    return jax.tree.map(lambda leaf: leaf[None], tree)


def _member_seeds(seed: int, size: int) -> list[int]:
    """Seeds of the ensemble's members: ``seed`` itself first, then independent streams."""
    extra = np.random.SeedSequence(seed).generate_state(max(size - 1, 0), np.uint32)
    return [seed, *(int(s) & 0x7FFFFFFF for s in extra)]


def _finite_factor(values, horizon: int) -> np.ndarray:
    factor = np.asarray(values, np.float64)
    if factor.shape != (horizon,) or not (np.isfinite(factor).all() and (factor > 0).all()):
        raise ValueError(f"the scale factors are not {horizon} positive finite numbers")
    return factor


def _warn_clipped(scaler: Scaler, values: np.ndarray, labels: list[str], name: str, clip) -> None:
    """Warn when fitting reads values of ``name`` clipped as outliers (see ``clip_outliers``)."""
    counts = scaler.num_clipped(values).ravel()
    if not counts.any():
        return
    where = [f"{labels[i]} ({counts[i]})" for i in np.flatnonzero(counts)]
    shown = ", ".join(where[:5]) + (f", ... ({len(where)} in all)" if len(where) > 5 else "")
    warnings.warn(
        f"`{name}` has {int(counts.sum())} values farther than clip_outliers={clip:g} robust "
        f"standard deviations from their series' median, in {shown}. The network reads them "
        "clipped to that distance and they do not inflate the scaling; forecasts stay in the "
        "data's units. Check them for sensor errors, or pass clip_outliers=None to read them "
        "as they are.",
        UserWarning,
        stacklevel=4,
    )
