"""The churn model's own tests: ordinary pytest functions against the shipped
model.onnx. `ci-ml run` runs them (model_tests.pytest in ci-ml.yaml); so does
plain pytest after a build:

    pytest --ci-ml-artifact .ci-ml examples/mixed-tabular/tests_model
"""

import numpy as np
from sklearn.metrics import roc_auc_score


def test_loyal_pro_customers_are_not_predicted_to_churn(candidate, holdout):
    rows = holdout[(holdout.plan == "pro") & (holdout.tenure_months > 60)]
    assert len(rows) > 0
    assert (candidate.predict(rows) == "no").all()


def test_missing_values_still_give_probabilities(candidate, holdout):
    rows = holdout.head(20).assign(region=None, monthly_fee=np.nan)
    proba = candidate.predict_proba(rows)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_partner_channel_ranks_no_worse_than_the_baseline(candidate, baseline, holdout):
    rows = holdout[holdout.channel == "partner"]
    churned = rows.churned == "yes"
    yes = list(candidate.classes_).index("yes")
    ours = roc_auc_score(churned, candidate.predict_proba(rows)[:, yes])
    theirs = roc_auc_score(churned, baseline.predict_proba(rows)[:, list(baseline.classes_).index("yes")])
    assert ours >= theirs - 0.05


def test_the_recorded_auc_is_the_models(metrics, manifest):
    assert manifest["task"] == "classification"
    assert metrics["metrics"]["roc_auc"]["value"] > 0.7
