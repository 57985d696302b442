"""Parameter kinds shared by the layers.

:class:`SSMParam` marks the parameters of a state space recurrence (eigenvalues, step sizes,
input matrices, skip terms). Training gives them their own optimizer group, with a lower
learning rate and no weight decay, as S5 and Mamba do. Filter them with
``nnx.state(model, SSMParam)``.
"""

from flax import nnx


class SSMParam(nnx.Param):
    """A trainable parameter of a state space recurrence.

    It is an :class:`flax.nnx.Param`, so every ``nnx.Param`` filter still sees it; filter on
    ``SSMParam`` first to put it in a group of its own.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> p = SSMParam(jnp.zeros(3))
        >>> isinstance(p, nnx.Param)
        True
    """
