"""A small generic GitHub REST client: auth, deadlines, retries, rate limits, pagination.

It knows nothing about comments or releases (that is ``ci_ml.github.api``).
Every failure becomes a named exception (the tree is in ``ci_ml.errors``), so
callers branch on types, not codes. The token is never put into a message, an
exception or a ``repr``.

The modules below it, each importing only those after it: ``retry`` (the
policy, urllib3's ``Retry``), ``watchdog`` (each try's deadline) and ``waits``
(the command's deadline, backoff, rate-limit waits). This module's own code
handles only what urllib3 cannot see: GitHub's rate-limit headers, and a body
that breaks off after urllib3 has returned the headers (the same policy
decides). The client as a whole may have a deadline (``deadline``, the
command's); a wait that would end past it is not started, and a wait longer
than ``announce_after`` seconds is announced through ``on_wait``.
"""

from __future__ import annotations

import hashlib
import html
import json as jsonlib
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import GenericAlias
from typing import TypeAlias, cast

import requests
from urllib3.exceptions import MaxRetryError, ProtocolError

from ci_ml.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    GitHubAPIError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    Unauthorized,
    UnexpectedReply,
    ValidationFailed,
)
from ci_ml.github import replies
from ci_ml.github.retry import (
    IDEMPOTENT_METHODS,
    NoTimeToRetry,
    RetryPolicy,
    failure_kind,
    retry_policy,
)
from ci_ml.github.waits import Timekeeper, Wait, clock_time, path_of, rate_limit_wait
from ci_ml.github.watchdog import Adapter, Attempt, OutOfTime
from ci_ml.json_types import JSON, JSONObject

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_RATE_LIMIT_WAITS = 3
Params: TypeAlias = Mapping[str, str | int]  # a request's query
# No JSON reply ci-ml reads comes near this (a page of 100 releases is a few MB);
# a body that never ends must not fill the runner's memory before the deadline.
MAX_REPLY_BYTES = 32 << 20
FORK_HINT = (
    "pull requests from forks get a read-only GITHUB_TOKEN: post the comment from a "
    "`workflow_run` job instead; otherwise grant the job `permissions:` "
    "(pull-requests: write for comments, contents: write for releases)"
)
STATUS_HINT = "GitHub may be degraded (https://www.githubstatus.com)"


def _version() -> str:
    try:
        return version("ci-ml")
    except PackageNotFoundError:  # not installed (running from a checkout)
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


def strip_uri_template(url: str) -> str:
    """``.../assets{?name,label}`` -> ``.../assets`` (the RFC 6570 part of ``upload_url``)."""
    return re.sub(r"\{[^}]*\}$", "", url)


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


class _TooLarge(Exception):
    pass


