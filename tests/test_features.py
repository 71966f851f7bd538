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
    ours = F.dct_matrix(40, 13) @ x
    np.testing.assert_allclose(ours, dct(x, type=2, norm="ortho")[:13], atol=1e-5)


# Values recorded from the original (pre-optimisation) implementation of `describe`, which the
# bundled models were trained on (FEATURE_SCHEMA_VERSION 2). A change that moves any of them
# beyond float rounding changes the features under those models: bump the schema and retrain.
GOLDEN: dict[str, dict[str, float]] = {
    "kick": {
        "active_duration_s": 0.512,
        "decay20_s": 0.424,
        "decay_slope_db_per_s": -48.79573,
        "crest_db": 11.92714,
        "temporal_centroid_s": 0.09053227,
        "level_60ms_db": -2.83811,
        "f0_early_hz": 86.06241,
        "f0_early_conf_db": 81.34683,
        "f0_late_hz": 52.46618,
        "low_centroid_late_hz": 52.51152,
        "eq_low_db": -0.01589872,
        "eq_high_late_minus_early_db": -27.63318,
        "band1_share_db": -16.59496,
        "band4_decay20_s": 0.016,
        "band5_level_150ms_db": -100.0,
        "centroid_hz_early": 110.0579,
        "rolloff_hz_late": 69.73104,
        "flatness_late": 4.084392e-06,
        "peakiness_db_early": 24.56421,
        "flux_late": 0.03357304,
        "stability_late": 0.9875134,
        "late_partials": 0.0,
        "late_partial_prominence_db": -0.0002568563,
        "zcr_active": 0.004187762,
        "flatness_4k_12k_late": 0.8759173,
        "stability_high_late": 0.9317752,
        "slope_db_per_oct_early": -1.614668,
        "attack_centroid_hz": 251.785,
        "transient_db": -3.589762,
        "mel15_late_db": -70.0141,
        "mfcc01_mean": 153.884,
        "mfcc04_mean": 34.21181,
    },
    "ride": {
        "active_duration_s": 2.512,
        "decay20_s": 2.04,
        "decay_slope_db_per_s": -8.400483,
        "crest_db": 18.44019,
        "temporal_centroid_s": 0.3874219,
        "level_60ms_db": -1.350411,
        "f0_early_hz": 996.0938,
        "f0_early_conf_db": 17.61227,
        "f0_late_hz": 813.7572,
        "low_centroid_late_hz": 410.2284,
        "eq_low_db": -79.04046,
        "eq_high_late_minus_early_db": 0.0001879585,
        "band1_share_db": -74.00977,
        "band4_decay20_s": 2.064,
        "band5_level_150ms_db": -2.626705,
        "centroid_hz_early": 4620.965,
        "rolloff_hz_late": 5518.028,
        "flatness_late": 0.01875569,
        "peakiness_db_early": 23.02164,
        "flux_late": 0.07183229,
        "stability_late": 0.9840156,
        "late_partials": 12.0,
        "late_partial_prominence_db": 22.33957,
        "zcr_active": 0.2764159,
        "flatness_4k_12k_late": 0.04778251,
        "stability_high_late": 0.9925128,
        "slope_db_per_oct_early": 8.148709,
        "attack_centroid_hz": 4608.843,
        "transient_db": -4.699432,
        "mel15_late_db": -14.33446,
        "mfcc01_mean": -138.4814,
        "mfcc04_mean": -21.36723,
    },
    "snare_slice": {
        "active_duration_s": 0.16,
        "decay20_s": 0.144,
        "decay_slope_db_per_s": -98.35949,
        "crest_db": 13.23908,
        "temporal_centroid_s": 0.03990314,
        "level_60ms_db": -6.449876,
        "f0_early_hz": 172.5676,
        "f0_early_conf_db": 43.30449,
        "f0_late_hz": 172.573,
        "low_centroid_late_hz": 199.3211,
        "eq_low_db": -3.6717,
        "eq_high_late_minus_early_db": 2.537269,
        "band1_share_db": -2.769935,
        "band4_decay20_s": 0.136,
        "band5_level_150ms_db": -100.0,
        "centroid_hz_early": 2113.348,
        "rolloff_hz_late": 7454.279,
        "flatness_late": 0.06866276,
        "peakiness_db_early": 20.99535,
        "flux_late": 0.1775159,
        "stability_late": 0.8287536,
        "late_partials": 1.0,
        "late_partial_prominence_db": 14.93176,
        "zcr_active": 0.2523443,
        "flatness_4k_12k_late": 0.4107904,
        "stability_high_late": 0.7787631,
        "slope_db_per_oct_early": -1.090942,
        "attack_centroid_hz": 1725.74,
        "transient_db": -1.409418,
        "mel15_late_db": -15.31809,
        "mfcc01_mean": 5.433621,
        "mfcc04_mean": 6.262714,
    },
}


def _golden_clip(name: str) -> np.ndarray:
    from fixtures import synth

    if name == "snare_slice":  # a 150 ms hit slice, as full-track mode cuts them
        return synth.voice("snare", seed=3, sr=SR)[: int(0.15 * SR)]
    return synth.voice(name, seed=3, sr=SR)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_features_match_the_values_the_models_were_trained_on(name: str) -> None:
    got = _named(F.describe(_golden_clip(name), sr_hz=SR))
    for feature, want in GOLDEN[name].items():
        assert got[feature] == pytest.approx(want, rel=1e-4, abs=1e-5), (name, feature)
