"""A small generic GitHub REST client: auth, timeouts, retries, rate limits, pagination.

It knows nothing about comments or releases (that is ``ci_ml.github.api``).
Every HTTP failure becomes a named exception (the tree is in ``ci_ml.errors``),
so callers branch on types, not codes. The token is never put into a message,
an exception or a ``repr``.
"""

from __future__ import annotations

import email.utils
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import requests

from ci_ml.errors import (
    ConnectionFailed,
    GitHubAPIError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    Unauthorized,
    ValidationFailed,
)

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
# Methods whose repetition cannot duplicate a side effect. POST is excluded: a
# 5xx or a reset after the body was sent may still have created the resource.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
# GitHub documents no header for a secondary limit without retry-after: "wait at least a minute".
SECONDARY_RATE_LIMIT_DEFAULT_WAIT = 60.0
FORK_HINT = (
    "pull requests from forks get a read-only GITHUB_TOKEN: post the comment from a "
    "`workflow_run` job instead; otherwise grant the job `permissions:` "
    "(pull-requests: write for comments, contents: write for releases)"
)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("ci-ml")
    except Exception:  # not installed (running from a checkout)
        return "0"


_ERROR_CLASSES: dict[int, type[GitHubAPIError]] = {
    401: Unauthorized,
    403: PermissionDenied,
    404: NotFound,
    422: ValidationFailed,
}

_HINTS: dict[type[GitHubAPIError], str] = {
    Unauthorized: "the token is missing, expired or revoked: check GITHUB_TOKEN",
    PermissionDenied: FORK_HINT,
    NotFound: "check the repository name and that the token can see it (private repos)",
}


# --- pure decisions ---------------------------------------------------------


def rate_limit_wait(response: requests.Response, now: float) -> float | None:
    """Seconds GitHub asks us to wait before retrying, or None if this is no rate limit."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("retry-after")
    if retry_after is not None:  # secondary rate limit (or abuse detection)
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(retry_after)
            return max(0.0, parsed.timestamp() - now)
    if headers.get("x-ratelimit-remaining") == "0":  # primary rate limit
        reset = float(headers.get("x-ratelimit-reset", now))
        return max(0.0, reset - now) + 1.0  # +1: the reset second itself may still be limited
    if "secondary rate limit" in _github_message(response).lower():
        return SECONDARY_RATE_LIMIT_DEFAULT_WAIT
    return None


def backoff_delay(attempt: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, never above cap."""
    delay = min(cap, base * (2**attempt))
    return delay / 2 + rand() * delay / 2


def strip_uri_template(url: str) -> str:
    """``.../assets{?name,label}`` -> ``.../assets`` (the RFC 6570 part of ``upload_url``)."""
    return re.sub(r"\{[^}]*\}$", "", url)


def _github_message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    return str(data.get("message", "")) if isinstance(data, dict) else ""


