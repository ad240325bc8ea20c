"""The drift check's parts without a model: the reference profile (its bins, its
privacy, its size), the bins filled a chunk at a time, the test on the bins
(its calibration), and synthetic shifts each flagged on its own column with the
right test and direction while no-shift controls stay quiet."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ci_ml.artifact import plain
from ci_ml.config import DriftConfig, PersonalDataCheck
from ci_ml.monitoring import detect, profiles
from ci_ml.monitoring.counting import Counter, Sample
from ci_ml.records import Profile, dump, load
from ci_ml.stats.twosample import binned_shift

CFG = DriftConfig()
PERSONAL = PersonalDataCheck()


def frame(n: int, seed: int, **shift: float) -> pd.DataFrame:
    """Reference-like data; `shift` moves one thing: mean, scale, mix, new, missing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift.get("mean", 0.0), shift.get("scale", 1.0), n)
    mix = shift.get("mix", 0.0)
    shares = [0.5 - mix, 0.3, 0.2 + mix]
    cats = ["a", "b", "c"]
    new = shift.get("new", 0.0)
    if new:
        shares = [s * (1 - new) for s in shares] + [new]
        cats = [*cats, "d"]
    plan = rng.choice(cats, n, p=shares)
    fee = rng.gamma(2.0, 10.0, n)
    fee[rng.random(n) < shift.get("missing", 0.02)] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "plan": plan,
            "fee": fee,
            "tickets": rng.poisson(1.2, n),  # few distinct values: a bin per value
            "y": rng.integers(0, 2, n),
        }
    )


FEATURES = ["x", "plan", "fee", "tickets"]


def profile_of(df: pd.DataFrame, **kw: object) -> Profile:
    columns, label = profiles.data_profile(df, FEATURES, "y", "classification", **kw)  # type: ignore[arg-type]
    return Profile(
        task="classification",
        target="y",
        rows=len(df),
        bins=profiles.BINS,
        top_k=profiles.TOP_K,
        columns=columns,
        label=label,
    )


def compared(reference: pd.DataFrame, current: pd.DataFrame, chunk: int = 10_000):
    profile = profile_of(reference)
    s = detect.empty_stream(profile, CFG, scored=False)
    for start in range(0, len(current), chunk):
        detect.count(s, current.iloc[start : start + chunk], profile)
    return detect.compare(profile, s, CFG, PERSONAL)


def by_name(c: detect.Compared) -> dict[str, object]:
    return {d.column: d for d in c.columns}


# --- synthetic shifts: the right column, the right test, the right direction -------------


@pytest.mark.parametrize(
    ("shift", "column", "check"),
    [
        ({"mean": 0.4}, "x", lambda d: d.test == "chi2" and d.after - d.before > 0.3),
        ({"mean": -0.4}, "x", lambda d: d.after - d.before < -0.3 and "-0.4 SD" in d.direction),
        ({"scale": 2.0}, "x", lambda d: d.spread_after / d.spread > 1.8 and abs(d.after) < 0.2),
        ({"mix": 0.2}, "plan", lambda d: d.level in ("a", "c") and d.test == "chi2"),
        ({"new": 0.15}, "plan", lambda d: d.new_categories == ["d"] and d.level is None),
        (
            {"missing": 0.2},
            "fee",
            lambda d: d.missing_change > 0.15 and "missing values" in (d.why or ""),
        ),
    ],
    ids=["mean-up", "mean-down", "variance", "category-mix", "new-category", "missingness"],
)
def test_a_synthetic_shift_is_flagged_on_its_column_alone(shift, column, check) -> None:
    c = compared(frame(3000, 1), frame(3000, 2, **shift))
    found = by_name(c)
    drifted = [name for name, d in found.items() if d.drifted]
    assert drifted == [column], (drifted, [d.why for d in c.columns])
    assert check(found[column]), found[column]
    assert c.columns[0].column == column  # most moved first


def test_no_shift_flags_nothing_and_every_test_is_corrected() -> None:
    c = compared(frame(3000, 1), frame(5000, 2))
    assert not any(d.drifted for d in c.columns)
    for d in c.columns:
        assert d.p_adjusted >= d.p  # Benjamini–Hochberg never lowers a p-value
        assert d.rows[0] == 3000 and d.rows[1] == 5000


def test_a_column_the_current_data_lacks_is_named() -> None:
    c = compared(frame(500, 1), frame(500, 2).drop(columns=["fee"]))
    assert c.absent == ["fee"]
    found = detect.findings(c.tested, None, c.absent, [])
    assert found[0].severity == "drift" and "fee is missing" in found[0].message


def test_a_vanished_category_is_named_when_the_reference_predicts_rows_of_it() -> None:
    current = frame(2000, 2)
    current = current[current.plan != "c"]
    d = by_name(compared(frame(2000, 1), current))["plan"]
    assert d.vanished_categories == ["c"] and d.drifted


# --- the test on the bins: its calibration -----------------------------------------------


