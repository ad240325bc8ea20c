"""The fields ci-ml reads from GitHub's replies, declared once and checked on arrival.

GitHub, or a proxy in front of it, can answer 200 with an HTML page, cut-off
JSON or an object of another shape. The client parses every reply a caller uses
and checks it against one of the shapes below, so such a reply becomes an
``UnexpectedReply`` that names the endpoint and the field, never a KeyError or
a TypeError deep in the domain logic. Only the fields ci-ml reads are declared;
the others are dropped, so a field GitHub adds or removes elsewhere changes
nothing.
"""

# No `from __future__ import annotations`: pydantic reads these annotations at runtime.
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from typing_extensions import NotRequired, TypedDict  # pydantic needs these before 3.12

from ci_ml.errors import UnexpectedReply
from ci_ml.json_types import JSON


class User(TypedDict):
    login: str
    type: str


class Comment(TypedDict):
    id: int
    html_url: str
    created_at: str
    body: NotRequired[str | None]
    user: User | None  # null for a deleted account ("ghost"), as the API description allows


class Issue(TypedDict):
    id: int
    number: int
    html_url: str
    state: str
    created_at: str
    title: str
    user: User | None
    body: NotRequired[str | None]
    state_reason: NotRequired[str | None]
    # Present on pull requests, which GitHub's issue listing includes.
    pull_request: NotRequired[object]


class Asset(TypedDict):
    id: int
    name: str
    size: int
    state: str
    url: str
    browser_download_url: NotRequired[str]
    digest: NotRequired[str | None]  # newer than most GitHub Enterprise Servers


class Release(TypedDict):
    id: int
    url: str
    html_url: str
    upload_url: str
    tag_name: str
    target_commitish: str
    draft: bool
    prerelease: bool
    created_at: str
    published_at: str | None
    assets: list[Asset]
    immutable: NotRequired[bool]
    name: NotRequired[str | None]
    body: NotRequired[str | None]  # the notes, where ci-ml's marker and audit lines live


class PullSimple(TypedDict):
    number: int
    title: str
    html_url: str
    user: User | None
    merge_commit_sha: NotRequired[str | None]


class Review(TypedDict):
    user: User | None
    state: str


class Head(TypedDict):
    sha: str


class PullRequest(TypedDict):
    head: Head


_ADAPTERS: dict[type[object], TypeAdapter[object]] = {}


def _adapter(shape: type[object]) -> TypeAdapter[object]:
    """One adapter per shape (building one costs milliseconds; a race builds two)."""
    adapter = _ADAPTERS.get(shape)
    if adapter is None:
        adapter = _ADAPTERS[shape] = TypeAdapter(shape)
    return adapter


def _fields(shape: object) -> str:
    keys = sorted(getattr(shape, "__required_keys__", ()), key=list(shape.__annotations__).index)
    shown = ", ".join(repr(k) for k in keys[:4])
    return shown + (", …" if len(keys) > 4 else "")


def describe(shape: object) -> str:
    """'a list of objects with 'id', 'name', …' for ``list[Asset]``."""
    args = getattr(shape, "__args__", None)
    if getattr(shape, "__origin__", None) is list and args:
        return f"a list of objects with {_fields(args[0])}"
    return f"an object with {_fields(shape)}"


def _problem(error: ErrorDetails) -> str:
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(".")
    if error["type"] == "missing":
        return f"{loc or 'the reply'}: missing"
    got = type(error.get("input")).__name__.replace("NoneType", "null")
    return f"{loc or 'the reply'}: {error['msg'][0].lower()}{error['msg'][1:]}, got {got}"


def check(
    data: JSON, shape: type[object], method: str, url: str, status: int | None = None
) -> JSON:
    """``data`` reduced to the declared fields of ``shape``, or UnexpectedReply."""
    try:
        return _adapter(shape).validate_python(data, strict=True)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        problems = "; ".join(_problem(err) for err in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        code = f" (HTTP {status})" if status else ""
        failure = UnexpectedReply(
            f"GitHub sent an unexpected reply to {method} {url}{code}: expected "
            f"{describe(shape)}; {problems}{more}",
            method=method,
            url=url,
            status=status,
            hint=REPLY_HINT,
        )
    raise failure  # outside `except`: the pydantic error (with the whole input) stays out


REPLY_HINT = (
    "GitHub may be degraded (https://www.githubstatus.com), or something between the runner "
    "and GITHUB_API_URL (a proxy, a captive portal) answered instead; re-run the job"
)
