import numpy as np
import pytest

from samplesort import features as F

SR = 32000


def _named(values: np.ndarray) -> dict[str, float]:
    assert values.shape == (len(F.FEATURE_NAMES),)
    return dict(zip(F.FEATURE_NAMES, values.tolist(), strict=True))


def test_feature_names_unique_and_units_named() -> None:
    assert len(set(F.FEATURE_NAMES)) == len(F.FEATURE_NAMES)
    assert "active_duration_s" in F.FEATURE_NAMES and "f0_early_hz" in F.FEATURE_NAMES


def test_sine_pitch_and_centroid_are_its_frequency() -> None:
    t = np.arange(int(0.5 * SR)) / SR
    x = np.sin(2 * np.pi * 250.0 * t) * np.exp(-t / 0.2)
    f = _named(F.describe(x, sr_hz=SR))
    assert f["f0_early_hz"] == pytest.approx(250.0, abs=3.0)
    assert f["f0_late_hz"] == pytest.approx(250.0, abs=3.0)
    assert f["centroid_hz_early"] == pytest.approx(250.0, rel=0.15)
    assert f["eq_low_db"] < f["eq_mid_db"]  # 250 Hz sits in the mid band (200-2500 Hz)


def test_decay_times_follow_an_exponential_envelope() -> None:
    t = np.arange(int(1.5 * SR)) / SR
    tau = 0.1  # 20 dB drop after tau * ln(10) = 0.23 s
    x = np.random.default_rng(0).standard_normal(t.size) * np.exp(-t / tau)
    f = _named(F.describe(x, sr_hz=SR))
    assert f["decay20_s"] == pytest.approx(tau * np.log(10), abs=0.03)
    assert f["decay_slope_db_per_s"] == pytest.approx(-20 / (tau * np.log(10)), rel=0.15)
    assert f["attack_s"] < 0.02


def test_noise_is_flat_and_unstable_sine_is_peaky_and_stable() -> None:
    t = np.arange(int(1.0 * SR)) / SR
    env = np.exp(-t / 0.3)
    noise = _named(F.describe(np.random.default_rng(1).standard_normal(t.size) * env, sr_hz=SR))
    tone = _named(F.describe(np.sin(2 * np.pi * 3000 * t) * env, sr_hz=SR))
    assert noise["flatness_late"] > 10 * tone["flatness_late"]
    assert tone["peakiness_db_late"] > noise["peakiness_db_late"] + 10
    assert tone["stability_late"] > noise["stability_late"]
    assert noise["zcr_active"] > tone["zcr_active"] * 0.5


def test_leading_silence_and_gain_do_not_change_features() -> None:
    t = np.arange(int(0.4 * SR)) / SR
    x = np.sin(2 * np.pi * 100 * t) * np.exp(-t / 0.1)
    base = F.describe(x, sr_hz=SR, file_duration_s=1.0)
    shifted = F.describe(
        np.concatenate([np.zeros(SR // 10), 0.1 * x]), sr_hz=SR, file_duration_s=1.0
    )
    a, b = _named(base), _named(shifted)
    for name in (
        "active_duration_s",
        "decay20_s",
        "decay40_s",
        "f0_early_hz",
        "eq_low_db",
        "centroid_hz_early",
        "temporal_centroid_s",
        "level_100ms_db",
        "mfcc01_mean",
    ):
        assert a[name] == pytest.approx(b[name], rel=0.05, abs=0.5), name


def test_tiny_and_extreme_signals_give_finite_features() -> None:
    for x in (np.array([1.0, -1.0, 0.5]), np.ones(10), np.r_[1.0, np.zeros(SR)]):
        assert np.all(np.isfinite(F.describe(x, sr_hz=SR)))


def test_silence_is_refused() -> None:
    with pytest.raises(ValueError, match="non-silent"):
        F.describe(np.zeros(1000), sr_hz=SR)


def test_mel_filterbank_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    ours = F.mel_filterbank(sr_hz=SR, n_fft=1024, n_mels=40)
    ref = librosa.filters.mel(sr=SR, n_fft=1024, n_mels=40)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_dct_matches_scipy() -> None:
    from scipy.fft import dct

    x = np.random.default_rng(2).standard_normal(40)
    ours = F._dct_matrix(40, 13) @ x
    np.testing.assert_allclose(ours, dct(x, type=2, norm="ortho")[:13], atol=1e-5)
