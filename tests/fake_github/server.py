"""A stateful fake of the GitHub REST API on 127.0.0.1, over real HTTP.

One origin serves the API (``/repos/...``), uploads (``/uploads/repos/...``),
asset blobs (``/_blobs/<id>``, reached by a redirect to another host name so
that clients drop the token) and a control API (``/_fake/...``) for tests in
another process. Every API request, and every response the spec describes, is
checked against GitHub's OpenAPI description; failures are recorded, never
raised, so a test can assert at the end that the list is empty.

Garbage faults (``GARBAGE_KINDS``) break replies on purpose, the way a degraded
GitHub or a proxy in front of it does: the request is processed and the fake's
real reply is still checked against the spec (so the fake stays honest), then a
broken version goes out and is recorded in ``deliberate``, never in ``failures``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from werkzeug.datastructures import Headers

from . import openapi_check
from .state import State, Token

DOCS = "https://docs.github.com/rest"
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
# Replies broken on purpose, after the request was processed; all say 200.
GARBAGE_KINDS = {
    "html",  # an HTML error page (GitHub's "Unicorn!", a proxy, a captive portal)
    "truncated",  # the JSON cut in half, in a complete HTTP message
    "cut_off",  # the full Content-Length announced, half the body sent, connection closed
    "wrong_shape",  # valid JSON of another shape: lists become objects, field types change
    "endless",  # a chunked body that never ends (fast: ~6 MB/s of whitespace after the JSON)
    "drip",  # the real headers, then the body one byte every `delay` s, padded
    # with leading whitespace (still valid JSON) so that it outlasts any deadline
}
FAULT_KINDS = {
    "status",  # answer with `status` (default 502) without processing
    "drop",  # close the connection without a response, without processing
    "drop_after",  # process the request, then close without a response (ambiguous POST)
    "slow",  # wait `delay` seconds, then process (beyond a client's read timeout)
    "hang",  # read the request, never answer (until the fake stops), without processing
    "rate_limit",  # primary: 403/429, x-ratelimit-remaining: 0, reset in `reset_in` s
    "secondary_rate_limit",  # 403/429 with retry-after: `retry_after`
    "half_upload",  # an upload leaves a same-named asset in state "starter", then drops
} | GARBAGE_KINDS
HTML_PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Unicorn! &middot; GitHub</title></head>
<body><p>No server is currently available to service your request.</p></body></html>
"""
DRIP_PADDING = 100_000  # bytes of leading whitespace: at 5 bytes/s, more than 5 hours


