"""Personal data in the training table: e-mail addresses, phone numbers,
payment card numbers, IBANs, IP addresses and national identifiers, found in
text columns (and long integer columns), and column names that announce them.

A pattern only proposes a candidate; a maintained validator decides:
python-stdnum for card numbers (Luhn), IBANs (ISO 13616 check digits) and
national identifiers, phonenumbers (Google's libphonenumber) for phone
numbers, the standard library's `ipaddress` for IP addresses. That keeps
order numbers and timestamps from reading as cards or phones. Every example
that leaves this module is masked: at most its last two characters survive.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.config import PersonalDataCheck

MAX_EXAMPLES = 3
# A whole-value identifier check (no distinctive format) passes random digits
# now and then; a column is flagged only when most of its values pass.
WHOLE_VALUE_RATE = 0.5
# Card networks' leading digits (IIN ranges): with the Luhn check, what tells a
# card number from any other 13–19 digit number.
CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6(?:011|5|4[4-9])|35|3[0689])")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Fa-f:])")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{6,18}\d(?!\w)")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
# Dates and times have enough digits to pass for a phone number's candidate.
_DATE_OR_TIME = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{1,2}:\d{2}"
)
# In text, a card number is written in groups (4-4-4-4, or Amex's 4-6-5); a bare
# run of digits passes Luhn and a network prefix one time in thirty.
_CARD_GROUPS = re.compile(r"\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{5}")
# A card number written as one run of digits inside text ("card 4668153008256465
# lost"). A random run passes Luhn and a network prefix ~3 % of the time, so a run
# counts when words around it name a card, or when most such runs in the column are
# valid cards (order numbers and timestamps are not).
_BARE_CARD = re.compile(r"(?<![\d.,-])\d{13,19}(?![\d.,-])")
_CARD_WORDS = re.compile(
    r"\b(?:card|credit|debit|visa|master ?card|amex|american express|maestro|cc|pan)\b", re.I
)
BARE_CARD_RATE = 0.5
BARE_CARD_RUNS = 5  # the rate says nothing about fewer values (a ticket number is one)
# A value that is an identifier and nothing else (no words around it).
_IDENTIFIER = re.compile(r"[0-9A-Za-z][0-9A-Za-z .-]{4,38}[0-9A-Za-z]")
_WORD = re.compile(r"(?:^|\s)[A-Za-z]{3,}(?:\s|$)")
_NAMES = re.compile(
    r"e[-_ ]?mail|phone|mobile|\bssn\b|social[-_ ]?security|\biban\b|card[-_ ]?(?:number|no)"
    r"|credit[-_ ]?card|ip[-_ ]?addr|passport|national[-_ ]?id|tax[-_ ]?id",
    re.I,
)


@dataclass
class Finding:
    """Personal data in one column: what kind, how much, masked examples."""

    column: str
    kind: str
    rows: int  # rows with a match in the scanned sample
    scanned: int  # rows scanned
    rate: float
    examples: list[str] = field(default_factory=list)  # masked


def plural(kind: str) -> str:
    """'e-mail addresses', 'IBANs', 'national identifiers (us.ssn)'."""
    head, paren, rest = kind.partition(" (")
    word = head + ("es" if head.endswith(("s", "x", "sh", "ch")) else "s")
    return f"{word}{paren}{rest}"


def mask(value: str) -> str:
    """Every letter and digit but the last two replaced by •; e-mails keep their
    top-level domain and the first letter of each part."""
    m = re.fullmatch(r"([^@]+)@(.+)\.([A-Za-z]{2,})", value)
    if m:
        return f"{m.group(1)[0]}•••@{m.group(2)[0]}•••.{m.group(3)}"
    keep = len(value) - 2
    return "".join("•" if i < keep and ch.isalnum() else ch for i, ch in enumerate(value))


def _valid_card(text: str) -> bool:
    from stdnum import luhn

    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and bool(CARD_PREFIX.match(digits)) and luhn.is_valid(digits)


def _card_in_text(text: str) -> bool:
    return bool(_CARD_GROUPS.fullmatch(text)) and _valid_card(text)


def _valid_iban(text: str) -> bool:
    from stdnum import iban

    return iban.is_valid(text)


def _valid_ip(text: str) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (ip.is_unspecified or ip.is_loopback)


def _phone_validator(region: str) -> Callable[[str], bool]:
    import functools

    import phonenumbers

    @functools.lru_cache(maxsize=65536)
    def valid(text: str) -> bool:
        if _DATE_OR_TIME.fullmatch(text.strip("()")):
            return False
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return False
        return phonenumbers.is_valid_number(number)

    return valid


def _ssn(text: str) -> bool:
    from stdnum.us import ssn

    return ssn.is_valid(text)


def _patterns(check: PersonalDataCheck) -> list[tuple[str, re.Pattern[str], Callable[[str], bool]]]:
    """(kind, candidate pattern, validator), most specific first: a match claims
    its span, so a card number is not also read as a phone number."""
    found = [
        ("e-mail address", _EMAIL, lambda _: True),
        ("payment card number", _CARD, _card_in_text),
        ("IBAN", _IBAN, _valid_iban),
        ("IP address", _IPV4, _valid_ip),
        ("IP address", _IPV6, _valid_ip),
    ]
    if "us.ssn" in check.national_ids:
        found.append(("national identifier (us.ssn)", _SSN, _ssn))
    found.append(("phone number", _PHONE, _phone_validator(check.phone_region)))
    return found


def kinds_in(
    text: str, patterns: list[tuple[str, re.Pattern[str], Any]]
) -> Iterator[tuple[str, str]]:
    """(kind, matched text) for each piece of personal data in one value."""
    taken: list[tuple[int, int]] = []
    for kind, pattern, valid in patterns:
        for m in pattern.finditer(text):
            span = m.span()
            if any(a < span[1] and span[0] < b for a, b in taken):
                continue
            if valid(m.group(0)):
                taken.append(span)
                yield kind, m.group(0)


def holds_personal_data(text: str, check: PersonalDataCheck) -> bool:
    """Whether one value holds personal data of any kind the scan looks for (a
    category's value, before it is written into a model)."""
    if any(True for _ in kinds_in(text, _patterns(check))):
        return True
    if _IDENTIFIER.fullmatch(text) and not _WORD.search(text):
        whole = {"payment card number": _valid_card, **_national_validators(check)}
        return any(ok(text) for ok in whole.values())
    return bool(_BARE_CARD.search(text) and _CARD_WORDS.search(text)) and any(
        _valid_card(m.group(0)) for m in _BARE_CARD.finditer(text)
    )


def _national_validators(check: PersonalDataCheck) -> dict[str, Callable[[str], bool]]:
    """python-stdnum modules named in the config (us.ssn is matched by its format)."""

    out = {}
    for name in check.national_ids:
        if name == "us.ssn":
            continue
        try:
            module = importlib.import_module(f"stdnum.{name}")
        except ImportError:
            raise ConfigError(
                f"safeguards.personal_data.national_ids: python-stdnum has no {name!r}",
                hint="use names like fr.nir, br.cpf, es.dni (see python-stdnum's module list)",
            ) from None
        out[f"national identifier ({name})"] = module.is_valid
    return out


def could_hold_personal_data(s: pd.Series) -> bool:
    """Whether a column's type lets it hold what scan_column looks for: text, or
    integers (card numbers and identifiers stored as numbers); a cheap test on
    the type alone, before its values are gathered."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(s):
        return False
    return pd.api.types.is_integer_dtype(s) or not pd.api.types.is_numeric_dtype(s)


def _values(s: pd.Series, limit: int) -> pd.Series | None:
    """The text to scan: a seeded sample of a text column, or of a long integer
    column (card numbers and identifiers stored as numbers); None otherwise."""
    import pandas as pd

    s = s.dropna()
    if s.empty:
        return None
    if pd.api.types.is_integer_dtype(s):
        if s.abs().max() < 10**8:
            return None  # no identifier worth the name has fewer than 9 digits
    elif pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return None
    if len(s) > limit:
        s = s.sample(limit, random_state=0)
    return s.astype(str)


def scan_column(name: str, s: pd.Series, check: PersonalDataCheck) -> list[Finding]:
    values = _values(s, check.sample_values)
    if values is None:
        return []
    patterns = _patterns(check)
    whole = {"payment card number": _valid_card, **_national_validators(check)}
    rows: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    formatted: set[str] = set()  # kinds found by their pattern inside a value
    for text, n in values.value_counts().items():
        kinds = dict(kinds_in(text, patterns))
        formatted.update(kinds)
        if _IDENTIFIER.fullmatch(text) and not _WORD.search(text):
            kinds.update({k: text for k, ok in whole.items() if k not in kinds and ok(text)})
        for kind, matched in kinds.items():
            rows[kind] = rows.get(kind, 0) + int(n)
            if len(examples.setdefault(kind, [])) < MAX_EXAMPLES:
                examples[kind].append(mask(matched))
    _bare_cards(values, rows, examples, formatted)
    scanned = len(values)
    # A kind found inside text (an e-mail, a card in its groups) counts at once; one
    # only whole values show (bare digits) counts when most values are of it.
    return [
        Finding(name, kind, n, scanned, n / scanned, examples[kind])
        for kind, n in rows.items()
        if kind in formatted or n / scanned >= WHOLE_VALUE_RATE
    ]


def _bare_cards(
    values: pd.Series, rows: dict[str, int], examples: dict[str, list[str]], formatted: set[str]
) -> None:
    """Card numbers written as bare digit runs inside words (see _BARE_CARD), added
    to what scan_column found."""
    kind = "payment card number"
    runs = valid = 0
    found: dict[str, int] = {}
    named = 0
    for text, n in values.value_counts().items():
        if _IDENTIFIER.fullmatch(text) and not _WORD.search(text):
            continue  # a whole value: scan_column's whole-value check decides it
        matches = [m.group(0) for m in _BARE_CARD.finditer(text)]
        if not matches:
            continue
        runs += int(n)
        cards = [m for m in matches if _valid_card(m)]
        if cards:
            valid += int(n)
            found[cards[0]] = found.get(cards[0], 0) + int(n)
            named += int(n) if _CARD_WORDS.search(text) else 0
    many = runs >= BARE_CARD_RUNS and valid / runs >= BARE_CARD_RATE
    if not found or not (named or many):
        return
    rows[kind] = rows.get(kind, 0) + valid
    shown = examples.setdefault(kind, [])
    shown.extend(mask(c) for c in list(found)[: MAX_EXAMPLES - len(shown)])
    formatted.add(kind)


def scan_names(columns: list[str]) -> list[Finding]:
    """Columns whose name says they hold personal data."""
    return [Finding(c, "column name", 0, 0, 0.0) for c in columns if _NAMES.search(c)]
