"""Data as a new user brings it, made here (nothing from examples/): a churn table
with six numeric columns, one text column, an id and a yes/no target, with
missing values in numbers and text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def churn_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "standard", "premium"], n, p=[0.5, 0.3, 0.2]).astype(object)
    plan[rng.random(n) < 0.05] = None
    df = pd.DataFrame(
        {
            "customer_id": np.arange(10_000, 10_000 + n) + seed * n,
            "tenure_months": np.where(rng.random(n) < 0.08, np.nan, rng.gamma(2, 12, n).round(1)),
            "monthly_fee": rng.normal(40, 12, n).round(2),
            "support_calls": rng.poisson(1.2, n),
            "logins_per_week": np.where(rng.random(n) < 0.05, np.nan, rng.gamma(3, 2, n).round(1)),
            "discount_pct": rng.choice([0, 5, 10, 15], n),
            "age": rng.integers(18, 80, n),
            "plan": plan,
        }
    )
    z = (
        0.9 * (df["plan"] == "premium")
        - df["tenure_months"].fillna(20) / 25
        + 0.5 * df["support_calls"]
        - 0.1 * df["logins_per_week"].fillna(5)
        + rng.normal(0, 0.6, n)
    )
    df["churn"] = np.where(z > np.quantile(z, 0.7), "yes", "no")
    return df


def write_churn(folder: Path, *, split_files: bool = True) -> Path:
    """data/train.csv + data/test.csv (or one data/customers.csv) under `folder`."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    if split_files:
        churn_table(800, 0).to_csv(data / "train.csv", index=False)
        churn_table(250, 1).to_csv(data / "test.csv", index=False)
    else:
        churn_table(1000, 2).to_csv(data / "customers.csv", index=False)
    return folder
