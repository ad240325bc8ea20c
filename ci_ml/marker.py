"""The hidden marker that makes ci-ml's PR comment findable again: written by
the report template, read by the comment command."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ci_ml.errors import UsageError
from ci_ml.json_types import JSONObject

MARKER_PREFIX = "ci-ml:comment"
_ID = r"[A-Za-z0-9._-]{1,64}"
_MARKER_RE = re.compile(r"<!-- " + re.escape(MARKER_PREFIX) + rf" id=({_ID}) -->")


def comment_id(config_path: str | Path) -> str:
    """A stable id per config, so two models in one repo keep two comments."""
    norm = Path(config_path).as_posix().lstrip("./") or "ci-ml.yaml"
    return hashlib.sha256(norm.encode()).hexdigest()[:12]


def marker(cid: str) -> str:
    if not re.fullmatch(_ID, cid):
        raise UsageError(
            f"comment id {cid[:80]!r} is not valid",
            hint="use 1 to 64 letters, digits, '.', '_' or '-'",
        )
    return f"<!-- {MARKER_PREFIX} id={cid} -->"


def read_marker(body: str) -> str | None:
    m = _MARKER_RE.search(body)
    return m.group(0) if m else None


def with_comment_id(body: str, cid: str) -> str:
    """Replace the report's marker with one for `cid` (a second model, say)."""
    new = marker(cid)
    return _MARKER_RE.sub(lambda _: new, body, count=1) if read_marker(body) else f"{new}\n{body}"


# --- the drift issue's marker -------------------------------------------------------
# One sticky issue per model (per config, like the comment) says that its data drifted.

DRIFT_PREFIX = "ci-ml:drift"


def drift_marker(cid: str) -> str:
    """The drift issue's hidden marker; `cid` as for the comment (`comment_id`)."""
    return marker(cid).replace(MARKER_PREFIX, DRIFT_PREFIX, 1)


# --- the release marker -----------------------------------------------------------
# The model card (a release's notes) starts with a hidden marker carrying the facts
# the registry reads without downloading anything: which model this release is of,
# its commit, its primary metric. It also says the release was made by ci-ml.

RELEASE_PREFIX = "ci-ml:release"
_RELEASE_RE = re.compile(r"<!-- " + re.escape(RELEASE_PREFIX) + r" (\{.*?\}) -->")


def hidden_json(value: JSONObject) -> str:
    """JSON that can sit inside an HTML comment: no `--`, `<` or `>` (outside
    strings JSON has none; inside them they become \\u escapes)."""
    import json

    text = json.dumps(value, sort_keys=True, ensure_ascii=True, allow_nan=False)
    return text.replace("--", "-\\u002d").replace("<", "\\u003c").replace(">", "\\u003e")


def release_marker(facts: JSONObject) -> str:
    return f"<!-- {RELEASE_PREFIX} {hidden_json(facts)} -->"


def read_release_marker(body: str | None) -> JSONObject | None:
    import json

    m = _RELEASE_RE.search(body or "")
    if not m:
        return None
    try:
        value = json.loads(m.group(1))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
