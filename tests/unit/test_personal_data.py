"""The personal-data scan: what it finds, what it must not take for personal
data, and masks that never keep more than two characters."""

from __future__ import annotations

import pandas as pd
import pytest

from ci_ml.checks.personal_data import mask, scan_column, scan_names
from ci_ml.config import PersonalDataCheck
from ci_ml.errors import ConfigError


def kinds(values: list, **cfg) -> dict[str, float]:
    found = scan_column("c", pd.Series(values), PersonalDataCheck(**cfg))
    return {f.kind: f.rate for f in found}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to ada@example.org", "e-mail address"),
        ("paid with 4111 1111 1111 1111", "payment card number"),
        ("IBAN DE89 3704 0044 0532 0130 00", "IBAN"),
        ("from 203.0.113.7 at noon", "IP address"),
        ("from 2001:db8::8a2e:370:7334", "IP address"),
        ("SSN 536-90-4399", "national identifier (us.ssn)"),
        ("call +44 20 7946 0958", "phone number"),
    ],
)
def test_each_kind_is_found_in_free_text(text: str, kind: str) -> None:
    assert kind in kinds([text, "nothing", "nothing else"])


@pytest.mark.parametrize(
    "text",
    [
        "order 1234567890123456 shipped",  # digits that pass no card check
        "on 2024-05-01 at 12:30:45",
        "version 1.2.3.4567",
        "IBAN DE00 3704 0044 0532 0130 00",  # wrong check digits
        "SSN 000-12-3456",  # never issued
        "ticket 4111111111111111 reopened",  # a bare number in text is not a card
    ],
)
def test_look_alikes_are_not_personal_data(text: str) -> None:
    assert kinds([text]) == {}


def test_a_column_of_card_numbers_is_found_but_random_ids_are_not() -> None:
    cards = ["4111111111111111", "5500005555555559", "4012888888881881"] * 10
    assert kinds(cards) == {"payment card number": 1.0}
    ids = pd.Series(range(10**15, 10**15 + 300))  # 3% pass Luhn and a network prefix
    assert scan_column("order_id", ids, PersonalDataCheck()) == []


def test_national_identifiers_from_python_stdnum() -> None:
    assert kinds(["1 84 12 76 451 089 46"] * 5, national_ids=["fr.nir"]) == {
        "national identifier (fr.nir)": 1.0
    }
    with pytest.raises(ConfigError, match="python-stdnum has no 'xx.nope'"):
        kinds(["x"], national_ids=["xx.nope"])


@pytest.mark.parametrize(
    "raw",
    ["ada.lovelace@example.org", "4111 1111 1111 1111", "DE89370400440532013000", "536-90-4399"],
)
def test_a_mask_keeps_at_most_two_characters_of_the_value(raw: str) -> None:
    masked = mask(raw)
    kept = [c for c in masked if c.isalnum()]
    assert raw not in masked and len(masked) >= 4
    if "@" not in raw:
        assert "".join(kept) == "".join(c for c in raw if c.isalnum())[-2:]


def test_column_names_that_announce_personal_data() -> None:
    names = [f.column for f in scan_names(["customer_email", "Phone", "tenure", "IBAN", "notes"])]
    assert names == ["customer_email", "Phone", "IBAN"]


def test_a_card_number_written_as_one_run_inside_text_is_found() -> None:
    """Issue 22, 5: only the grouped form was found ("4668 1530 0825 6465")."""
    import pandas as pd

    from ci_ml.config import PersonalDataCheck

    notes = pd.Series(["card 4668153008256465 lost", "all fine", "call me"] * 10)
    (found,) = scan_column("notes", notes, PersonalDataCheck())
    assert found.kind == "payment card number" and found.rows == 10
    assert found.examples == ["••••••••••••••65"]


def test_order_numbers_of_sixteen_digits_are_not_cards() -> None:
    """A random run passes Luhn and a network prefix ~3 % of the time: without a
    card word around it, most runs must be valid cards before a column counts."""
    import numpy as np
    import pandas as pd

    from ci_ml.config import PersonalDataCheck

    rng = np.random.default_rng(0)
    orders = pd.Series([f"order {rng.integers(10**15, 10**16)} shipped" for _ in range(300)])
    assert scan_column("notes", orders, PersonalDataCheck()) == []


def test_kinds_are_named_in_the_plural_correctly() -> None:
    from ci_ml.checks.personal_data import plural

    assert plural("e-mail address") == "e-mail addresses"
    assert plural("IP address") == "IP addresses"
    assert plural("IBAN") == "IBANs"
    assert plural("national identifier (us.ssn)") == "national identifiers (us.ssn)"
