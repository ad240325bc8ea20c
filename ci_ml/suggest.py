"""'Did you mean …?' for a name that is not one of the names it could be (a
misspelt column, a config key): the close matches by difflib's ratio, and a
name that differs only in case."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

LISTED = 30  # at most this many names are listed after the suggestion


def close(name: str, choices: Iterable[object]) -> list[str]:
    """The choices `name` was probably meant to be, best first (at most three)."""
    names = [str(c) for c in choices]
    same_case = [c for c in names if c.lower() == name.lower() and c != name]
    near = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    # A prefix or an extension of it (`churn` for `churned`) is a likely slip too.
    affix = [c for c in names if len(name) >= 3 and (c.startswith(name) or name.startswith(c))]
    out: list[str] = []
    for c in [*same_case, *near, *affix]:
        if c != name and c not in out:
            out.append(c)
    return out[:3]


def did_you_mean(name: str, choices: Iterable[object]) -> str:
    """'did you mean 'churned'? ' (with its trailing space), or '' when nothing is close."""
    found = close(name, choices)
    return f"did you mean {' or '.join(map(repr, found))}? " if found else ""


def hint(name: str, choices: Iterable[object], what: str = "columns are") -> str:
    """A hint for a name that is not among `choices`: the suggestion, then the names."""
    names = [str(c) for c in choices]
    more = f" (and {len(names) - LISTED} more)" if len(names) > LISTED else ""
    return f"{did_you_mean(name, names)}{what}: {', '.join(names[:LISTED])}{more}"
