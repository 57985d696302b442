r"""The running level of each target: a causal, debiased exponential moving average.

With ``level_input="local"`` (or ``"both"``) the network reads each target's departure from
its running level, ``filled - level``, where ``filled`` is the last observed value (a
forward fill) and ``level`` its exponential moving average with time constant ``period``
steps, debiased for the start of the sequence:

.. math::

    a_t = e^{-\Delta t_t / \text{period}}, \qquad
    m_t = a_t m_{t-1} + (1 - a_t) \, \text{filled}_t, \qquad
    w_t = a_t w_{t-1} + (1 - a_t), \qquad
    \text{level}_t = m_t / w_t

Both are linear recurrences, so a whole sequence runs as a parallel scan and one new
observation is an O(1) step from ``(m, w)``. Time gaps count: a gap of ``dt`` steps decays
the average as ``dt`` steps would.
"""

import jax.numpy as jnp

from ssmcast import ssm


def _decay(dt, period: int):
    return jnp.exp(-jnp.asarray(dt, jnp.float32) / period)


def _level(m, w, filled):
    """``m / w`` where the average has begun (``w > 0``), else the value itself."""
    begun = w > 0
    return jnp.where(begun, m / jnp.where(begun, w, 1.0), filled)


def running_level(filled, dt, period: int, seen=None):
    """The running level of ``filled (T, C)`` over gaps ``dt (T,)``, and the state after it.

    The average of a target begins at its first observation (``seen``: observed at that step
    or before; every step when None): what a forward fill holds before it is no value.

    Returns:
        ``(level, (m, w))``: the level ``(T, C)`` (the value itself before the first
        observation) and the last step's average and weight, each ``(C,)``, for
        :func:`level_step`.

    Examples:
        >>> import jax.numpy as jnp
        >>> level, _ = running_level(jnp.array([[2.0], [2.0], [4.0]]), jnp.ones(3), 2)
        >>> [round(v, 3) for v in level[:, 0].tolist()]  # starts at the first value
        [2.0, 2.0, 3.013]
    """
    a = jnp.broadcast_to(_decay(dt, period)[:, None], filled.shape)
    if seen is not None:  # nothing to average before the first observation: hold at zero
        a = jnp.where(seen, a, 1.0)
    m = ssm.linear_recurrence(a, (1.0 - a) * filled)
    w = ssm.linear_recurrence(a, 1.0 - a)
    return _level(m, w, filled), (m[-1], w[-1])


def init_level(num_channels: int):
    """The state before any step: ``(m, w)`` zero (the first observation sets the level)."""
    zeros = jnp.zeros((num_channels,), jnp.float32)
    return zeros, zeros


def level_step(state, filled, dt, period: int, observed=True):
    """One step of :func:`running_level`: ``(new_state, level)`` for ``filled (C,)``.

    ``observed``: whether each target is observed at this step (it begins the average).
    """
    m, w = state
    seen = (w > 0) | observed
    a = jnp.where(seen, _decay(dt, period), 1.0)  # 1 (no change) before the first one
    m = a * m + (1.0 - a) * filled
    w = a * w + (1.0 - a)
    return (m, w), _level(m, w, filled)
