"""'Did you mean …?' for misspelt columns and keys."""

from ci_ml import suggest


def test_a_near_name_is_suggested() -> None:
    columns = ["customer_id", "tenure", "churned"]
    assert suggest.close("churn", columns) == ["churned"]  # the case: a prefix
    assert suggest.close("tenrue", columns) == ["tenure"]
    assert suggest.close("Churned", columns) == ["churned"]  # case only
    assert suggest.close("zzz", columns) == []


def test_the_hint_suggests_then_lists_a_bounded_number_of_names() -> None:
    assert (
        suggest.hint("churn", ["a", "churned"]) == "did you mean 'churned'? columns are: a, churned"
    )
    assert suggest.hint("q", ["a", "b"]) == "columns are: a, b"
    many = [f"c{i}" for i in range(100)]
    hint = suggest.hint("nothing", many)
    assert hint.endswith("c29 (and 70 more)")
