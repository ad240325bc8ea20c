from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


def build_model():
    # handle_unknown="error": a category seen only in the holdout cannot be encoded
    encode = ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="error"), ["plan", "region"])],
        remainder="passthrough",
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression())])
