"""ci-ml.yaml's JSON Schema: generated from the config models, shipped in the
package, satisfied by every example config and by what `ci-ml init` writes, and
named on the first line of that file for editors."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

from ci_ml import __version__, scaffold
from ci_ml.config import SCHEMA_FILE, config_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIGS = sorted((ROOT / "examples").glob("*/ci-ml.yaml"))


def shipped() -> dict:
    return json.loads(resources.files("ci_ml").joinpath(SCHEMA_FILE).read_text())


def validator() -> jsonschema.Draft202012Validator:
    schema = shipped()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_schema_is_the_models_own() -> None:
    """Stale after a change to the models until `python scripts/gen_docs.py` runs."""
    assert shipped() == config_schema(__version__)
    assert shipped()["$id"].endswith(f"/v{__version__}/ci_ml/{SCHEMA_FILE}")


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=lambda p: p.parent.name)
def test_every_example_config_satisfies_the_schema(path: Path) -> None:
    errors = list(validator().iter_errors(yaml.safe_load(path.read_text())))
    assert errors == [], [e.message for e in errors]


def test_the_schema_refuses_what_the_loader_refuses() -> None:
    """Not a schema that accepts anything: an unknown key, a wrong type, a missing key."""
    good = yaml.safe_load(EXAMPLE_CONFIGS[0].read_text())
    for bad in (
        {**good, "gatez": []},
        {**good, "task": "clustering"},
        {**good, "data": {**good["data"], "tets": "x.csv"}},
        {k: v for k, v in good.items() if k != "model"},
    ):
        assert list(validator().iter_errors(bad)), bad


def test_init_names_the_schema_on_its_first_line_and_satisfies_it() -> None:
    frame = pd.DataFrame({"x": range(200), "y": ["a", "b"] * 100})
    setup = scaffold.decide({"data.csv": frame}, "y", split=True)
    text = scaffold.config_text(setup, {"path": "data.csv"}, "data.csv")
    first = text.splitlines()[0]
    assert first == f"# yaml-language-server: $schema={shipped()['$id']}"
    assert list(validator().iter_errors(yaml.safe_load(text))) == []