@pytest.mark.parametrize(
    ("na", "nb", "test"), [(2500, 2500, "chi2"), (300, 30_000, "chi2 monte carlo")]
)
def test_the_test_on_quantile_bins_is_calibrated(na: int, nb: int, test: str) -> None:
    """Bins cut at the reference's own quantiles, both samples from one distribution:
    p < 0.05 about 5 % of the time. A small reference against a much larger sample
    is where the chi-squared approximation is liberal (8 % at 400 against 100,000):
    there the p-value is the Monte Carlo one under the bins' own null."""
    rng = np.random.default_rng(0)
    rejected, runs = 0, 250
    for _ in range(runs):
        a, b = rng.lognormal(size=na), rng.lognormal(size=nb)
        edges = profiles.bin_edges(a)
        shift = binned_shift(
            profiles.bin_counts(edges, a), profiles.bin_counts(edges, b), quantile_bins=True
        )
        assert shift.test == test
        rejected += shift.p_value < 0.05
    assert 0.02 * runs <= rejected <= 0.085 * runs, rejected


def test_small_counts_take_the_monte_carlo_test() -> None:
    shift = binned_shift(np.array([30, 30, 1]), np.array([25, 31, 2]))
    assert shift.test == "chi2 monte carlo" and 0.05 < shift.p_value <= 1


def test_the_binned_effect_is_the_ks_statistic_at_the_edges() -> None:
    a, b = np.array([10, 20, 30, 40]), np.array([40, 30, 20, 10])
    shift = binned_shift(a, b)
    cdf = np.abs(np.cumsum(b) / b.sum() - np.cumsum(a) / a.sum())
    assert shift.cdf_gap == pytest.approx(cdf.max())
    assert shift.tvd == pytest.approx(0.4)


# --- streaming: chunks change nothing ---------------------------------------------------------


def test_counting_in_chunks_gives_the_counts_of_the_whole() -> None:
    reference, current = frame(1000, 1), frame(7001, 2, mean=0.3, missing=0.1)
    whole = compared(reference, current, chunk=10_000)
    chunked = compared(reference, current, chunk=333)
    assert json.dumps(plain(whole.columns)) == json.dumps(plain(chunked.columns)) or all(
        a == pytest.approx(b, rel=1e-9) if isinstance(a, float) else a == b
        for w, c in zip(plain(whole.columns), plain(chunked.columns), strict=True)
        for a, b in zip(w.values(), c.values(), strict=True)
    )
    # and the counts are the profile's own bins applied to all the rows at once
    ref = profile_of(reference).columns[0]
    counter = Counter(ref)
    for start in range(0, len(current), 1000):
        counter.add(current.x.iloc[start : start + 1000])
    edges = np.asarray(ref.edges)
    assert counter.counts.tolist() == profiles.bin_counts(edges, current.x.to_numpy()).tolist()
    assert counter.mean == pytest.approx(current.x.mean())
    assert counter.std == pytest.approx(current.x.std())


def test_the_sample_is_the_same_rows_whatever_the_chunks() -> None:
    values = np.arange(10_000)
    keep = values % 3 != 0
    one, many = Sample(500, seed=4), Sample(500, seed=4)
    one.add(keep, v=values)
    for start in range(0, values.size, 777):
        many.add(keep[start : start + 777], v=values[start : start + 777])
    assert one.columns["v"].tolist() == many.columns["v"].tolist()
    assert one.columns["v"].size == 500 and one.seen == int(keep.sum())
    assert (one.columns["v"] % 3 != 0).all()


def test_numbers_written_as_text_are_read_as_numbers() -> None:
    values, invalid = profiles.numbers(pd.Series(["1.5", "True", "false", None, "n/a"]))
    assert values[:3].tolist() == [1.5, 1.0, 0.0]
    assert np.isnan(values[3:]).all() and invalid == 1


# --- the profile: what it holds, what it must not, and its size -------------------------------


def test_the_profile_stores_no_value_of_personal_or_free_text_columns() -> None:
    rng = np.random.default_rng(0)
    n = 400
    df = frame(n, 0)
    df["email"] = [f"user{i}@example.com" for i in range(n)]
    df["note"] = [f"lorem ipsum {i}" for i in range(n)]
    df["contact"] = rng.choice(["alice@example.org", "phone", "mail"], n, p=[0.5, 0.3, 0.2])
    features = [*FEATURES, "email", "note", "contact"]
    cols, _ = profiles.data_profile(
        df, features, "y", "classification", masked={"email"}, personal=PERSONAL
    )
    found = {c.name: c for c in cols}
    assert found["email"].kind == "masked" and found["email"].categories is None
    assert found["note"].kind == "text" and found["note"].categories is None
    contact = found["contact"]
    assert "alice@example.org" not in contact.categories and contact.withheld == 1
    assert contact.other == (df.contact == "alice@example.org").sum()
    text = json.dumps(dump(Profile(task="c", target="y", rows=n, bins=20, top_k=50, columns=cols)))
    assert "example" not in text and "lorem" not in text and "alice" not in text


def test_the_profile_size_does_not_grow_with_the_rows() -> None:
    small = json.dumps(dump(profile_of(frame(1_000, 0))))
    large = json.dumps(dump(profile_of(frame(200_000, 0))))
    assert len(large) < 4_000 and len(large) < 1.1 * len(small), (len(small), len(large))
    back = load(Profile, json.loads(large))
    assert back.columns[0].counts and sum(back.columns[0].counts) == 200_000
