"""Training augmentation: each variant is a realistic, finite, bounded change of the clip."""

from __future__ import annotations

import numpy as np

from samplesort import augment

SR = 32000


def _decaying_noise(tau_s: float = 0.05, dur_s: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(1)
    t = np.arange(int(dur_s * SR)) / SR
    return (rng.standard_normal(t.size) * np.exp(-t / tau_s)).astype(np.float32)


def _time_below(x: np.ndarray, db: float) -> float:
    """Seconds from the peak until a 10 ms RMS envelope stays below `db` under the peak's."""
    n = int(0.01 * SR)
    env = np.sqrt(np.convolve(x.astype(np.float64) ** 2, np.ones(n) / n, mode="same"))
    peak = int(np.argmax(env))
    above = np.nonzero(env >= env[peak] * 10 ** (db / 20))[0]
    return (above[-1] - peak) / SR


def test_sustained_rings_longer_and_keeps_the_attack_and_the_peak() -> None:
    x = _decaying_noise()
    y = augment.sustained(x, SR, stretch=2.0, gain_db_per_s=20.0, max_gain_db=20.0)
    cut = int(np.argmax(np.abs(x))) + int(0.01 * SR)
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y[:cut], x[:cut])  # the attack is untouched
    assert np.max(np.abs(y)) <= np.max(np.abs(x)) + 1e-6
    assert abs(y.size - (cut + 2 * (x.size - cut))) < 0.01 * SR  # the tail is twice as long
    assert _time_below(y, -30) > 1.8 * _time_below(x, -30)


def test_sustained_leaves_a_clip_with_no_tail_alone() -> None:
    x = np.zeros(200, dtype=np.float32)
    x[10] = 1.0
    y = augment.sustained(x, SR, stretch=2.0, gain_db_per_s=20.0, max_gain_db=20.0)
    np.testing.assert_array_equal(y, x)


def test_variants_are_finite_bounded_and_reproducible() -> None:
    x = _decaying_noise()
    a = [augment.variant(x, SR, np.random.default_rng(s), sustain=True) for s in range(30)]
    b = [augment.variant(x, SR, np.random.default_rng(s), sustain=True) for s in range(30)]
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
        assert u.size > 0 and np.all(np.isfinite(u))
        assert np.max(np.abs(u)) < 4 * np.max(np.abs(x))
    # among 30 seeds, some variants ring longer than the original (the sustain op is drawn)
    assert any(_time_below(u, -30) > 1.5 * _time_below(x, -30) for u in a)


def test_only_hats_and_cymbals_get_longer_rings() -> None:
    x = _decaying_noise()
    kick = augment.variants(x, SR, label="kick", n=30, seed=3)
    hat = augment.variants(x, SR, label="hihat_open", n=30, seed=3)
    hat_off = augment.variants(x, SR, label="hihat_open", n=30, seed=3, sustain=False)
    # a label that does not ring, and a ringing label with sustain off, draw the same variants
    assert len(kick) == len(hat_off) == 30
    for u, v in zip(kick, hat_off, strict=True):
        np.testing.assert_array_equal(u, v)
    # the stretch makes a hat variant's tail longer than any kick variant's
    assert max(u.size for u in hat) > 1.2 * max(u.size for u in kick)
    assert sum(_time_below(u, -30) > 1.8 * _time_below(x, -30) for u in hat) > sum(
        _time_below(u, -30) > 1.8 * _time_below(x, -30) for u in kick
    )
