"""The pytest plugin (entry point `pytest11`): a project's own tests, written as
ordinary test functions, against a ci-ml build's shipped model.

    def test_refunds_never_auto_approved(candidate, holdout):
        rows = holdout[holdout.kind == "refund"]
        assert (candidate.predict(rows) != "approve").all()

Fixtures (session-scoped): `candidate` and `baseline` (ci_ml.testing.OnnxModel;
`baseline` skips when the build had none), `holdout` and `train` (the rows as
read, target included), `manifest` and `metrics` (the build's JSON files as
dicts). They need `--ci-ml-artifact DIR`; without it a test using them is
skipped, so the plugin never gets in the way of a project's other tests.
`ci-ml test-model` (and `ci-ml run`) pass every option themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import pytest

from ci_ml.errors import CiMlError
from ci_ml.testing.view import BuildView, Preloaded

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.json_types import JSONObject
    from ci_ml.scoring.model import OnnxModel

T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ci-ml", "ci-ml model tests")
    group.addoption(
        "--ci-ml-artifact",
        metavar="DIR",
        help="a ci-ml build's artifact folder (.ci-ml): the fixtures candidate, baseline, "
        "holdout, train, manifest and metrics read it",
    )
    group.addoption(
        "--ci-ml-config",
        metavar="FILE",
        help="the ci-ml.yaml it was built with (default: the one the build recorded)",
    )
    group.addoption(
        "--ci-ml-baseline",
        metavar="DIR|none",
        help="the baseline's artifact folder (default: the one the build compared with)",
    )


def _view(config: pytest.Config) -> BuildView:

    artifact = config.getoption("ci_ml_artifact")
    if not artifact:
        pytest.skip("no ci-ml build: run with --ci-ml-artifact .ci-ml (ci-ml test-model does)")

    pre = next((p for p in config.pluginmanager.get_plugins() if isinstance(p, Preloaded)), None)
    try:
        return BuildView(
            artifact, config.getoption("ci_ml_config"), config.getoption("ci_ml_baseline"), pre
        )
    except CiMlError as e:
        pytest.fail(str(e), pytrace=False)


def _read(part: Callable[[], T]) -> T:
    """A part of the build, or the test fails with ci-ml's message (no traceback)."""

    try:
        return part()
    except CiMlError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def ci_ml_build(pytestconfig: pytest.Config) -> BuildView:
    """The build under test (what the other fixtures read)."""
    return _view(pytestconfig)


@pytest.fixture(scope="session")
def candidate(ci_ml_build: BuildView) -> OnnxModel:
    """The build's model.onnx: `predict(df)`, `predict_proba(df)`, `classes_`."""
    return _read(lambda: ci_ml_build.candidate)


@pytest.fixture(scope="session")
def baseline(ci_ml_build: BuildView) -> OnnxModel:
    """The baseline's model.onnx; the test is skipped when the build had no baseline."""
    model = _read(lambda: ci_ml_build.baseline)
    if model is None:
        pytest.skip("this build has no baseline to compare with")
    return model


@pytest.fixture(scope="session")
def holdout(ci_ml_build: BuildView) -> pd.DataFrame:
    """The holdout rows (a DataFrame, target included), as the build read them."""
    return _read(lambda: ci_ml_build.holdout)


@pytest.fixture(scope="session")
def train(ci_ml_build: BuildView) -> pd.DataFrame:
    """The training rows (a DataFrame, target included)."""
    return _read(lambda: ci_ml_build.train)


@pytest.fixture(scope="session")
def manifest(ci_ml_build: BuildView) -> JSONObject:
    """manifest.json as a dict."""
    return _read(lambda: ci_ml_build.manifest_json)


@pytest.fixture(scope="session")
def metrics(ci_ml_build: BuildView) -> JSONObject:
    """metrics.json as a dict (metrics["metrics"]["roc_auc"]["value"])."""
    return _read(lambda: ci_ml_build.metrics)
