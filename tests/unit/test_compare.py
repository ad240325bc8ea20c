"""Pure pieces of the comparison: what counts as a parameter change, class alignment."""

from __future__ import annotations

import math

import numpy as np

from ci_ml.comparison import params_diff
from ci_ml.records import Manifest, load
from ci_ml.scoring.pairing import align_classes


def manifest(estimator: str, **params) -> Manifest:
    return load(
        Manifest,
        {
            "task": "classification",
            "features": [],
            "model": {"estimator": estimator, "params": params},
        },
    )


def test_equal_or_unset_parameters_are_not_changes() -> None:
    base = manifest("RandomForestClassifier", max_depth=6, max_samples=None, n_jobs=None)
    cand = manifest("RandomForestClassifier", max_depth=2)  # the others unset: same as None
    rows = params_diff(base, cand)
    assert [(r.param, r.baseline, r.candidate) for r in rows] == [("max_depth", 6, 2)]


def test_nan_equals_nan_and_numbers_compare_by_value() -> None:
    base = manifest("X", alpha=math.nan, C=1)
    cand = manifest("X", alpha=math.nan, C=1.0)
    assert params_diff(base, cand) == []


def test_a_changed_estimator_is_the_first_row() -> None:
    rows = params_diff(manifest("A", x=1), manifest("B", x=1))
    assert rows[0].param == "(estimator)" and rows[0].baseline == "A" and rows[0].candidate == "B"


def test_align_classes_maps_labels_and_probabilities_onto_the_candidates() -> None:
    pred = np.array(["b", "a", "z"], dtype=object)
    proba = np.array([[0.1, 0.9, 0.0], [0.8, 0.2, 0.0], [0.0, 0.1, 0.9]])
    idx, out, notes = align_classes(["a", "b"], ["a", "b", "z"], pred, proba)
    assert idx.tolist() == [1, 0, -1]
    assert out.tolist() == [[0.1, 0.9], [0.8, 0.2], [0.0, 0.1]]
    assert notes == ["classes only the baseline knows: z"]
    idx, out, _ = align_classes(["a", "b"], ["a", "b"], np.array(["a"]), None)
    assert idx.tolist() == [0] and out is None


def configured(estimator: str, user: dict, seed: int = 0, **effective) -> Manifest:
    """A manifest whose config set `user` and whose estimator ran with `effective`."""
    return load(
        Manifest,
        {
            "task": "classification",
            "features": [],
            "model": {"estimator": estimator, "params": {**effective, **user}},
            "config": {"model": {"params": user, "seed": seed}},
        },
    )


def test_only_the_parameters_the_user_set_and_a_class_change_are_listed() -> None:
    """The reported 'Parameters changed (24)' after an estimator change: every
    default of both classes. Now: the class, and the parameters either config set."""
    base = configured("RandomForestClassifier", {"max_depth": 6}, criterion="gini", n_jobs=None)
    cand = configured("ExtraTreesClassifier", {"max_depth": 2}, criterion="entropy", bootstrap=1)
    rows = [(r.param, r.baseline, r.candidate) for r in params_diff(base, cand)]
    assert rows == [
        ("(estimator)", "RandomForestClassifier", "ExtraTreesClassifier"),
        ("max_depth", 6, 2),
    ]
    # A parameter only one config set is a change, with the other side's effective value.
    cand = configured("RandomForestClassifier", {"max_depth": 6, "criterion": "entropy"})
    base = configured("RandomForestClassifier", {"max_depth": 6}, criterion="gini")
    assert [(r.param, r.baseline, r.candidate) for r in params_diff(base, cand)] == [
        ("criterion", "gini", "entropy")
    ]
    assert [r.param for r in params_diff(base, configured("RandomForestClassifier",
        {"max_depth": 6}, seed=7, criterion="gini"))] == ["(seed)"]  # fmt: skip
