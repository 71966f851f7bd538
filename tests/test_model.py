"""Model bundle: train -> save -> load -> predict, exact agreement with scikit-learn, and the
errors that protect against loading the wrong thing."""

import pickle
from pathlib import Path

import numpy as np
import pytest

from samplesort import model as M
from samplesort.decide import decide, top_labels
from samplesort.errors import ModelError, SchemaMismatch
from samplesort.features import FEATURE_NAMES, FEATURE_SCHEMA_VERSION
from samplesort.training import (
    THRESHOLD_RANGE,
    TrainingSet,
    choose_thresholds,
    score_predictions,
    train_bundle,
)

LABELS3 = ("kick", "snare", "hihat_closed")


def _toy_set(n_per: int = 30, seed: int = 0) -> TrainingSet:
    rng = np.random.default_rng(seed)
    d = len(FEATURE_NAMES)
    X, y, g = [], [], []
    for c, lab in enumerate(LABELS3):
        base = np.zeros(d)
        base[c * 5 : c * 5 + 5] = 3.0
        X.append(base + rng.standard_normal((n_per, d)))
        y += [lab] * n_per
        g += [f"kit{i % 3}" for i in range(n_per)]
    Xa = np.vstack(X).astype(np.float32)
    n = Xa.shape[0]
    return TrainingSet(
        Xa,
        np.array(y),
        np.array(g),
        np.arange(n),
        np.zeros(n, bool),
        tuple(f"f{i}" for i in range(n)),
    )


def test_exported_trees_match_sklearn_predict_proba() -> None:
    from sklearn.ensemble import RandomForestClassifier

    ts = _toy_set()
    target = (ts.y == "snare").astype(int)
    rf = RandomForestClassifier(n_estimators=15, random_state=0).fit(ts.X, target)
    trees = M.TreeArrays.from_estimators([rf])
    # 50 rows take the numpy walk, 300 the compiled (numba) one: both equal sklearn exactly
    for n in (50, 300):
        X = np.random.default_rng(n).standard_normal((n, ts.X.shape[1])).astype(np.float32) * 3
        np.testing.assert_allclose(
            trees.predict_proba(X, 1)[:, 0], rf.predict_proba(X)[:, 1], atol=1e-12
        )


def test_numpy_and_compiled_walks_of_the_bundled_model_agree_exactly() -> None:
    model = M.load_default()
    X = np.random.default_rng(7).standard_normal((300, len(model.feature_names)))
    X = X.astype(np.float32) * 3
    X[::7, ::5] = np.nan  # goes right in both walks (x <= threshold is false)
    np.testing.assert_array_equal(model.scores(X, compiled=False), model.scores(X, compiled=True))
    np.testing.assert_array_equal(model.scores(X[:64], compiled=False), model.scores(X[:64]))


def test_trees_restricted_to_some_labels_score_those_labels_alone_and_the_same() -> None:
    model = M.load_default()
    X = np.random.default_rng(3).standard_normal((80, len(model.feature_names)))
    X = X.astype(np.float32) * 3
    keep = [model.labels.index("snare"), model.labels.index("ride")]
    few = model.trees.only(keep)
    assert few.roots.size == sum(int((model.trees.tree_class == c).sum()) for c in keep)
    for compiled in (False, True):
        full = model.trees.predict_proba(X, len(model.labels), compiled=compiled)
        part = few.predict_proba(X, len(model.labels), compiled=compiled)
        np.testing.assert_array_equal(part[:, keep], full[:, keep])
        assert not np.delete(part, keep, axis=1).any()


@pytest.mark.parametrize("algorithm", ["forest", "tree"])
def test_train_save_load_predict_round_trip(tmp_path: Path, algorithm: str) -> None:
    ts = _toy_set()
    bundle = train_bundle(ts, algorithm=algorithm, n_trees=20, cv=True)
    path = tmp_path / "m.npz"
    bundle.save(path)
    loaded = M.load(path)
    assert loaded.labels == LABELS3
    np.testing.assert_allclose(loaded.thresholds, bundle.thresholds)
    np.testing.assert_allclose(loaded.scores(ts.X), bundle.scores(ts.X))
    meta = loaded.meta
    assert meta["training_set"]["per_label"] == {lab: 30 for lab in LABELS3}
    assert meta["cv"]["macro_f1"] > 0.8
    assert "sklearn" in meta["versions"] and meta["schema_version"] == FEATURE_SCHEMA_VERSION
    preds = [decide(s, loaded.labels, loaded.thresholds).label for s in loaded.scores(ts.X)]
    assert np.mean(np.array(preds) == ts.y) > 0.95


