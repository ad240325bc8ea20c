"""Write the example projects' data files. Deterministic: re-running it
reproduces the committed CSVs byte for byte (checked by a test).

    python examples/make_data.py

binary-classification and regression use datasets that ship inside
scikit-learn (nothing is downloaded); mixed-tabular is generated here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent


def _write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")


def binary_classification() -> None:
    bc = load_breast_cancer(as_frame=True)
    df = bc.frame.rename(columns=lambda c: c.replace(" ", "_"))
    df["target"] = df["target"].map({0: "malignant", 1: "benign"})
    df = df.rename(columns={"target": "diagnosis"})
    train, test = train_test_split(df, test_size=0.3, random_state=7, stratify=df["diagnosis"])
    _write(train, HERE / "binary-classification/data/train.csv")
    _write(test, HERE / "binary-classification/data/test.csv")


def regression() -> None:
    d = load_diabetes(as_frame=True, scaled=False)
    _write(d.frame.rename(columns={"target": "progression"}), HERE / "regression/data/diabetes.csv")


def mixed_tabular(n: int = 3000, seed: int = 11) -> None:
    """Customer churn: string categories, missing values, a nonlinear signal."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro"], size=n, p=[0.5, 0.3, 0.2])
    region = rng.choice(["north", "south", "east", "west"], size=n)
    channel = rng.choice(["web", "store", "partner"], size=n, p=[0.6, 0.3, 0.1])
    tenure = rng.gamma(2.0, 12.0, size=n).round(1)
    monthly = (20 + 15 * (plan == "plus") + 40 * (plan == "pro") + rng.normal(0, 5, n)).round(2)
    tickets = rng.poisson(1.2, size=n)
    logit = (
        -1.0
        + 0.9 * (plan == "basic")
        - 0.04 * tenure
        + 0.5 * tickets
        + 0.6 * (channel == "partner")
        - 0.3 * (region == "west")
    )
    churned = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    df = pd.DataFrame(
        {
            "customer_id": np.arange(100000, 100000 + n),
            "plan": plan,
            "region": region,
            "channel": channel,
            "tenure_months": tenure,
            "monthly_fee": monthly,
            "support_tickets": tickets,
            "churned": churned,
        }
    )
    # Real data has holes: some categories and numbers are missing.
    for col, rate in [
        ("region", 0.05),
        ("channel", 0.03),
        ("tenure_months", 0.04),
        ("monthly_fee", 0.02),
    ]:
        df.loc[rng.random(n) < rate, col] = None
    _write(df, HERE / "mixed-tabular/data/customers.csv")


if __name__ == "__main__":
    binary_classification()
    regression()
    mixed_tabular()
