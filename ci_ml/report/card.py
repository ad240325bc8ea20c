"""What the model card says about the metrics: each one's definition, in the
words of what ci-ml computes (ci_ml.stats.metrics), so a reader of a release
knows which ROC AUC or F1 it is."""

from __future__ import annotations

_DEFINITIONS = {
    "accuracy": "share of holdout rows whose predicted class is the true one",
    "balanced_accuracy": "mean over classes of each class's recall",
    "f1_macro": "unweighted mean over classes of each class's F1 (harmonic mean of its "
    "precision and recall)",
    "precision_macro": "unweighted mean over classes of each class's precision (a class "
    "never predicted counts as 0)",
    "recall_macro": "unweighted mean over classes of each class's recall",
    "log_loss": "mean negative log of the probability given to the true class "
    "(probabilities clipped away from 0 and 1)",
    "rmse": "root of the mean squared error, in the target's units",
    "mae": "mean absolute error, in the target's units",
    "r2": "1 − squared error / the target's variance on the holdout (coefficient of determination)",
}


def definition(metric: str, classes: int | None) -> str:
    """How `metric` is computed; ROC AUC depends on the number of classes."""
    if metric == "roc_auc":
        if classes is not None and classes > 2:
            return (
                "area under the ROC curve, macro one-vs-rest: each class against the "
                "others, averaged without weights"
            )
        return "area under the ROC curve of the positive class's probability"
    return _DEFINITIONS.get(metric, "")