class GitHubClient:
    """One ``requests.Session`` with GitHub's headers, the retry policy and deadlines.

    ``deadline`` (seconds from construction, None for none) bounds everything the
    client does; ``deadline_hint`` tells the user how to change it. ``sleep``,
    ``clock`` (wall time, for rate-limit resets), ``monotonic`` (for the deadline)
    and ``rand`` are injectable so that tests never wait.
    """

    def __init__(
        self,
        token: str | None,
        *,
        base_url: str = DEFAULT_API_URL,
        timeout: tuple[float, float] = (5.0, 30.0),
        request_deadline: float = 60.0,
        transfer_deadline: float = 300.0,
        deadline: float | None = None,
        deadline_hint: str = "pass a longer `deadline` to GitHubClient",
        max_retries: int = 4,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        max_rate_limit_wait: float = 300.0,
        announce_after: float = 2.0,
        on_wait: Callable[[Wait], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.request_deadline = request_deadline
        self.transfer_deadline = transfer_deadline
        self.deadline_hint = deadline_hint
        self.max_retries = max_retries
        self.max_rate_limit_wait = max_rate_limit_wait
        self.time = Timekeeper(
            deadline=deadline,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            announce_after=announce_after,
            on_wait=on_wait,
            sleep=sleep,
            clock=clock,
            monotonic=monotonic,
            rand=rand,
        )
        self._token = token or ""
        self.retry = retry_policy(self.time, max_retries)
        self.session = session or requests.Session()
        adapter = Adapter(max_retries=self.retry)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
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

    # -- time ----------------------------------------------------------------

    def remaining(self) -> float:
        """Seconds left before the client's deadline (inf without one)."""
        return self.time.remaining()

    def pause_before_retry(self, attempt: int, what: str, last_error: BaseException | None) -> None:
        """The policy's backoff before the domain code repeats ``what`` (attempt from 0);
        DeadlineExceeded if that retry could not finish before the deadline."""
        delay = self.time.backoff(attempt)
        if not self.time.has_time_for(delay):
            raise DeadlineExceeded(
                f"{what}: no time left to retry before the network deadline of "
                f"{self._deadline_text()} (last error: {getattr(last_error, 'message', last_error)})",
                hint=f"{self.deadline_hint}; {STATUS_HINT}",
            )
        self.time.wait(delay, "before retrying", what)

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
        params: Params | None = None,
        json: JSON = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        sink: Callable[[requests.Response], None] | None = None,
        transfer: bool = False,
    ) -> requests.Response:
        """Send one request under the retry policy and deadlines; return a 2xx/3xx
        response with its body read, or raise a named exception.

        ``sink`` receives a 2xx response to stream its body (downloads); a try whose
        body breaks off calls it again. ``transfer`` gives each try the longer
        ``transfer_deadline`` (asset uploads and downloads).
        """
        method = method.upper()
        url = self.url(path_or_url)
        retry = self.retry
        tries = rate_waits = 0
        per_try = self.transfer_deadline if transfer else self.request_deadline
        while True:
            attempt = Attempt(self.time, method, url, per_try)
            if self.remaining() <= 0:
                raise self._deadline_error(method, url, tries, attempt)
            response, failure = self._try(attempt, method, url, sink, params, json, data, headers)
            tries += attempt.tries
            # Errors are raised outside any `except`, so no __context__ drags the
            # original exception (whose .request holds the Authorization header) along.
            if failure is not None:
                retry = self._after_failure(retry, method, url, response, failure, tries, attempt)
                retry.sleep()
                continue
            assert response is not None
            if response.status_code < 400:
                return response
            wait = rate_limit_wait(response, self.time.clock())
            if wait is None:
                raise self._api_error(method, url, response, tries, attempt)
            # A rate-limited request was not processed, so any method may repeat.
            if not self.time.has_time_for(wait):
                raise self._rate_limited(method, url, response, wait, "deadline")
            if wait > self.max_rate_limit_wait or rate_waits >= MAX_RATE_LIMIT_WAITS:
                raise self._rate_limited(method, url, response, wait, "cap")
            self.time.wait(wait, "for GitHub's rate limit to reset", f"{method} {path_of(url)}")
            rate_waits += 1

    def _try(
        self,
        attempt: Attempt,
        method: str,
        url: str,
        sink: Callable[[requests.Response], None] | None,
        params: Params | None,
        json: JSON,
        data: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> tuple[requests.Response | None, BaseException | None]:
        """One try under the watchdog: (response with its body read, failure)."""
        response: requests.Response | None = None
        failure: BaseException | None = None
        with attempt:
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=dict(headers or {}),
                    timeout=self.timeout,
                    stream=True,
                )
                self._read(response, sink)
            except (requests.RequestException, OutOfTime, _TooLarge) as exc:
                failure = exc
            finally:
                if response is not None:
                    response.close()
        if failure is None and attempt.cut is not None:
            # A body without a length "ends" when the watchdog closes the socket.
            failure = ProtocolError("cut off at the deadline")
        return response, failure

    def _after_failure(
        self,
        retry: RetryPolicy,
        method: str,
        url: str,
        response: requests.Response | None,
        failure: BaseException,
        tries: int,
        attempt: Attempt,
    ) -> RetryPolicy:
        """The policy for a try that failed: the next policy state, or the error."""
        if isinstance(failure, _TooLarge):
            raise self._unexpected(method, url, f"a body of more than {MAX_REPLY_BYTES} bytes")
        if attempt.cut == "command" or isinstance(failure, OutOfTime):
            raise self._deadline_error(method, url, tries, attempt)
        if response is not None and method in IDEMPOTENT_METHODS:
            # The body broke off after urllib3 returned the headers: the same policy decides.
            retry, stop = self._advance(retry, method, url, failure)
            if stop is None:
                return retry
            attempt.no_time = isinstance(stop, NoTimeToRetry)
        if self.remaining() <= 0:
            raise self._deadline_error(method, url, tries, attempt)
        raise self._connection_error(method, url, failure, tries, attempt)

    @staticmethod
    def _advance(
        retry: RetryPolicy, method: str, url: str, failure: BaseException
    ) -> tuple[RetryPolicy, MaxRetryError | None]:
        try:
            return retry.increment(
                method, path_of(url), error=ProtocolError("body broke off")
            ), None
        except MaxRetryError as stop:
            return retry, stop

    @staticmethod
    def _read(
        response: requests.Response, sink: Callable[[requests.Response], None] | None
    ) -> None:
        """Read the body while the try's deadline is armed (the watchdog can cut it)."""
        if sink is not None and response.status_code < 300:
            sink(response)
            response._content = b""
            return
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=1 << 16):
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise _TooLarge
            chunks.append(chunk)
        response._content = b"".join(chunks)

    # -- error construction (token redacted everywhere) ----------------------

    def _where(self, method: str, url: str) -> str:
        return self.redact(f"{method} {url}")

    @staticmethod
    def _tries(tries: int) -> str:
        return f" after {tries} attempts" if tries > 1 else ""

    def _deadline_text(self) -> str:
        return self.time.deadline_text()

    def _stopped(self, attempt: Attempt) -> str:
        if not attempt.no_time:
            return ""
        return (
            f"; not retried again: that would pass the network deadline ({self._deadline_text()})"
        )

    def _deadline_error(
        self, method: str, url: str, tries: int, attempt: Attempt
    ) -> DeadlineExceeded:
        what = "no complete reply" if tries else "not sent"
        return DeadlineExceeded(
            f"{self._where(method, url)}: timed out ({what}{self._tries(tries)}): "
            f"the network deadline of {self._deadline_text()} for this command has passed",
            method=method,
            url=self.redact(url),
            hint=f"{self.deadline_hint}; {STATUS_HINT}",
        )

    def _connection_error(
        self, method: str, url: str, exc: BaseException, tries: int, attempt: Attempt
    ) -> ConnectionFailed:
        if attempt.cut == "try":
            kind = f"timed out (no complete reply within {attempt.per_try:g} s)"
        else:
            kind = failure_kind(exc)
        # Only the exception's class name: its text or request may carry headers.
        return ConnectionFailed(
            f"{self._where(method, url)}: connection {kind}{self._tries(tries)}"
            f"{self._stopped(attempt)} ({type(exc).__name__})",
            method=method,
            url=self.redact(url),
            hint=f"check GITHUB_API_URL and the runner's network; {STATUS_HINT}",
        )

    def _unexpected(
        self, method: str, url: str, problem: str, status: int | None = None
    ) -> UnexpectedReply:
        code = f" (HTTP {status})" if status else ""
        return UnexpectedReply(
            f"GitHub sent an unexpected reply to {self._where(method, url)}{code}: {problem}",
            method=method,
            url=self.redact(url),
            status=status,
            hint=replies.REPLY_HINT,
        )

    def _parse_body(self, response: requests.Response) -> JSONObject:
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def _api_error(
        self, method: str, url: str, response: requests.Response, tries: int, attempt: Attempt
    ) -> GitHubAPIError:
        body = self._parse_body(response)
        status = response.status_code
        cls = ServerError if status >= 500 else _ERROR_CLASSES.get(status, GitHubAPIError)
        gh_message = self.redact(str(body.get("message", response.reason or "")))
        doc = body.get("documentation_url")
        doc = doc if isinstance(doc, str) else None
        message = f"{self._where(method, url)} -> {status}{self._tries(tries)}: {gh_message}"
        if doc:
            message += f" ({doc})"
        errors = body.get("errors") if isinstance(body.get("errors"), list) else []
        if errors:
            message += f" errors={self.redact(str(errors))}"
        if cls is PermissionDenied:
            message += " — fork PRs get a read-only token"
        message += self._stopped(attempt)
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
        self, method: str, url: str, response: requests.Response, wait: float, why: str
    ) -> RateLimited:
        body = self._parse_body(response)
        until = clock_time(self.time.clock() + wait)
        message = (
            f"{self._where(method, url)} -> {response.status_code}: GitHub API rate limit; "
            f"retry in {wait:.0f} s (resets at {until} UTC), "
        )
        if why == "cap":
            message += f"longer than max_rate_limit_wait={self.max_rate_limit_wait:.0f} s"
            hint = "re-run the job later, or use a token with a higher limit"
        else:
            message += (
                f"after the network deadline of {self._deadline_text()} for this command "
                f"({max(0.0, self.remaining()):.0f} s left)"
            )
            hint = f"re-run the job later, or {self.deadline_hint}"
        return RateLimited(
            message,
            wait_seconds=wait,
            status=response.status_code,
            method=method,
            url=self.redact(url),
            github_message=self.redact(str(body.get("message", ""))),
            documentation_url=body.get("documentation_url"),
            hint=hint,
        )

    # -- replies -------------------------------------------------------------

    def decode(self, response: requests.Response, expect: type[object] | None = None) -> JSON:
        """The JSON of a 2xx reply, checked against ``expect`` (a shape from
        ``ci_ml.github.replies``) if given; UnexpectedReply otherwise."""
        method = response.request.method or "GET"
        url = response.request.url or ""
        body = response.content
        status = response.status_code
        if not body:
            if expect is None:
                return None
            problem = "an empty body"
        elif (
            "html" in response.headers.get("content-type", "").lower() or body.lstrip()[:1] == b"<"
        ):
            title = re.search(rb"<title>([^<]{1,80})</title>", body, re.I)
            text = html.unescape(title.group(1).decode(errors="replace")).strip() if title else ""
            named = f" ({text!r})" if text else ""
            problem = f"an HTML page{named} instead of JSON"
        else:
            try:
                data = jsonlib.loads(body)
                problem = ""
            except ValueError as e:
                size = f"{len(body)} byte{'s' if len(body) != 1 else ''}"
                if isinstance(e, jsonlib.JSONDecodeError):
                    size += f"; at byte {e.pos}: {e.msg}"
                problem = f"a body that is not valid JSON, cut off or garbled ({size})"
            if not problem:
                if expect is None:
                    return data
                return replies.check(data, expect, method, self.redact(url), status)
        raise self._unexpected(method, url, problem, status)

    # -- conveniences --------------------------------------------------------

    def get(
        self, path: str, params: Params | None = None, *, expect: type[object] | None = None
    ) -> JSON:
        return self.decode(self.request("GET", path, params=params), expect)

    def post(self, path: str, json: JSON = None, *, expect: type[object] | None = None) -> JSON:
        return self.decode(self.request("POST", path, json=json), expect)

    def patch(self, path: str, json: JSON = None, *, expect: type[object] | None = None) -> JSON:
        return self.decode(self.request("PATCH", path, json=json), expect)

    def delete(self, path: str) -> None:
        self.request("DELETE", path)  # the body, if any, is not read: nothing to check

    def paginate(
        self, path: str, params: Params | None = None, *, item: type[object] | None = None
    ) -> Iterator[JSON]:
        """Yield the items of every page, following ``Link: <...>; rel="next"``; every
        page must be a list (of ``item`` shapes, if given)."""
        response = self.request("GET", path, params={"per_page": 100, **(params or {})})
        while True:
            if item is None:
                page = self.decode(response)
                if not isinstance(page, list):
                    raise self._unexpected(
                        "GET",
                        response.request.url or path,
                        f"expected a list, got {type(page).__name__}",
                        response.status_code,
                    )
            else:
                page = self.decode(response, cast("type[object]", GenericAlias(list, (item,))))
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
    ) -> JSONObject:
        """POST bytes to a release's ``upload_url``. Not repeated once sent (a POST):
        ``ci_ml.github.api`` deletes what a broken upload left, then re-sends."""
        params = {"name": name, **({"label": label} if label else {})}
        response = self.request(
            "POST",
            strip_uri_template(upload_url),
            params=params,
            data=data,
            headers={"Content-Type": content_type},
            transfer=True,
        )
        return self.decode(response, replies.Asset)

    def download(
        self, url: str, dest: Path, *, size: int | None = None, digest: str | None = None
    ) -> Path:
        """Stream an asset (``Accept: application/octet-stream``) to ``dest`` atomically,
        checked against the ``size`` and ``digest`` the release lists, if given.

        GitHub answers with a 302 to a blob host; requests follows it and drops the
        Authorization header because the host changes.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        os.close(fd)
        got: dict[str, int | str] = {}

        def sink(response: requests.Response) -> None:
            sha, n = hashlib.sha256(), 0
            with open(tmp, "wb") as fh:  # "wb": a retried try starts the file over
                for chunk in response.iter_content(chunk_size=1 << 16):
                    fh.write(chunk)
                    sha.update(chunk)
                    n += len(chunk)
            got.update(size=n, digest=f"sha256:{sha.hexdigest()}")

        try:
            self.request(
                "GET",
                url,
                headers={"Accept": "application/octet-stream"},
                sink=sink,
                transfer=True,
            )
            problem = ""
            if size is not None and got["size"] != size:
                problem = f"{got['size']} bytes, but the release lists {size} for {dest.name}"
            elif digest and got["digest"] != digest:
                problem = (
                    f"bytes whose sha256 differs from the digest the release lists for {dest.name}"
                )
            if problem:
                raise self._unexpected("GET", url, problem)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return dest
