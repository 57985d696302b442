"""The compiler options of ssmcast's large jitted computations (``ssmcast._jit``)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from ssmcast import _jit
from ssmcast.models import _inference, build_model
from ssmcast.training import _steps


def _head_and_base(w, h, mix, lags):
    """The pattern that YNNPACK fused slowly: a small product beside a wide broadcast."""
    base = jnp.sum(mix * lags, axis=-1)
    return jnp.sum((jnp.einsum("bth,hk->btk", h, w) + base) ** 2)


def _arrays():
    keys = jax.random.split(jax.random.key(0), 4)
    return (
        jax.random.normal(keys[0], (16, 24)),
        jax.random.normal(keys[1], (8, 64, 16)),
        jax.random.normal(keys[2], (24, 3)),
        jax.random.normal(keys[3], (8, 64, 24, 3)),
    )


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="a CPU option")
def test_cpu_programs_compile_without_ynnpack_fusions():
    if not _jit.compiler_options():
        pytest.skip("this XLA has no YNNPACK fusions to turn off")
    grad = jax.grad(_head_and_base, argnums=(0, 2))
    args = _arrays()
    plain = jax.jit(grad).lower(*args).compile().as_text()
    ours = _jit.jit(grad).lower(*args).compile().as_text()
    assert "ynn_fusion" in plain  # XLA's default fuses this pattern for YNNPACK
    assert "ynn_fusion" not in ours
    for a, b in zip(jax.jit(grad)(*args), _jit.jit(grad)(*args), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-4)


def test_other_backends_and_unknown_options_get_xla_defaults(monkeypatch):
    _jit._spelling.cache_clear()
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert _jit.compiler_options() == {}
    monkeypatch.undo()
    _jit._spelling.cache_clear()
    monkeypatch.setattr(_jit, "_OPTION", "xla_no_such_option_anywhere")
    assert _jit.compiler_options() == {}  # an older XLA: the option is refused, not raised
    monkeypatch.undo()
    _jit._spelling.cache_clear()
    assert _jit._spelling("no_such_fusion_kind") is None  # an unknown kind: XLA's defaults
    assert _jit.compiler_options() in ({}, {_jit._OPTION: ""})


def _graph(name):
    network = build_model(name, input_dim=2, output_dim=1, horizon=3, d_model=8, rngs=nnx.Rngs(0))
    return nnx.split(network)[0]


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="a CPU option")
def test_each_network_gets_the_fusions_its_layers_ask_for():
    if not _jit.compiler_options():
        pytest.skip("this XLA has no YNNPACK fusion option")
    assert _jit.compiler_options(_graph("s5")) == {_jit._OPTION: ""}
    assert _jit.compiler_options(_graph("hybrid")) == {_jit._OPTION: ""}
    graphdef, params = nnx.split(
        build_model("mamba", input_dim=2, output_dim=1, horizon=3, d_model=8, rngs=nnx.Rngs(0))
    )
    mamba = _jit.compiler_options(graphdef)[_jit._OPTION]
    assert mamba == _jit._spelling("reduce") and mamba.lower().endswith("reduce")
    # the inference passes hand over the graph wrapped with its hash: the same options
    static, _ = _inference._flat(graphdef, params)
    assert _jit.compiler_options(static) == {_jit._OPTION: mamba}


def test_one_function_compiles_once_per_kind_of_network():
    @_jit.jit(graph="graph", static_argnames=("graph",))
    def double(x, graph):
        return 2 * x

    s5, mamba = _graph("s5"), _graph("mamba")
    for graph in (s5, mamba, s5, mamba):
        assert float(double(jnp.float32(1.5), graph=graph)) == 3.0
    assert double._cache_size() == 2  # one program per graph, each with its own options
    assert len(double._jitted) == (2 if _jit.compiler_options() else 1)
    with pytest.raises(ValueError, match="graph='nope'"):
        _jit.jit(lambda x: x, graph="nope")


@pytest.mark.parametrize(
    "fun",
    [
        _steps.train_epoch,
        _steps.train_members,
        _steps.evaluate,
        _steps.evaluate_members,
        _inference._parallel,
        _inference._advance,
        _inference._ensemble_parallel,
        _inference._ensemble_advance,
    ],
)
def test_training_and_inference_compile_with_the_options(fun):
    assert isinstance(fun, _jit._Jitted)
    assert callable(fun.__wrapped__) and not isinstance(fun.__wrapped__, _jit._Jitted)
    assert isinstance(fun._cache_size(), int)  # the jitted function's attributes pass through