def test_training_is_reproducible(tmp_path: Path) -> None:
    ts = _toy_set()
    a = train_bundle(ts, n_trees=10, cv=False, seed=3)
    b = train_bundle(ts, n_trees=10, cv=False, seed=3)
    assert a.model_id == b.model_id
    np.testing.assert_array_equal(a.trees.threshold, b.trees.threshold)


def test_features_of_another_schema_are_refused() -> None:
    bundle = train_bundle(_toy_set(), n_trees=5, cv=False)
    with pytest.raises(SchemaMismatch, match="schema"):
        bundle.scores(np.zeros((1, len(FEATURE_NAMES))), schema_version=FEATURE_SCHEMA_VERSION + 1)
    with pytest.raises(SchemaMismatch, match="features"):
        bundle.scores(np.zeros((1, 3)))


def test_trees_splitting_on_a_column_the_model_does_not_name_are_refused() -> None:
    # the compiled walk does not bounds-check: such a model would read past each row
    bundle = train_bundle(_toy_set(), n_trees=5, cv=False)
    used = int(bundle.trees.feature.max())
    with pytest.raises(ModelError, match=f"split on feature {used}"):
        M.ModelBundle(bundle.labels, bundle.thresholds, bundle.trees, bundle.feature_names[:used])


def test_model_of_another_schema_is_refused(tmp_path: Path) -> None:
    bundle = train_bundle(_toy_set(), n_trees=5, cv=False)
    old = M.ModelBundle(
        bundle.labels,
        bundle.thresholds,
        bundle.trees,
        feature_names=bundle.feature_names,
        schema_version=0,
        meta=bundle.meta,
    )
    path = tmp_path / "old.npz"
    old.save(path)
    with pytest.raises(SchemaMismatch, match="retrain"):
        M.load(path)


def test_pickle_and_garbage_files_are_refused_without_running_them(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (Path.touch, (marker,))

    evil = tmp_path / "evil.npz"
    evil.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelError, match="pickle"):
        M.load(evil)
    assert not marker.exists()
    with pytest.raises(ModelError, match="not found"):
        M.load(tmp_path / "missing.npz")


def test_decide_gives_unknown_when_no_class_clears_its_threshold() -> None:
    labels = ("kick", "snare")
    p = decide(np.array([0.3, 0.2]), labels, np.array([0.5, 0.5]))
    assert p.label == "unknown" and p.labels == ()
    p = decide(np.array([0.6, 0.7]), labels, np.array([0.5, 0.5]))
    assert p.label == "snare" and p.labels == ("snare", "kick")


def test_thresholds_and_scores() -> None:
    scores = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.35, 0.65]])
    y = np.array(["kick", "kick", "snare", "snare"])
    thr = choose_thresholds(scores, y, ("kick", "snare"))
    lo, hi = THRESHOLD_RANGE
    assert np.all(thr >= lo) and np.all(thr <= hi)
    pred = top_labels(scores, ("kick", "snare"), thr)
    assert list(pred) == ["kick", "kick", "snare", "snare"]
    rep = score_predictions(
        ["kick", "kick", "snare", "clap"], ["kick", "unknown", "snare", "snare"]
    )
    assert rep.per_label["kick"]["recall"] == 0.5
    assert rep.per_label["clap"]["f1"] == 0.0
    assert rep.group_accuracy == 0.75  # clap -> snare is right at the group level


def test_bundled_default_model_loads_and_hears_a_synthetic_kick() -> None:
    from fixtures.synth import voice
    from samplesort.audio import clip_from_array
    from samplesort.features import extract

    if not M.default_model_path().exists():
        pytest.fail("the bundled default model is missing: run `make model`")
    bundle = M.load_default()
    assert set(bundle.labels) >= {"kick", "snare", "hihat_closed", "other"}
    clip = clip_from_array(voice("kick", seed=1), 44100)
    s = bundle.scores(extract(clip).values[None, :])[0]
    assert decide(s, bundle.labels, bundle.thresholds).label == "kick"
