"""Discretisation against scipy.linalg.expm and dense formulas; the initialisers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from ssmcast.ssm import (
    discretize_bilinear,
    discretize_zoh,
    init_hippo_legs,
    init_lru,
    init_s4d_inv,
    init_s4d_lin,
)


def random_system(seed, state_dim=4, input_dim=3):
    rng = np.random.default_rng(seed)
    Lambda = -rng.uniform(0.05, 2.0, state_dim) + 1j * rng.uniform(-5, 5, state_dim)
    B = rng.normal(size=(state_dim, input_dim)) + 1j * rng.normal(size=(state_dim, input_dim))
    return Lambda.astype(np.complex64), B.astype(np.complex64)


def dense_zoh(Lambda, B, dt):
    """Van Loan: expm([[A, B], [0, 0]] dt) = [[A_bar, B_bar], [0, I]]."""
    n, m = B.shape
    block = np.zeros((n + m, n + m), np.complex128)
    block[:n, :n] = np.diag(Lambda)
    block[:n, n:] = B
    e = scipy.linalg.expm(block * dt)
    return np.diag(e[:n, :n]), e[:n, n:]


@pytest.mark.parametrize("seed", range(3))
def test_zoh_matches_matrix_exponential(seed):
    Lambda, B = random_system(seed)
    for dt in (0.01, 0.3, 2.0):
        lam, B_bar = discretize_zoh(Lambda, B, dt)
        lam_ref, B_ref = dense_zoh(Lambda, B, dt)
        np.testing.assert_allclose(np.asarray(lam), lam_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(B_bar), B_ref, rtol=1e-4, atol=1e-5)


def test_zoh_with_one_step_per_time():
    Lambda, B = random_system(7)
    dts = np.array([0.1, 1.0, 0.5, 3.0], np.float32)
    lam, B_bar = jax.jit(discretize_zoh)(Lambda, B, dts)
    assert lam.shape == (4, 4) and B_bar.shape == (4, 4, 3)
    for t, dt in enumerate(dts):
        lam_ref, B_ref = dense_zoh(Lambda, B, dt)
        np.testing.assert_allclose(np.asarray(lam[t]), lam_ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(B_bar[t]), B_ref, rtol=1e-4, atol=1e-5)
    # The gain form gives the same B_bar without materialising it.
    lam2, gain = discretize_zoh(Lambda, None, dts)
    np.testing.assert_allclose(np.asarray(gain[..., None] * B), np.asarray(B_bar), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(lam2), np.asarray(lam))


def test_zoh_composes_over_steps():
    # exp(L * 2) = exp(L)^2: a gap of two steps equals two steps with no input.
    Lambda, _ = random_system(3)
    lam1, _ = discretize_zoh(Lambda, None, 1.0)
    lam2, _ = discretize_zoh(Lambda, None, 2.0)
    np.testing.assert_allclose(np.asarray(lam2), np.asarray(lam1) ** 2, rtol=1e-5, atol=1e-6)


def test_zoh_gain_is_continuous_at_zero():
    Lambda = np.array([0.0, 1e-7, -1e-5, 1e-3j, -0.5], np.complex64)
    _, gain = discretize_zoh(Lambda, None, 0.7)
    expected = np.where(
        Lambda == 0,
        0.7,
        np.expm1(Lambda.astype(np.complex128) * 0.7) / np.where(Lambda == 0, 1, Lambda),
    )
    np.testing.assert_allclose(np.asarray(gain), expected, rtol=1e-5)
    # Gradients are finite at Lambda = 0 too.
    g = jax.grad(lambda lam: jnp.sum(discretize_zoh(lam, None, 0.7)[1]))(jnp.zeros(2))
    assert np.isfinite(np.asarray(g)).all()


@pytest.mark.parametrize("seed", range(3))
def test_bilinear_matches_dense_formula(seed):
    Lambda, B = random_system(seed)
    A = np.diag(Lambda.astype(np.complex128))
    eye = np.eye(len(Lambda))
    for dt in (0.01, 0.3, 2.0):
        inv = np.linalg.inv(eye - dt / 2 * A)
        lam, B_bar = discretize_bilinear(Lambda, B, dt)
        np.testing.assert_allclose(np.asarray(lam), np.diag(inv @ (eye + dt / 2 * A)), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(B_bar), dt * inv @ B, rtol=1e-4, atol=1e-6)


def test_discretize_errors_name_the_argument():
    Lambda, B = random_system(0)
    with pytest.raises(ValueError, match=r"`B`.*\(4, input_dim\)"):
        discretize_zoh(Lambda, B.T, 0.1)
    with pytest.raises(ValueError, match="`Lambda`"):
        discretize_bilinear(np.diag(Lambda), B, 0.1)
    with pytest.raises(ValueError, match="`dt`"):
        discretize_zoh(Lambda, B, np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="`dt`"):
        discretize_zoh(Lambda, B, np.ones(3, np.int64))


def test_s4d_initialisers():
    np.testing.assert_allclose(
        np.asarray(init_s4d_lin(4)), -0.5 + 1j * np.pi * np.arange(4), rtol=1e-6
    )
    n = np.arange(8)
    np.testing.assert_allclose(
        np.asarray(init_s4d_inv(8)).imag, 8 / np.pi * (8 / (2 * n + 1) - 1), rtol=1e-5
    )


def test_hippo_legs_matches_eigenvalues_of_the_dense_normal_part():
    size = 16
    n = np.arange(size)
    A = np.where(
        n[:, None] > n[None, :],
        -np.sqrt(2 * n[:, None] + 1) * np.sqrt(2 * n[None, :] + 1),
        np.where(n[:, None] == n[None, :], -(n[:, None] + 1.0), 0.0),
    )
    p = np.sqrt(n + 0.5)
    eig = np.linalg.eigvals(A + np.outer(p, p))
    expected = eig[eig.imag > 0]
    expected = expected[np.argsort(expected.imag)]
    lam = np.asarray(init_hippo_legs(size // 2))
    np.testing.assert_allclose(lam[np.argsort(lam.imag)], expected, rtol=1e-4, atol=1e-4)


def test_lru_ring():
    lam = init_lru(jax.random.PRNGKey(0), 2000, r_min=0.4, r_max=0.9, max_phase=np.pi / 2)
    z = np.exp(np.asarray(lam, np.complex128))
    assert (np.abs(z) >= 0.4 - 1e-6).all() and (np.abs(z) <= 0.9 + 1e-6).all()
    assert (np.angle(z) >= -1e-6).all() and (np.angle(z) <= np.pi / 2 + 1e-6).all()
    # Uniform on the ring's area: |z|^2 is uniform on [r_min^2, r_max^2].
    assert abs(np.mean(np.abs(z) ** 2) - (0.4**2 + 0.9**2) / 2) < 0.01
    with pytest.raises(ValueError, match="r_min"):
        init_lru(jax.random.PRNGKey(0), 4, r_min=0.9, r_max=0.5)
    with pytest.raises(ValueError, match="max_phase"):
        init_lru(jax.random.PRNGKey(0), 4, max_phase=0.0)
    with pytest.raises(ValueError, match="state_dim"):
        init_s4d_lin(0)
