"""SSMForecaster: a state space model forecaster with the scikit-learn estimator API.

The estimator is the only place with fitted state. Data flows one way: the data layer turns
the caller's frames into scaled arrays, the network (:mod:`ssmcast.models`) reads them in
parallel mode for training and in recurrent mode for updates, and the data layer turns
forecast arrays back into the caller's layout.
"""

from __future__ import annotations

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ssmcast import training
from ssmcast._base_forecaster import BaseForecaster
from ssmcast._inference import advance, model_inputs, parallel_pass
from ssmcast.data import Panel, calendar_features, fit_scaler, future_index
from ssmcast.models import MODEL_NAMES, Forecast, build_model, forecast_quantiles

__all__ = ["SSMForecaster"]


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"The '{name}' parameter of SSMForecaster must be a positive int. Got {value!r}."
        )


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
        segment_length: Time steps per training segment.
        learning_rate: Peak learning rate (the SSM parameters use a third of it).
        validation_fraction: Share of the time steps held out at the end for early stopping.
        patience: Epochs without a better validation loss before stopping.
        loss: ``"crps"`` or ``"nll"`` (both train the probabilistic head).
        method: Scan method of the SSM layers (``"auto"`` picks by backend and size).
        freq: The data's frequency (a pandas alias); inferred when None.
        random_state: Seed of the initialisation and training; random when None.
        progress: Show a progress bar while training.

    Attributes:
        history_: Training and validation loss per epoch.
        best_epoch_: The epoch whose parameters were kept.
        cutoff_: The last timestamp seen (``fit`` or ``update``).
        freq_: The data's frequency (a pandas offset).
        layout_: How forecasts are rebuilt in the caller's layout.
        num_series_, num_channels_: The shape of the data.
        num_gaps_: Missing timestamps inserted as NaN rows at ``fit``.
        scaler_: The per-series, per-channel scaling statistics.
        input_dim_: Network inputs: targets, covariates and calendar features.

    Examples:
        >>> from ssmcast import SSMForecaster, datasets
        >>> temp = datasets.load("beijing")["TEMP"].loc["2014-10-01":"2014-11-30"]
        >>> f = SSMForecaster(horizon=6, d_model=8, max_epochs=1, random_state=0, progress=False)
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
        segment_length: int = 256,
        learning_rate: float = 3e-3,
        validation_fraction: float = 0.1,
        patience: int = 5,
        loss: str = "crps",
        method: str = "auto",
        freq: str | None = None,
        random_state: int | None = None,
        progress: bool = True,
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
        self.loss = loss
        self.method = method
        self.freq = freq
        self.random_state = random_state
        self.progress = progress

    # --- checks ----------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.model not in MODEL_NAMES:
            import difflib

            near = difflib.get_close_matches(str(self.model), MODEL_NAMES, n=1, cutoff=0.5)
            hint = f" Did you mean {near[0]!r}?" if near else ""
            raise ValueError(
                f"The 'model' parameter of SSMForecaster must be one of {list(MODEL_NAMES)}. "
                f"Got {self.model!r}.{hint}"
            )
        for name in ("d_model", "num_layers", "max_epochs", "batch_size", "segment_length"):
            _positive_int(getattr(self, name), name)
        if self.state_dim is not None:
            _positive_int(self.state_dim, "state_dim")
        if self.loss not in ("crps", "nll"):
            raise ValueError(
                f"The 'loss' parameter of SSMForecaster must be 'crps' or 'nll'. Got {self.loss!r}."
            )
        if not 0 <= self.validation_fraction < 0.5:
            raise ValueError(
                "The 'validation_fraction' parameter of SSMForecaster must be in [0, 0.5). "
                f"Got {self.validation_fraction!r}."
            )

    def _min_length(self, panel: Panel) -> tuple[int, str]:
        return 2 * self.horizon + 2, f" to learn forecasts {self.horizon} steps ahead"

    # --- fit ---------------------------------------------------------------------------------

    def _features(self, time, covariates):
        """Scaled covariates (NaN as 0, the mean) and calendar features for ``time``."""
        cal = calendar_features(time, self.freq_).values
        if covariates is None:
            return None, cal
        scaled = self._covariate_scaler.transform(covariates)
        return np.nan_to_num(scaled, nan=0.0), cal

    def _fit(self, panel: Panel, covariates) -> None:
        seed = (
            int(np.random.default_rng().integers(2**31))
            if self.random_state is None
            else int(self.random_state)
        )
        self.freq_ = panel.freq
        self.scaler_ = fit_scaler(panel.values)
        self._covariate_scaler = None if covariates is None else fit_scaler(covariates)
        self.num_covariates_ = 0 if covariates is None else covariates.shape[-1]
        cov, cal = self._features(panel.time, covariates)
        x, mask = model_inputs(self.scaler_.transform(panel.values), cov, cal)
        self.input_dim_ = x.shape[-1]
        network = self._build_network(seed, panel.num_channels)
        config = training.TrainConfig(
            epochs=self.max_epochs,
            batch_size=self.batch_size,
            segment_length=self.segment_length,
            learning_rate=self.learning_rate,
            ssm_learning_rate=self.learning_rate / 3,
            loss=self.loss,
            val_fraction=self.validation_fraction,
            patience=self.patience,
            seed=seed,
            progress=self.progress,
        )
        try:
            result = training.fit(network, x, panel.dt(), mask, config=config)
        except training.TrainingDivergedError as err:
            warnings.warn(
                f"{err} The model keeps the best parameters seen before that.",
                RuntimeWarning,
                stacklevel=3,
            )
            result = err.result
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self._graphdef, self._params = nnx.split(network)
        forecast, state = parallel_pass(self._graphdef, self._params, x, panel.dt(), mask)
        self._state = state
        self._last = (forecast.loc[:, -1], forecast.scale[:, -1])

    def _build_network(self, seed: int, num_channels: int):
        return build_model(
            self.model,
            input_dim=self.input_dim_,
            output_dim=num_channels,
            horizon=self.horizon,
            d_model=self.d_model,
            num_layers=self.num_layers,
            state_dim=self.state_dim,
            method=self.method,
            rngs=nnx.Rngs(seed),
        )

    # --- update ------------------------------------------------------------------------------

    def _update(self, panel: Panel, covariates) -> None:
        cov, cal = self._features(panel.time, covariates)
        if self.num_covariates_ and cov is None:
            raise ValueError(
                "This SSMForecaster was fitted with covariates `X`, so `update` needs `X_new` "
                "on the timestamps of `y_new`."
            )
        x, mask = model_inputs(self.scaler_.transform(panel.values), cov, cal)
        self._state, forecast = advance(
            self._graphdef, self._params, self._state, x, np.ones(len(panel.time)), mask
        )
        self._last = (forecast.loc, forecast.scale)

    # --- predict -----------------------------------------------------------------------------

    def _rollout(self, horizon: int, covariates):
        """Scaled loc and scale for ``horizon`` steps, rolling out beyond the trained horizon.

        Beyond ``self.horizon`` steps, the median forecast of each block is fed back as
        observations in recurrent mode and the next block is read from the heads. The
        variance at the end of the previous block is added to the next block's (the start is
        uncertain): an approximation that keeps intervals widening with lead.
        """
        loc, scale = (np.asarray(a) for a in self._last)
        locs, scales = [loc], [scale]
        state, produced = self._state, self.horizon
        if horizon > produced and self.num_covariates_ and covariates is None:
            raise ValueError(
                f"Forecasting {horizon} steps, beyond the fitted horizon {self.horizon}, feeds "
                "forecasts back through the network, which was fitted with covariates `X`: "
                "pass `X` on the forecast timestamps."
            )
        cutoff = self.cutoff_
        while produced < horizon:
            time = future_index(cutoff, self.freq_, self.horizon)
            cov = None
            if covariates is not None:
                block = covariates[:, produced - self.horizon : produced]
                cov = np.nan_to_num(self._covariate_scaler.transform(block), nan=0.0)
            cal = calendar_features(time, self.freq_).values
            x, mask = model_inputs(loc.astype(np.float64), cov, cal)
            state, forecast = advance(
                self._graphdef, self._params, state, x, np.ones(self.horizon), mask
            )
            start_var = scale[:, -1:, :] ** 2
            loc = np.asarray(forecast.loc)
            scale = np.sqrt(np.asarray(forecast.scale) ** 2 + start_var)
            locs.append(loc)
            scales.append(scale)
            produced += self.horizon
            cutoff = time[-1]
        return (
            np.concatenate(locs, axis=1)[:, :horizon],
            np.concatenate(scales, axis=1)[:, :horizon],
        )

    def _predict(self, horizon: int, covariates) -> np.ndarray:
        loc, _ = self._rollout(horizon, covariates)
        return self.scaler_.inverse_transform(loc.astype(np.float64))

    def _predict_quantiles(self, horizon: int, levels, covariates) -> np.ndarray:
        loc, scale = self._rollout(horizon, covariates)
        return self.scaler_.inverse_transform(_quantiles(loc, scale, levels))

    # --- backtest ----------------------------------------------------------------------------

    def _backtest_one_pass(self, panel: Panel, origins, horizon: int, levels):
        """Forecasts from every origin in one parallel pass (see :func:`ssmcast.backtest`).

        The network is causal, so the forecast it emits at step ``t`` of one pass over the
        whole panel equals what ``update`` up to ``t`` and then ``predict`` give. Horizons
        beyond the fitted one roll out from each origin in recurrent mode.
        """
        cov, cal = self._features(panel.time, None)
        x, mask = model_inputs(self.scaler_.transform(panel.values), cov, cal)
        if horizon <= self.horizon:
            forecast, _ = parallel_pass(self._graphdef, self._params, x, panel.dt(), mask)
            loc = np.asarray(forecast.loc)[:, origins, :horizon]  # (S, O, H, C)
            scale = np.asarray(forecast.scale)[:, origins, :horizon]
        else:
            loc, scale = self._loop_origins(panel, origins, horizon)
        num_series, num_origins, _, num_channels = loc.shape

        def unscale(values):  # (S, O, H, C, ...) -> origins first, in data units
            flat = values.reshape(num_series, num_origins * horizon, num_channels, -1)
            out = self.scaler_.inverse_transform(flat.astype(np.float64))
            return np.moveaxis(out.reshape(values.shape), 1, 0)

        point = unscale(loc)
        quantiles = None
        if levels:
            quantiles = unscale(_quantiles(loc, scale, levels))
        return point, quantiles

    def _loop_origins(self, panel: Panel, origins, horizon: int):
        """Roll out from each origin in turn (horizons beyond the fitted one)."""
        saved = (self._state, self._last, self.cutoff_)
        locs, scales = [], []
        try:
            first = int(origins[0])
            for previous, origin in zip([first, *origins[:-1]], origins, strict=True):
                if origin > previous:
                    self._update(_slice(panel, previous + 1, origin + 1), None)
                self.cutoff_ = panel.time[origin]
                loc, scale = self._rollout(horizon, None)
                locs.append(loc)
                scales.append(scale)
        finally:
            self._state, self._last, self.cutoff_ = saved
        return np.stack(locs, axis=1), np.stack(scales, axis=1)

    # --- save and load -----------------------------------------------------------------------

    def save(self, path) -> None:
        """Save the fitted forecaster to ``path`` (a zip of JSON and msgpack; no pickle).

        Args:
            path: File to write, conventionally with the suffix ``.ssmcast``.

        Raises:
            sklearn.exceptions.NotFittedError: If the forecaster is not fitted.
        """
        from ssmcast.io import save_forecaster

        self._check_fitted("save")
        save_forecaster(self, path)

    @classmethod
    def load(cls, path) -> SSMForecaster:
        """Load a forecaster saved by :meth:`save`; it predicts exactly as the saved one.

        Args:
            path: The file written by :meth:`save`.

        Returns:
            The fitted forecaster.

        Raises:
            ValueError: If the file is missing, truncated, not an ssmcast model, or written
                by a newer format version.
        """
        from ssmcast.io import load_forecaster

        return load_forecaster(path)


def _quantiles(loc, scale, levels) -> np.ndarray:
    """Quantiles of the normal forecast (scaled units), levels on a new last axis."""
    return np.asarray(forecast_quantiles(Forecast(loc, scale), levels), np.float64)


def _slice(panel: Panel, start: int, stop: int) -> Panel:
    """The part ``[start:stop]`` of a panel's time axis, as a panel."""
    return dataclasses.replace(
        panel, values=panel.values[:, start:stop], time=panel.time[start:stop], num_gaps=0
    )


def batched_init_state(graphdef, params, num_series: int):
    """The network's initial state, stacked over ``num_series`` (a template for loading)."""
    model = nnx.merge(graphdef, params)
    state = model.init_state()
    return jax.tree.map(lambda leaf: jnp.repeat(leaf[None], num_series, axis=0), state)