def _is_unsent(exc: requests.RequestException) -> bool:
    """True if the request never left this machine, so even a POST is safe to repeat."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    text = f"{type(reason).__name__} {reason!s}"
    return "NewConnectionError" in text or "NameResolutionError" in text


# --- the client -------------------------------------------------------------


class _BearerAuth(requests.auth.AuthBase):
    """Adds the token per request, so it never sits in session.headers (whose repr shows it).

    requests drops the Authorization header when a redirect leaves the host and
    does not re-apply session.auth, so downloads redirected to a blob store are safe.
    """

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<BearerAuth ***>"


class GitHubClient:
    """One ``requests.Session`` with GitHub's headers, timeouts, retries and rate limits.

    Retries are a small loop rather than urllib3's ``Retry``: we need an injectable
    ``sleep`` (tests do not wait), rate-limit waits read GitHub's headers and are
    capped by ``max_rate_limit_wait``, callers may vouch that a POST is safe to
    repeat, and the last response must become a named exception, not a MaxRetryError.
    """

    def __init__(
        self,
        token: str | None,
        *,
        base_url: str = DEFAULT_API_URL,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 4,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        max_rate_limit_wait: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_rate_limit_wait = max_rate_limit_wait
        self.sleep = sleep
        self.clock = clock
        self.rand = rand
        self._token = token or ""
        self.session = session or requests.Session()
        self.session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"ci-ml/{_version()}",
            }
        )
        if token:
            self.session.auth = _BearerAuth(token)

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self.base_url!r}, token={'***' if self._token else None})"

    def close(self) -> None:
        self.session.close()

    # -- core --------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        retry_unsafe: bool = False,
    ) -> requests.Response:
        """Send one request; retry what is safe; return a 2xx/3xx response or raise.

        ``retry_unsafe=True`` lets the caller vouch that repeating a POST is harmless.
        """
        method = method.upper()
        url = self.url(path_or_url)
        retryable = retry_unsafe or method in IDEMPOTENT_METHODS
        attempt = 0
        rate_waits = 0
        while True:
            response = self._send(method, url, params, json, data, headers, stream)
            if isinstance(response, requests.RequestException):
                if (retryable or _is_unsent(response)) and attempt < self.max_retries:
                    self.backoff(attempt)
                    attempt += 1
                    continue
                # Raised outside any `except`, so no __context__ drags the original
                # exception (whose .request holds the Authorization header) along.
                raise self._connection_error(method, url, response, attempt)

            if response.status_code < 400:
                return response

            wait = rate_limit_wait(response, self.clock())
            if wait is not None:
                # A rate-limited request was not processed, so any method may repeat.
                if wait > self.max_rate_limit_wait or rate_waits >= 3:
                    raise self._rate_limited(method, url, response, wait)
                response.close()
                self.sleep(wait)
                rate_waits += 1
                continue

            if response.status_code >= 500 and retryable and attempt < self.max_retries:
                response.close()
                self.backoff(attempt)
                attempt += 1
                continue
            raise self._api_error(method, url, response, attempt)

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: bytes | None,
        headers: Mapping[str, str] | None,
        stream: bool,
    ) -> requests.Response | requests.RequestException:
        try:
            return self.session.request(
                method,
                url,
                params=params,
                json=json,
                data=data,
                headers=dict(headers or {}),
                timeout=self.timeout,
                stream=stream,
            )
        except requests.RequestException as exc:
            return exc

    def backoff(self, attempt: int) -> None:
        """Sleep before retry number ``attempt + 1`` (exponential, jittered)."""
        self.sleep(backoff_delay(attempt, self.backoff_base, self.backoff_cap, self.rand))

    # -- error construction (token redacted everywhere) ----------------------

    def _where(self, method: str, url: str) -> str:
        return self.redact(f"{method} {url}")

    def _connection_error(
        self, method: str, url: str, exc: requests.RequestException, attempt: int
    ) -> ConnectionFailed:
        kind = "timed out" if isinstance(exc, requests.Timeout) else "failed"
        tries = f" after {attempt + 1} attempts" if attempt else ""
        # Only the exception's class name: its text or request may carry headers.
        return ConnectionFailed(
            f"{self._where(method, url)}: connection {kind}{tries} ({type(exc).__name__})",
            method=method,
            url=self.redact(url),
            hint="check GITHUB_API_URL and the runner's network; GitHub may be degraded "
            "(https://www.githubstatus.com)",
        )

    def _parse_body(self, response: requests.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _api_error(
        self, method: str, url: str, response: requests.Response, attempt: int
    ) -> GitHubAPIError:
        body = self._parse_body(response)
        status = response.status_code
        cls = ServerError if status >= 500 else _ERROR_CLASSES.get(status, GitHubAPIError)
        gh_message = self.redact(str(body.get("message", response.reason or "")))
        doc = body.get("documentation_url")
        tries = f" after {attempt + 1} attempts" if attempt else ""
        message = f"{self._where(method, url)} -> {status}{tries}: {gh_message}"
        if doc:
            message += f" ({doc})"
        errors = body.get("errors") if isinstance(body.get("errors"), list) else []
        if errors:
            message += f" errors={self.redact(str(errors))}"
        if cls is PermissionDenied:
            message += " — fork PRs get a read-only token"
        return cls(
            message,
            status=status,
            method=method,
            url=self.redact(url),
            github_message=gh_message,
            documentation_url=doc,
            errors=errors,
            hint=_HINTS.get(cls),
        )

    def _rate_limited(
        self, method: str, url: str, response: requests.Response, wait: float
    ) -> RateLimited:
        body = self._parse_body(response)
        reset = response.headers.get("x-ratelimit-reset")
        when = (
            time.strftime(" (resets at %H:%M:%S UTC)", time.gmtime(float(reset))) if reset else ""
        )
        message = (
            f"{self._where(method, url)} -> {response.status_code}: GitHub API rate limit; "
            f"retry in {wait:.0f} s{when}, longer than max_rate_limit_wait="
            f"{self.max_rate_limit_wait:.0f} s"
        )
        return RateLimited(
            message,
            wait_seconds=wait,
            status=response.status_code,
            method=method,
            url=self.redact(url),
            github_message=self.redact(str(body.get("message", ""))),
            documentation_url=body.get("documentation_url"),
            hint="re-run the job later, or use a token with a higher limit",
        )

    # -- conveniences --------------------------------------------------------

    def _json(self, response: requests.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._json(self.request("GET", path, params=params))

    def post(self, path: str, json: Any = None, *, retry_unsafe: bool = False) -> Any:
        return self._json(self.request("POST", path, json=json, retry_unsafe=retry_unsafe))

    def patch(self, path: str, json: Any = None) -> Any:
        return self._json(self.request("PATCH", path, json=json))

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Yield the items of every page, following ``Link: <...>; rel="next"``."""
        response = self.request("GET", path, params={"per_page": 100, **(params or {})})
        while True:
            page = response.json()
            # A few endpoints wrap the list: {"total_count": n, "artifacts": [...]}.
            if isinstance(page, dict):
                page = next((v for v in page.values() if isinstance(v, list)), [])
            yield from page
            url = response.links.get("next", {}).get("url")
            if not url:
                return
            response = self.request("GET", url)  # the next URL carries the query already

    def upload_asset(
        self,
        upload_url: str,
        name: str,
        data: bytes,
        content_type: str,
        *,
        label: str | None = None,
    ) -> dict[str, Any]:
        """POST bytes to a release's ``upload_url``; not retried here (see ci_ml.github)."""
        params = {"name": name, **({"label": label} if label else {})}
        response = self.request(
            "POST",
            strip_uri_template(upload_url),
            params=params,
            data=data,
            headers={"Content-Type": content_type},
        )
        return response.json()

    def download(self, url: str, dest: Path) -> Path:
        """Stream an asset (``Accept: application/octet-stream``) to ``dest`` atomically.

        GitHub answers with a 302 to a blob host; requests follows it and drops the
        Authorization header because the host changes.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        attempt = 0
        while True:
            response = self.request(
                "GET", url, headers={"Accept": "application/octet-stream"}, stream=True
            )
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
            failure: requests.RequestException | None = None
            try:
                with os.fdopen(fd, "wb") as fh:
                    for chunk in response.iter_content(chunk_size=1 << 16):
                        fh.write(chunk)
                os.replace(tmp, dest)
                return dest
            except requests.RequestException as exc:
                # The body broke off mid-stream: request()'s retries never saw it.
                failure = exc
            finally:
                response.close()
                if os.path.exists(tmp):
                    os.unlink(tmp)
            if attempt >= self.max_retries:
                raise self._connection_error("GET", url, failure, attempt)
            self.backoff(attempt)
            attempt += 1