@dataclass
class Fault:
    """One injected failure: the first ``times`` requests matching ``route`` get it.

    ``route`` is a regular expression searched in ``"METHOD /path"``, e.g.
    ``"POST /uploads/"`` or ``"GET /repos/.*/comments"``.
    """

    route: str
    kind: str
    times: int = 1
    status: int = 502
    delay: float = 1.0
    retry_after: int = 1
    reset_in: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {sorted(FAULT_KINDS)}")


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"

    def data(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


def error(status: int, message: str, doc: str = DOCS, **extra: Any) -> Reply:
    return Reply(
        status, {"message": message, "documentation_url": doc, "status": str(status), **extra}
    )


def validation_error(resource: str, code: str, field_name: str, doc: str = DOCS) -> Reply:
    return error(
        422,
        "Validation Failed",
        doc,
        errors=[{"resource": resource, "code": code, "field": field_name}],
    )


@dataclass
class Incoming:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    token: Token | None = None

    def q(self, name: str, default: str | None = None) -> str | None:
        return next((v for k, v in self.query if k == name), default)

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


def _json_or_none(req: Incoming) -> Any:
    """The JSON body, for the request log (upload bodies are bytes and stay out)."""
    if "json" not in req.headers.get("content-type", "") or req.path.startswith("/uploads/"):
        return None
    try:
        return req.json()
    except ValueError:
        return None


Handler = Callable[[Incoming, re.Match[str]], Reply]
REPO = r"/repos/(?P<repo>[^/]+/[^/]+)"


class FakeGitHub:
    """The fake server. ``start()`` runs it in a thread; ``serve_forever()`` in the foreground."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state: State | None = None,
        blob_host: str = "localhost",
        state_file: Path | None = None,
    ):
        # Load GitHub's description now, not on the first request: that takes seconds,
        # and tests with tiny deadlines would time the fake instead of the client.
        openapi_check.openapi()
        self.state = state or State()
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        # Replies broken on purpose by a garbage fault, with what the spec says of them.
        self.deliberate: list[dict[str, Any]] = []
        self._stopping = threading.Event()  # ends hangs, drips and endless bodies
        self.state_file = state_file
        self.blob_host = blob_host
        self._log_lock = threading.Lock()
        self._httpd = _Server((host, port), _RequestHandler)
        self._httpd.fake = self
        self.host, self.port = self._httpd.server_address[:2]
        self.state.base_url = self.url
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (m, re.compile(f"^{p}$"), h)
            for m, p, h in [
                ("GET", REPO + r"/issues/(?P<n>\d+)/comments", self.list_comments),
                ("POST", REPO + r"/issues/(?P<n>\d+)/comments", self.create_comment),
                ("GET", REPO + r"/issues/comments/(?P<id>\d+)", self.get_comment),
                ("PATCH", REPO + r"/issues/comments/(?P<id>\d+)", self.update_comment),
                ("DELETE", REPO + r"/issues/comments/(?P<id>\d+)", self.delete_comment),
                ("GET", REPO + r"/issues", self.list_issues),
                ("POST", REPO + r"/issues", self.create_issue),
                ("GET", REPO + r"/issues/(?P<n>\d+)", self.get_issue),
                ("PATCH", REPO + r"/issues/(?P<n>\d+)", self.update_issue),
                ("GET", REPO + r"/pulls/(?P<n>\d+)", self.get_pull),
                ("GET", REPO + r"/pulls/(?P<n>\d+)/reviews", self.list_reviews),
                ("GET", REPO + r"/commits/(?P<sha>[^/]+)/pulls", self.commit_pulls),
                ("GET", "/user", self.get_user),
                ("GET", REPO + r"/releases", self.list_releases),
                ("POST", REPO + r"/releases", self.create_release),
                ("GET", REPO + r"/releases/latest", self.get_latest_release),
                ("GET", REPO + r"/releases/tags/(?P<tag>.+)", self.get_release_by_tag),
                ("GET", REPO + r"/releases/(?P<id>\d+)", self.get_release),
                ("PATCH", REPO + r"/releases/(?P<id>\d+)", self.update_release),
                ("DELETE", REPO + r"/releases/(?P<id>\d+)", self.delete_release),
                ("GET", REPO + r"/releases/(?P<id>\d+)/assets", self.list_assets),
                ("POST", "/uploads" + REPO + r"/releases/(?P<id>\d+)/assets", self.upload_asset),
                ("GET", REPO + r"/releases/assets/(?P<id>\d+)", self.get_asset),
                ("PATCH", REPO + r"/releases/assets/(?P<id>\d+)", self.update_asset),
                ("DELETE", REPO + r"/releases/assets/(?P<id>\d+)", self.delete_asset),
            ]
        ]

    # -- lifecycle -----------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def uploads_url(self) -> str:
        return f"{self.url}/uploads"

    def start(self) -> FakeGitHub:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test helpers ----------------------------------------------------------

    def add_fault(self, route: str, kind: str, times: int = 1, **options: Any) -> Fault:
        fault = Fault(route, kind, times, **options)
        with self._log_lock:
            self.faults.append(fault)
        return fault

    def add_token(self, token: str, login: str = "github-actions[bot]", **kwargs: Any) -> None:
        self.state.tokens[token] = Token(login=login, **kwargs)

    def api_requests(self, method: str | None = None, pattern: str = "") -> list[dict[str, Any]]:
        """The request log, filtered by method and a regex on the path."""
        return [
            r
            for r in self.requests
            if (method is None or r["method"] == method) and re.search(pattern, r["path"])
        ]

    # -- request entry point -----------------------------------------------------

    def handle(self, h: _RequestHandler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        req = Incoming(
            method=h.command,
            path=split.path,
            query=parse_qsl(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
        )
        if req.path.startswith("/_fake/"):
            reply = self.control(req)
            h.send(reply)
            if req.path.rstrip("/") == "/_fake/shutdown" and reply.status == 202:
                # Only after the reply is on the wire: the process exits right after.
                threading.Thread(target=self._httpd.shutdown, daemon=True).start()
            return
        entry = {
            "method": req.method,
            "path": req.path,
            "query": dict(req.query),
            "authorization": "authorization" in req.headers,
            "user_agent": req.headers.get("user-agent", ""),
            "accept": req.headers.get("accept", ""),
            "content_type": req.headers.get("content-type", ""),
            "json": _json_or_none(req),
            "fault": None,
            "status": None,
        }
        with self._log_lock:
            self.requests.append(entry)
        if req.path.startswith("/_blobs/"):
            reply = self.serve_blob(req)
            entry["status"] = reply.status
            h.send(reply)
            return

        spec_req = openapi_check.spec_request(req.method, req.path, req.query, req.headers, body)
        problems = openapi_check.request_errors(spec_req)
        if problems:
            self._fail("request", req, problems)

        fault = self._take_fault(req)
        entry["fault"] = fault.kind if fault else None
        if fault and fault.kind == "slow":
            self._stopping.wait(fault.delay)
        if fault and fault.kind == "hang":
            self._stopping.wait()
            h.drop()
            return
        if fault and fault.kind == "drop":
            h.drop()
            return
        reply = self._fault_reply(fault) if fault else None
        if reply is None and problems and self._route(req) is not None:
            # GitHub refuses what its schema refuses; so does the fake (after recording it).
            reply = error(422, f"Invalid request.\n\n{problems[0]}")
        if reply is None:
            try:
                reply = self.dispatch(req, half_upload=bool(fault and fault.kind == "half_upload"))
            except Exception:  # a bug in the fake: make it loud in the failures list
                self._fail("fake", req, [traceback.format_exc()])
                reply = error(500, "fake server error")
        entry["status"] = reply.status
        if req.method in WRITE_METHODS and reply.status < 300:
            self._save_state()
        if fault and fault.kind in ("drop_after", "half_upload"):
            h.drop()
            return
        if fault and fault.kind in GARBAGE_KINDS:
            if not problems:
                self._check_response(spec_req, req, reply)  # what the fake would have sent
            self._send_garbage(h, fault, spec_req, req, reply)
            return
        if not problems and not fault:
            self._check_response(spec_req, req, reply)
        h.send(reply)

    def _take_fault(self, req: Incoming) -> Fault | None:
        key = f"{req.method} {req.path}"
        with self._log_lock:
            for fault in self.faults:
                if fault.times > 0 and re.search(fault.route, key):
                    fault.times -= 1
                    return fault
        return None

    def _fault_reply(self, fault: Fault) -> Reply | None:
        if fault.kind == "status":
            return error(fault.status, "Server Error" if fault.status >= 500 else "Fault")
        if fault.kind == "rate_limit":
            reply = error(
                fault.status if fault.status in (403, 429) else 403,
                "API rate limit exceeded for installation ID 1.",
                "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
            )
            reply.headers.update(
                {
                    "x-ratelimit-limit": "5000",
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-used": "5000",
                    "x-ratelimit-reset": str(int(time.time() + fault.reset_in)),
                    "x-ratelimit-resource": "core",
                }
            )
            return reply
        if fault.kind == "secondary_rate_limit":
            reply = error(
                fault.status if fault.status in (403, 429) else 403,
                "You have exceeded a secondary rate limit. Please wait a few minutes before "
                "you try again.",
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            )
            reply.headers["retry-after"] = str(fault.retry_after)
            return reply
        return None

    def _send_garbage(
        self, h: _RequestHandler, fault: Fault, spec_req: Any, req: Incoming, reply: Reply
    ) -> None:
        data = reply.data() or b'{"message": "OK"}'
        kind = fault.kind
        broken: Reply | None = None
        if kind == "html":
            broken = Reply(200, HTML_PAGE, content_type="text/html; charset=utf-8")
        elif kind == "truncated":
            broken = Reply(200, data[: len(data) // 2])
        elif kind == "wrong_shape":
            broken = Reply(200, wrong_shape(reply.body))
        if broken is not None:
            spec_resp = openapi_check.SpecResponse(
                status_code=broken.status,
                data=broken.data(),
                content_type=broken.content_type.split(";")[0],
                headers=Headers(broken.headers),
            )
            found = openapi_check.response_errors(spec_req, spec_resp)
        else:
            found = [f"{kind}: the body never arrives complete"]
        with self._log_lock:
            self.deliberate.append(
                {"kind": kind, "method": req.method, "path": req.path, "problems": found}
            )
        if broken is not None:
            h.send(broken)
        elif kind == "cut_off":
            h.send_slowly(Reply(200, data), [data[: len(data) // 2]], len(data), 0, self._stopping)
        elif kind == "drip":
            body = b" " * DRIP_PADDING + data
            pieces = (body[i : i + 1] for i in range(len(body)))
            h.send_slowly(
                Reply(200, data, reply.headers), pieces, len(body), fault.delay, self._stopping
            )
        else:  # endless
            pieces = itertools.chain([data], itertools.repeat(b" " * 65536))
            h.send_slowly(Reply(200, data), pieces, None, 0.01, self._stopping)

    def _check_response(self, spec_req: Any, req: Incoming, reply: Reply) -> None:
        if reply.status == 404 and self._route(req) is None:
            return
        spec_resp = openapi_check.SpecResponse(
            status_code=reply.status,
            data=reply.data(),
            content_type=reply.content_type.split(";")[0],
            headers=Headers(reply.headers),
        )
        problems = openapi_check.response_errors(spec_req, spec_resp)
        if problems:
            self._fail("response", req, problems)

    def _fail(self, kind: str, req: Incoming, problems: list[str]) -> None:
        with self._log_lock:
            self.failures.append(
                {"kind": kind, "method": req.method, "path": req.path, "problems": problems}
            )

    def _save_state(self) -> None:
        if self.state_file is None:
            return
        tmp = Path(f"{self.state_file}.tmp")
        tmp.write_text(json.dumps(self.state.snapshot(), indent=1))
        tmp.replace(self.state_file)

    # -- routing, auth -------------------------------------------------------------

    def dispatch(self, req: Incoming, *, half_upload: bool = False) -> Reply:
        found = self._route(req)
        if found is None:
            return error(404, "Not Found")
        handler, match = found
        auth = req.headers.get("authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        req.token = self.state.tokens.get(token)
        if req.token is None:
            return error(401, "Bad credentials" if auth else "Requires authentication")
        repo = match.groupdict().get("repo")
        if repo is not None and repo not in self.state.repos:
            return error(404, "Not Found")
        if req.method in WRITE_METHODS and req.token.read_only:
            return error(403, "Resource not accessible by integration")
        with self.state.lock:
            if half_upload and handler == self.upload_asset:
                return self.upload_asset(req, match, half=True)
            return handler(req, match)

    def _route(self, req: Incoming) -> tuple[Handler, re.Match[str]] | None:
        for method, pattern, handler in self._routes:
            match = pattern.match(req.path)
            if match and method == req.method:
                return handler, match
        return None

    def paginate(self, req: Incoming, items: list[Any]) -> Reply:
        per_page = min(100, max(1, int(req.q("per_page", "30") or 30)))
        page = max(1, int(req.q("page", "1") or 1))
        last = max(1, -(-len(items) // per_page))
        links = []
        others = [(k, v) for k, v in req.query if k not in ("page", "per_page")]

        def link(n: int, rel: str) -> str:
            query = urlencode([*others, ("per_page", per_page), ("page", n)])
            return f'<{self.url}{req.path}?{query}>; rel="{rel}"'

        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        reply = Reply(200, items[(page - 1) * per_page : page * per_page])
        if links:
            reply.headers["link"] = ", ".join(links)
        return reply

    # -- comments ----------------------------------------------------------------

    def _comment(self, m: re.Match[str]) -> Any:
        c = self.state.comments.get(int(m.group("id")))
        return c if c and c.repo == m.group("repo") else None

    def _has_thread(self, repo: str, n: int) -> bool:
        """A pull request or an issue: both take comments (one sequence of numbers)."""
        return (repo, n) in self.state.pulls or (repo, n) in self.state.issues

    def list_comments(self, req: Incoming, m: re.Match[str]) -> Reply:
        repo, n = m.group("repo"), int(m.group("n"))
        if not self._has_thread(repo, n):
            return error(404, "Not Found")
        comments = sorted(
            (c for c in self.state.comments.values() if c.repo == repo and c.issue == n),
            key=lambda c: c.id,
        )
        return self.paginate(req, [self.state.comment_json(c) for c in comments])

    def create_comment(self, req: Incoming, m: re.Match[str]) -> Reply:
        repo, n = m.group("repo"), int(m.group("n"))
        if not self._has_thread(repo, n):
            return error(404, "Not Found")
        body = req.json().get("body", "")
        if len(body) > 65536:
            return error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "IssueComment",
                        "code": "custom",
                        "field": "body",
                        "message": "body is too long (maximum is 65536 characters)",
                    }
                ],
            )
        t = req.token
        c = self.state.add_comment(repo, n, body, login=t.login, type=t.type)
        c.user["id"] = t.id
        return Reply(201, self.state.comment_json(c))

    def get_comment(self, req: Incoming, m: re.Match[str]) -> Reply:
        c = self._comment(m)
        return Reply(200, self.state.comment_json(c)) if c else error(404, "Not Found")

    def update_comment(self, req: Incoming, m: re.Match[str]) -> Reply:
        c = self._comment(m)
        if not c:
            return error(404, "Not Found")
        c.body = req.json().get("body", c.body)
        c.updated_at = self.state.now()
        return Reply(200, self.state.comment_json(c))

    def delete_comment(self, req: Incoming, m: re.Match[str]) -> Reply:
        c = self._comment(m)
        if not c:
            return error(404, "Not Found")
        del self.state.comments[c.id]
        return Reply(204)

    # -- issues ------------------------------------------------------------------

    def list_issues(self, req: Incoming, m: re.Match[str]) -> Reply:
        """Filtered like GitHub: state (default open), every label named, the creator;
        sorted by creation, newest first unless `direction=asc`."""
        repo = m.group("repo")
        state = req.q("state", "open")
        wanted = [x.strip() for x in (req.q("labels") or "").split(",") if x.strip()]
        creator = req.q("creator")
        found = [
            i
            for (r, _), i in self.state.issues.items()
            if r == repo
            and (state == "all" or i.state == state)
            and all(w in i.labels for w in wanted)
            and (creator is None or i.user["login"] == creator)
        ]
        found.sort(key=lambda i: (i.created_at, i.id), reverse=req.q("direction") != "asc")
        return self.paginate(req, [self.state.issue_json(i) for i in found])

    def _too_long(self, body: Any) -> Reply | None:
        if isinstance(body, str) and len(body) > 65536:
            return error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "Issue",
                        "code": "custom",
                        "field": "body",
                        "message": "body is too long (maximum is 65536 characters)",
                    }
                ],
            )
        return None

    def create_issue(self, req: Incoming, m: re.Match[str]) -> Reply:
        data = req.json()
        too_long = self._too_long(data.get("body"))
        if too_long:
            return too_long
        t = req.token
        labels = {str(x) for x in data.get("labels", [])}
        if self.state.refuse_new_labels and labels - self.state.labels.get(m.group("repo"), set()):
            return error(403, "Must have admin rights to Repository.")
        issue = self.state.add_issue(
            m.group("repo"), str(data["title"]), data.get("body"),
            labels=[str(x) for x in data.get("labels", [])], login=t.login, type=t.type,
        )  # fmt: skip
        issue.user["id"] = t.id
        return Reply(201, self.state.issue_json(issue))

    def get_issue(self, req: Incoming, m: re.Match[str]) -> Reply:
        issue = self.state.issues.get((m.group("repo"), int(m.group("n"))))
        return Reply(200, self.state.issue_json(issue)) if issue else error(404, "Not Found")

    def update_issue(self, req: Incoming, m: re.Match[str]) -> Reply:
        issue = self.state.issues.get((m.group("repo"), int(m.group("n"))))
        if not issue:
            return error(404, "Not Found")
        data = req.json()
        too_long = self._too_long(data.get("body"))
        if too_long:
            return too_long
        now = self.state.now()
        if "title" in data:
            issue.title = str(data["title"])
        if "body" in data:
            issue.body = data["body"]
        if "labels" in data:
            issue.labels = [str(x) for x in data["labels"]]
            self.state.labels.setdefault(issue.repo, set()).update(issue.labels)
        state = data.get("state")
        if state == "closed" and issue.state != "closed":
            issue.state, issue.closed_at = "closed", now
            issue.state_reason = data.get("state_reason") or "completed"
        elif state == "open" and issue.state != "open":
            issue.state, issue.closed_at, issue.state_reason = "open", None, "reopened"
        elif "state_reason" in data and state is None:
            issue.state_reason = data["state_reason"]
        issue.updated_at = now
        return Reply(200, self.state.issue_json(issue))

    def get_pull(self, req: Incoming, m: re.Match[str]) -> Reply:
        key = (m.group("repo"), int(m.group("n")))
        if key not in self.state.pulls:
            return error(404, "Not Found")
        return Reply(200, self.state.pull_json(*key))

    def list_reviews(self, req: Incoming, m: re.Match[str]) -> Reply:
        key = (m.group("repo"), int(m.group("n")))
        if key not in self.state.pulls:
            return error(404, "Not Found")
        return self.paginate(req, self.state.reviews_json(*key))

    def commit_pulls(self, req: Incoming, m: re.Match[str]) -> Reply:
        repo, sha = m.group("repo"), m.group("sha")
        numbers = [
            n
            for (r, n), info in sorted(self.state.pulls.items())
            if r == repo and sha in (info["head_sha"], info.get("merge_commit_sha"))
        ]
        return self.paginate(req, [self.state.pull_simple_json(repo, n) for n in numbers])

    def get_user(self, req: Incoming, m: re.Match[str]) -> Reply:
        # Like GitHub: an installation token (the Actions token) is no user.
        if req.token.type == "Bot":
            return error(403, "Resource not accessible by integration")
        return Reply(200, self.state.authenticated_user_json(req.token))

    # -- releases ----------------------------------------------------------------

    def _visible(self, req: Incoming, release: Any) -> bool:
        # Drafts are listed only to tokens with push access.
        return not (release.draft and req.token and req.token.read_only)

    def _release(self, req: Incoming, m: re.Match[str]) -> Any:
        r = self.state.releases.get(int(m.group("id")))
        return r if r and r.repo == m.group("repo") and self._visible(req, r) else None

    def list_releases(self, req: Incoming, m: re.Match[str]) -> Reply:
        rels = [r for r in self.state.repo_releases(m.group("repo")) if self._visible(req, r)]
        return self.paginate(req, [self.state.release_json(r) for r in rels])

    def create_release(self, req: Incoming, m: re.Match[str]) -> Reply:
        repo, data = m.group("repo"), req.json()
        tag = data["tag_name"]
        clash = [
            r
            for r in self.state.repo_releases(repo)
            if r.tag_name == tag and not (r.draft and self.state.allow_duplicate_draft_tags)
        ]
        if clash:
            return validation_error(
                "Release",
                "already_exists",
                "tag_name",
                DOCS + "/releases/releases#create-a-release",
            )
        draft = bool(data.get("draft", False))
        prerelease = bool(data.get("prerelease", False))
        r = self.state.add_release(repo, tag, draft=draft, prerelease=prerelease, make_latest=False)
        r.author = {"login": req.token.login, "id": req.token.id, "type": req.token.type}
        r.target_commitish = data.get("target_commitish", "main")
        r.name = data.get("name", tag)
        r.body = data.get("body", "")
        if not draft and not prerelease and data.get("make_latest", "true") == "true":
            self.state.latest[repo] = r.id
        return Reply(201, self.state.release_json(r))

    def get_latest_release(self, req: Incoming, m: re.Match[str]) -> Reply:
        r = self.state.latest_release(m.group("repo"))
        return Reply(200, self.state.release_json(r)) if r else error(404, "Not Found")

    def get_release_by_tag(self, req: Incoming, m: re.Match[str]) -> Reply:
        found = [
            r
            for r in self.state.repo_releases(m.group("repo"))
            # The tag arrives percent-encoded in the path (a `/` or `+` in a tag).
            if r.tag_name == unquote(m.group("tag")) and not r.draft  # drafts have no tag yet
        ]
        return Reply(200, self.state.release_json(found[0])) if found else error(404, "Not Found")

    def get_release(self, req: Incoming, m: re.Match[str]) -> Reply:
        r = self._release(req, m)
        return Reply(200, self.state.release_json(r)) if r else error(404, "Not Found")

    def update_release(self, req: Incoming, m: re.Match[str]) -> Reply:
        r = self._release(req, m)
        if not r:
            return error(404, "Not Found")
        data = req.json()
        for key in ("tag_name", "target_commitish", "name", "body", "prerelease"):
            if key in data:
                setattr(r, key, data[key])
        newly_published = r.draft and data.get("draft") is False
        if "draft" in data:
            r.draft = bool(data["draft"])
        if newly_published:
            r.published_at = self.state.now()
        make_latest = data.get("make_latest", "true" if newly_published else None)
        if make_latest == "true" and not r.draft and not r.prerelease:
            self.state.latest[r.repo] = r.id
        return Reply(200, self.state.release_json(r))

    def delete_release(self, req: Incoming, m: re.Match[str]) -> Reply:
        r = self._release(req, m)
        if not r:
            return error(404, "Not Found")
        for a in self.state.release_assets(r.id):
            del self.state.assets[a.id]
        del self.state.releases[r.id]
        if self.state.latest.get(r.repo) == r.id:
            del self.state.latest[r.repo]
        return Reply(204)

    # -- assets ------------------------------------------------------------------

    def _asset(self, m: re.Match[str]) -> Any:
        a = self.state.assets.get(int(m.group("id")))
        if a and self.state.releases[a.release_id].repo == m.group("repo"):
            return a
        return None

    def list_assets(self, req: Incoming, m: re.Match[str]) -> Reply:
        r = self._release(req, m)
        if not r:
            return error(404, "Not Found")
        assets = [self.state.asset_json(a) for a in self.state.release_assets(r.id)]
        return self.paginate(req, assets)

    def upload_asset(self, req: Incoming, m: re.Match[str], half: bool = False) -> Reply:
        r = self._release(req, m)
        if not r:
            return error(404, "Not Found")
        name = req.q("name") or ""
        if any(a.name == name for a in self.state.release_assets(r.id)):
            return validation_error(
                "ReleaseAsset",
                "already_exists",
                "name",
                DOCS + "/releases/assets#upload-a-release-asset",
            )
        uploader = {"login": req.token.login, "id": req.token.id, "type": req.token.type}
        ctype = req.headers.get("content-type", "application/octet-stream")
        if half:  # the connection broke mid-body: GitHub keeps an empty "starter" asset
            asset = self.state.add_asset(
                r, name, b"", ctype, "starter", uploader, size=len(req.body)
            )
        else:
            asset = self.state.add_asset(r, name, req.body, ctype, "uploaded", uploader)
        asset.label = req.q("label")
        return Reply(201, self.state.asset_json(asset))

    def get_asset(self, req: Incoming, m: re.Match[str]) -> Reply:
        a = self._asset(m)
        if not a:
            return error(404, "Not Found")
        if "application/octet-stream" in req.headers.get("accept", ""):
            # Like GitHub: a short-lived URL on another host (here: another host name).
            location = f"http://{self.blob_host}:{self.port}/_blobs/{a.id}"
            return Reply(302, b"", {"location": location}, "text/html")
        return Reply(200, self.state.asset_json(a))

    def update_asset(self, req: Incoming, m: re.Match[str]) -> Reply:
        a = self._asset(m)
        if not a:
            return error(404, "Not Found")
        data = req.json()
        a.name = data.get("name", a.name)
        a.label = data.get("label", a.label)
        return Reply(200, self.state.asset_json(a))

    def delete_asset(self, req: Incoming, m: re.Match[str]) -> Reply:
        a = self._asset(m)
        if not a:
            return error(404, "Not Found")
        del self.state.assets[a.id]
        return Reply(204)

    def serve_blob(self, req: Incoming) -> Reply:
        try:
            a = self.state.assets.get(int(req.path.rsplit("/", 1)[1]))
        except ValueError:
            a = None
        if a is None or a.state != "uploaded":
            return Reply(404, b"Not Found", content_type="text/plain")
        return Reply(200, a.data, content_type="application/octet-stream")

    # -- control API -------------------------------------------------------------

    def control(self, req: Incoming) -> Reply:
        """``/_fake/...``: seed state, inject faults, read the logs (not validated)."""
        route = (req.method, req.path.removeprefix("/_fake/").rstrip("/"))
        with self._log_lock:
            if route == ("GET", "requests"):
                return Reply(200, list(self.requests))
            if route == ("GET", "failures"):
                return Reply(200, list(self.failures))
            if route == ("GET", "deliberate"):
                return Reply(200, list(self.deliberate))
            if route == ("GET", "faults"):
                return Reply(200, [asdict(f) for f in self.faults])
            if route == ("DELETE", "faults"):
                self.faults.clear()
                return Reply(204)
            if route == ("POST", "reset-log"):
                self.requests.clear()
                self.failures.clear()
                self.deliberate.clear()
                return Reply(204)
        if route == ("GET", "health"):
            return Reply(200, {"ok": True, "url": self.url})
        if route == ("GET", "state"):
            return Reply(200, self.state.snapshot())
        if route == ("POST", "faults"):
            try:
                fault = self.add_fault(**req.json())
            except (TypeError, ValueError) as exc:
                return Reply(400, {"message": str(exc)})
            return Reply(201, asdict(fault))
        if route == ("POST", "seed"):
            seed(self.state, req.json())
            self._save_state()
            return Reply(200, self.state.snapshot())
        if route == ("POST", "shutdown"):
            return Reply(202, {"message": "shutting down"})
        return Reply(404, {"message": f"unknown control route {req.method} {req.path}"})


def seed(state: State, data: dict[str, Any]) -> None:
    """Load a seed document (the ``--seed`` file, or ``POST /_fake/seed``)::

    {"repos": ["octo/ml"],
     "tokens": {"ghs_x": {"login": "github-actions[bot]", "type": "Bot", "read_only": false}},
     "allow_duplicate_draft_tags": false,
     "pulls": [{"repo": "octo/ml", "number": 7, "head_sha": "abc..."}],
     "comments": [{"repo": "octo/ml", "issue": 7, "body": "hi", "login": "u", "type": "User",
                   "count": 150}],
     "releases": [{"repo": "octo/ml", "tag": "model-v1", "draft": false, "prerelease": false,
                   "assets": {"metrics.json": "{...}"}}],
     "issues": [{"repo": "octo/ml", "title": "t", "body": "b", "labels": ["x"],
                 "login": "u", "type": "User", "state": "open"}]}
    """
    with state.lock:
        state.repos.update(data.get("repos", []))
        for token, info in data.get("tokens", {}).items():
            state.tokens[token] = Token(**info)
        if "allow_duplicate_draft_tags" in data:
            state.allow_duplicate_draft_tags = bool(data["allow_duplicate_draft_tags"])
        for pr in data.get("pulls", []):
            state.add_pull(pr["repo"], int(pr["number"]), pr.get("head_sha", "a" * 40))
        for c in data.get("comments", []):
            for _ in range(int(c.get("count", 1))):
                state.add_comment(
                    c["repo"], int(c["issue"]), c["body"], c.get("login", "octocat"),
                    c.get("type", "User"),
                )  # fmt: skip
        for i in data.get("issues", []):
            state.add_issue(
                i["repo"], i["title"], i.get("body"), labels=i.get("labels"),
                login=i.get("login", "octocat"), type=i.get("type", "User"),
                state=i.get("state", "open"),
            )  # fmt: skip
        for r in data.get("releases", []):
            assets = {k: v.encode() for k, v in r.get("assets", {}).items()}
            state.repos.add(r["repo"])
            state.add_release(
                r["repo"], r["tag"], draft=r.get("draft", False),
                prerelease=r.get("prerelease", False), assets=assets,
            )  # fmt: skip


def wrong_shape(body: Any) -> Any:
    """The same data in another shape, as a wrong endpoint or a broken proxy sends it:
    a list's items (or an empty list) become objects, every field changes type."""
    if isinstance(body, list):
        return [_retyped(x) for x in body] if body else {"message": "OK", "items": []}
    if isinstance(body, dict):
        return _retyped(body)
    return {"message": "OK"}  # no JSON body at all (204, a redirect)


def _retyped(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _flip(v) for k, v in value.items()}
    return _flip(value)


def _flip(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return len(value)
    if value is None:
        return {}
    if isinstance(value, list):
        return {"items": value}
    return [value]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeGitHub

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that gave up (read timeouts) leave broken pipes behind: not news.
        pass


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and
        # delayed ACKs add 40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle(self) -> None:
        self.server.fake.handle(self)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle

    def send(self, reply: Reply) -> None:
        data = reply.data()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def send_slowly(
        self,
        reply: Reply,
        pieces: Iterable[bytes],
        length: int | None,
        pause: float,
        stopping: threading.Event,
    ) -> None:
        """Headers at once, then the body in ``pieces``, ``pause`` s apart, then close.
        ``length`` None: chunked, so the client cannot tell where the body ends."""
        self.close_connection = True
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            if length is None:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(length))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            for piece in pieces:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if length is None else piece)
                if stopping.wait(pause):
                    break
        except OSError:  # the client gave up (its deadline): that is the point
            pass
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        """Close the connection without sending a byte: the client sees a reset."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        pass
