"""Model names for users (``"s5"``, ``"mamba"``, ``"hybrid"``) and their builders."""

from flax import nnx

from ssmcast._checks import check_int
from ssmcast.layers import CausalAttention, LinearSSM, SelectiveSSM
from ssmcast.models._network import ForecastNetwork

MODEL_NAMES = ("s5", "mamba", "hybrid")
_SSM_KINDS = ("s5", "mamba")


def _ssm_layer(kind, d_model, state_dim, method, layer_kwargs, rngs):
    if kind == "s5":
        return LinearSSM(d_model, state_dim or 32, method=method, rngs=rngs, **layer_kwargs)
    return SelectiveSSM(d_model, state_dim or 16, method=method, rngs=rngs, **layer_kwargs)


def build_model(
    name: str,
    *,
    input_dim: int,
    output_dim: int,
    horizon: int,
    d_model: int = 32,
    num_layers: int = 2,
    state_dim: int | None = None,
    head: str = "normal",
    mlp_ratio: int = 2,
    method: str = "auto",
    num_heads: int = 4,
    window: int = 64,
    attention_every: int = 2,
    hybrid_ssm: str = "s5",
    layer_kwargs: dict | None = None,
    head_kwargs: dict | None = None,
    seasons: tuple[int, ...] = (),
    staleness: bool = False,
    level_input: str = "absolute",
    base_level: bool = False,
    base_change: bool = False,
    rngs: nnx.Rngs,
) -> ForecastNetwork:
    """Build a forecasting network by name.

    * ``"s5"``: ``num_layers`` blocks of :class:`~ssmcast.layers.LinearSSM` (time-invariant,
      exact in the time gap; default ``state_dim`` 32).
    * ``"mamba"``: blocks of :class:`~ssmcast.layers.SelectiveSSM` (default ``state_dim`` 16).
    * ``"hybrid"``: SSM blocks (``hybrid_ssm``) with every ``attention_every``-th block a
      sliding-window :class:`~ssmcast.layers.CausalAttention` (Jamba-style; the first block
      is always an SSM so attention sees the order).

    Args:
        name: One of ``"s5"``, ``"mamba"``, ``"hybrid"``.
        input_dim: Number of input channels (targets first, then covariates).
        output_dim: Number of target channels.
        horizon: Number of leads forecast from each step.
        d_model: Width of the residual stream.
        num_layers: Number of residual blocks.
        state_dim: States per SSM layer; the layer's default when None.
        head: ``"normal"`` (probabilistic) or ``"point"``.
        mlp_ratio: Hidden width of the gated MLPs as a multiple of ``d_model``.
        method: Scan method for every SSM layer (``"auto"``, ``"associative"``,
            ``"sequential"``, ``"chunked"``).
        num_heads: Attention heads (``"hybrid"``).
        window: Attention window in steps (``"hybrid"``).
        attention_every: Period of attention blocks (``"hybrid"``).
        hybrid_ssm: SSM used by ``"hybrid"``: ``"s5"`` or ``"mamba"``.
        layer_kwargs: Extra keyword arguments for every SSM layer.
        head_kwargs: Extra keyword arguments for the head.
        seasons: Season lengths of the seasonal base (see :class:`ForecastNetwork`).
        staleness: Feed the time since the last observation (see :class:`ForecastNetwork`).
        level_input: How the network reads the targets: ``"absolute"``, ``"local"`` (their
            departure from a running level) or ``"both"`` (see :class:`ForecastNetwork`).
        base_level: Add the running level as a candidate of the seasonal base (see
            :class:`ForecastNetwork`).
        base_change: Add the last value plus its last change as a candidate of the base
            (see :class:`ForecastNetwork`).
        rngs: Random number streams for the initialisation.

    Returns:
        The :class:`ForecastNetwork`.

    Raises:
        ValueError: If ``name`` or ``hybrid_ssm`` is unknown or ``num_layers < 1``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> net = build_model(
        ...     "hybrid",
        ...     input_dim=2,
        ...     output_dim=1,
        ...     horizon=3,
        ...     d_model=8,
        ...     num_heads=2,
        ...     window=4,
        ...     rngs=nnx.Rngs(0),
        ... )
        >>> [type(b.mixer).__name__ for b in net.blocks]
        ['LinearSSM', 'CausalAttention']
        >>> net(jnp.ones((6, 2))).loc.shape
        (6, 3, 1)
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"The model name must be one of {MODEL_NAMES}. Got {name!r}.")
    if hybrid_ssm not in _SSM_KINDS:
        raise ValueError(f"'hybrid_ssm' must be one of {_SSM_KINDS}. Got {hybrid_ssm!r}.")
    check_int(num_layers, "num_layers", "build_model", kind="argument", error=ValueError)
    layer_kwargs = layer_kwargs or {}
    mixers = []
    for i in range(num_layers):
        if name == "hybrid" and i % attention_every == attention_every - 1 and i > 0:
            mixers.append(CausalAttention(d_model, num_heads=num_heads, window=window, rngs=rngs))
        else:
            kind = hybrid_ssm if name == "hybrid" else name
            mixers.append(_ssm_layer(kind, d_model, state_dim, method, layer_kwargs, rngs))
    return ForecastNetwork(
        input_dim=input_dim,
        output_dim=output_dim,
        horizon=horizon,
        mixers=mixers,
        d_model=d_model,
        head=head,
        mlp_ratio=mlp_ratio,
        head_kwargs=head_kwargs,
        seasons=seasons,
        staleness=staleness,
        level_input=level_input,
        base_level=base_level,
        base_change=base_change,
        rngs=rngs,
    )


def set_scan_method(model: nnx.Module, method: str) -> nnx.Module:
    """Set the scan method of every SSM layer in ``model`` (in place); returns ``model``.

    Examples:
        >>> from flax import nnx
        >>> net = build_model(
        ...     "s5", input_dim=1, output_dim=1, horizon=2, d_model=4, rngs=nnx.Rngs(0)
        ... )
        >>> set_scan_method(net, "sequential").blocks[0].mixer.method
        'sequential'
    """
    for _, module in nnx.iter_modules(model):
        if isinstance(module, LinearSSM | SelectiveSSM):
            module.method = method
    return model
