"""The churn model: imputation and one-hot encoding in a ColumnTransformer,
then logistic regression. ci-ml calls build_model(**params) from ci-ml.yaml."""

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

CATEGORICAL = ["plan", "region", "channel"]
NUMERIC = ["tenure_months", "monthly_fee", "support_tickets"]


def build_model(C: float = 1.0) -> Pipeline:
    categorical = Pipeline(
        [
            # ci-ml hands missing strings to the model as "" (ONNX strings have no null).
            ("impute", SimpleImputer(missing_values="", strategy="constant", fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]
    )
    features = ColumnTransformer(
        [
            ("categorical", categorical, CATEGORICAL),
            ("numeric", numeric, NUMERIC),
        ]
    )
    return Pipeline([("features", features), ("model", LogisticRegression(C=C, max_iter=1000))])
