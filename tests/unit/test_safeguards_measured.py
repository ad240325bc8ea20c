"""Issue 22, 5: the row checks keep what they measured in safeguards.json even
below their threshold, as leakage and skew keep their scores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ci_ml.checks.data import check
from ci_ml.config import SafeguardsConfig


def test_a_duplicate_below_the_threshold_is_counted() -> None:
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"a": rng.normal(size=200), "y": rng.integers(0, 2, 200)})
    train.loc[1, ["a", "y"]] = train.loc[0, ["a", "y"]]  # one repeat: 0.5 %, under the 1 % default
    test = pd.DataFrame({"a": rng.normal(size=50), "y": rng.integers(0, 2, 50)})
    result = check(train, test, "y", "classification", SafeguardsConfig(), {})
    assert not [f for f in result.findings if f.check == "duplicates"]
    dup = result.measured["duplicates"]
    assert dup["rows"] == 1 and dup["share"] == 0.005 and dup["threshold"] > dup["share"]
    assert result.measured["contamination"]["rows"] == 0
