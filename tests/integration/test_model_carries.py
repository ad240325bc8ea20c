"""What the model file carries (issue 22, 5): with `preprocess: auto` and the
personal-data check set to warn, a free-text column used to be one-hot encoded
from its most frequent raw values, so strings like "IBAN DE03… for refunds"
ended up inside model.onnx and _build/model.joblib, and nothing said so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.integration.test_stage_protocol import run_here

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

# Valid IBANs and e-mail addresses (the scan validates, so they must be real-looking).
IBANS = ["DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606"]
EMAILS = ["ada.lovelace@example.org", "grace.hopper@example.org"]


def _project(root: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 600
    amount = rng.gamma(2.0, 50.0, n)
    channel = rng.choice(["web", "store", "phone", "partner"], n)
    # A category whose frequent values include e-mail addresses (a contact column).
    contact = rng.choice(["none", "hotline", *EMAILS], n, p=[0.4, 0.3, 0.15, 0.15])
    # Free text: mostly distinct notes, some quoting an IBAN.
    notes = [
        f"refund to IBAN {IBANS[i % 3]} ref {i}" if i % 7 == 0 else f"note {i} about order {i * 13}"
        for i in range(n)
    ]
    score = 0.01 * amount + (channel == "web") + rng.normal(size=n)
    table = pd.DataFrame(
        {"amount": amount, "channel": channel, "contact": contact, "notes": notes,
         "churned": np.where(score > np.median(score), "yes", "no")}
    )  # fmt: skip
    root.mkdir()
    table.to_csv(root / "data.csv", index=False)
    config = {
        "data": {"path": "data.csv", "target": "churned", "split": {"test_size": 0.25, "seed": 0}},
        "task": "classification",
        "model": {"estimator": "sklearn.linear_model.LogisticRegression", "seed": 0},
        "safeguards": {"personal_data": {"severity": "warn"}},
    }
    (root / "ci-ml.yaml").write_text(yaml.safe_dump(config))
    return root


def test_no_raw_personal_value_or_free_text_reaches_the_model_file(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    out = tmp_path / "out"
    code, stdout, stderr = run_here(["run", "--out", str(out)], project)
    assert code == 0, stdout + stderr
    carried = (out / "model.onnx").read_bytes() + (out / "_build" / "model.joblib").read_bytes()
    for raw in [*IBANS, *EMAILS, "refund to IBAN", "about order"]:
        assert raw.encode() not in carried, raw
    pre = json.loads((out / "manifest.json").read_text())["model"]["preprocess"]
    assert "notes" in pre["left_out"] and "identifier or free text" in pre["left_out"]["notes"]
    assert sorted(pre["vocabulary"]["channel"]) == ["partner", "phone", "store", "web"]
    assert sorted(pre["vocabulary"]["contact"]) == ["hotline", "none"]
    assert pre["withheld_personal_data"] == {"contact": 2}
    card = (out / "model-card.md").read_text()
    assert "What the model carries of the data" in card
    assert "2 frequent value(s) that hold personal data withheld" in card
    assert "notes: left out" in card


def test_a_column_allowed_to_hold_personal_data_keeps_its_values(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    config = yaml.safe_load((project / "ci-ml.yaml").read_text())
    config["safeguards"]["allow_personal_data"] = {"contact": "support addresses, not people"}
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    assert run_here(["run", "--out", str(out)], project)[0] == 0
    pre = json.loads((out / "manifest.json").read_text())["model"]["preprocess"]
    assert sorted(pre["vocabulary"]["contact"]) == sorted(["hotline", "none", *EMAILS])
    assert "withheld_personal_data" not in pre
