"""The generic REST client against the fake GitHub API: headers, the retry policy,
rate limits and the waits they cause, errors, reply shapes, transfers."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest
import requests
from urllib3.util.retry import Retry

from ci_ml.errors import (
    EXIT_GITHUB,
    ConnectionFailed,
    GitHubError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    Unauthorized,
    UnexpectedReply,
    ValidationFailed,
)
from ci_ml.github import client as client_module
from ci_ml.github.client import GitHubClient, strip_uri_template
from ci_ml.github.context import GitHubContext
from ci_ml.github.replies import Comment
from ci_ml.github.waits import Wait, backoff_delay, rate_limit_wait
from tests.fake_github import DEFAULT_TOKEN

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

REPO, PR = "octo/ml", 7  # seeded by the fake_github fixture
COMMENTS = f"/repos/{REPO}/issues/{PR}/comments"


# --- pure helpers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [(0, 0.0, 0.5), (0, 1.0, 1.0), (1, 0.5, 1.5), (3, 1.0, 8.0), (10, 1.0, 30.0)],
)
def test_backoff_is_exponential_jittered_and_capped(attempt, rand, expected):
    assert backoff_delay(attempt, 1.0, 30.0, lambda: rand) == pytest.approx(expected)


def _response(status: int, headers: dict[str, str], body: bytes = b"{}") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response._content = body
    return response


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010"}, b"{}", 11.0),
        (429, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "900"}, b"{}", 1.0),
        (403, {"retry-after": "7"}, b"{}", 7.0),
        (429, {"retry-after": "3"}, b"{}", 3.0),
        (403, {}, b'{"message": "You have exceeded a secondary rate limit."}', 60.0),
        (403, {"x-ratelimit-remaining": "12"}, b'{"message": "Resource not accessible"}', None),
        (500, {"retry-after": "3"}, b"{}", None),
    ],
)
def test_rate_limit_wait(status, headers, body, expected):
    assert rate_limit_wait(_response(status, headers, body), now=1000.0) == expected


def test_strip_uri_template():
    url = "https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}"
    assert strip_uri_template(url) == "https://uploads.github.com/repos/o/r/releases/1/assets"


def test_api_url_and_token_come_from_the_environment_through_the_context():
    ctx = GitHubContext.from_env({"GITHUB_API_URL": "https://ghe.example/api/v3/"})
    assert ctx.api_url == "https://ghe.example/api/v3" and ctx.token is None
    assert GitHubContext.from_env({}).api_url == "https://api.github.com"


# --- headers and pagination ---------------------------------------------------


def test_sends_githubs_headers(fake_github, client):
    client.get(COMMENTS)
    (req,) = fake_github.api_requests("GET", "/comments")
    assert req["authorization"] is True
    assert req["accept"] == "application/vnd.github+json"
    assert req["user_agent"].startswith("ci-ml/")


def test_paginate_follows_link_headers(fake_github, client):
    for i in range(250):
        fake_github.state.add_comment(REPO, PR, f"comment {i}")
    bodies = [c["body"] for c in client.paginate(COMMENTS)]
    assert bodies == [f"comment {i}" for i in range(250)]
    pages = fake_github.api_requests("GET", "/comments")
    assert [r["query"].get("page", "1") for r in pages] == ["1", "2", "3"]
    assert all(r["query"]["per_page"] == "100" for r in pages)


# --- retries ------------------------------------------------------------------


def test_5xx_is_retried_with_backoff(fake_github, client, sleeps):
    fake_github.add_fault("GET /repos/.*/comments", "status", times=2, status=502)
    assert client.get(COMMENTS) == []
    assert len(fake_github.api_requests("GET", "/comments")) == 3
    assert sleeps.calls == [0.75, 1.5]  # rand=0.5: 3/4 of 1 s, then of 2 s


def test_5xx_after_all_retries_is_server_error(fake_github, make_client):
    client = make_client(max_retries=2)
    fake_github.add_fault("GET /repos/.*/comments", "status", times=5, status=503)
    with pytest.raises(ServerError) as info:
        client.get(COMMENTS)
    assert info.value.status == 503
    assert "after 3 attempts" in str(info.value)
    assert info.value.exit_code == EXIT_GITHUB


def test_post_is_not_retried_on_5xx(fake_github, client):
    fake_github.add_fault("POST /repos/.*/comments", "status", status=502)
    with pytest.raises(ServerError):
        client.post(COMMENTS, {"body": "hi"})
    assert len(fake_github.api_requests("POST", "/comments")) == 1


def test_dropped_connection_is_retried(fake_github, client):
    fake_github.add_fault("GET /repos/.*/comments", "drop")
    assert client.get(COMMENTS) == []
    assert len(fake_github.api_requests("GET", "/comments")) == 2


def test_dropped_post_is_not_retried(fake_github, client):
    fake_github.add_fault("POST /repos/.*/comments", "drop_after")
    with pytest.raises(ConnectionFailed):
        client.post(COMMENTS, {"body": "hi"})
    assert len(fake_github.api_requests("POST", "/comments")) == 1


def test_read_timeout_is_retried(fake_github, make_client):
    client = make_client(timeout=(2.0, 0.3))
    fake_github.add_fault("GET /repos/.*/pulls/", "slow", delay=0.8)
    assert client.get(f"/repos/{REPO}/pulls/{PR}")["number"] == PR
    assert len(fake_github.api_requests("GET", "/pulls/")) == 2


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_5xx_is_retried_for_other_idempotent_methods(fake_github, client, method):
    comment = fake_github.state.add_comment(REPO, PR, "hi", "github-actions[bot]", "Bot")
    path = f"/repos/{REPO}/issues/comments/{comment.id}"
    fake_github.add_fault(f"{method} /repos/.*/issues/comments/", "status", status=503)
    client.request(method, path, json={"body": "edited"} if method == "PATCH" else None)
    assert [r["status"] for r in fake_github.api_requests(method, "/comments/")][0] == 503
    assert len(fake_github.api_requests(method, "/comments/")) == 2


def test_one_retry_policy_urllib3_retry_mounted_on_the_session(client):
    """Not a loop of our own: the session's adapter carries the client's Retry."""
    policy = client.session.get_adapter(client.url("/repos")).max_retries
    assert isinstance(policy, Retry) and policy is client.retry
    assert "GET" in policy.allowed_methods and "POST" not in policy.allowed_methods
    assert {500, 502, 503, 504} <= set(policy.status_forcelist)
    assert policy.raise_on_status is False  # the last reply becomes ServerError, not MaxRetryError
    assert (
        policy.respect_retry_after_header is False
    )  # rate limits: the client reads GitHub's headers


def test_body_broken_off_after_the_headers_is_retried_for_get(fake_github, client, sleeps):
    fake_github.add_fault("GET /repos/.*/comments", "cut_off")
    assert client.get(COMMENTS) == []
    assert len(fake_github.api_requests("GET", "/comments")) == 2
    assert sleeps.calls == [0.75]  # the same policy and backoff as urllib3's retries


def test_body_broken_off_is_not_retried_for_post(fake_github, client):
    fake_github.add_fault("POST /repos/.*/comments", "cut_off")
    with pytest.raises(ConnectionFailed, match="broke off"):
        client.post(COMMENTS, {"body": "hi"})
    assert len(fake_github.api_requests("POST", "/comments")) == 1
    assert len(fake_github.state.comments) == 1  # GitHub processed it: repeating would duplicate


def test_retries_stop_when_the_next_would_pass_the_deadline(fake_github, make_client, sleeps):
    client = make_client(deadline=3.0, deadline_hint="raise it with --network-timeout")
    fake_github.add_fault("GET /repos/.*/comments", "status", times=5, status=503)
    with pytest.raises(ServerError) as info:
        client.get(COMMENTS)
    assert sleeps.calls == [0.75, 1.5]  # the third backoff (3 s) would end after the deadline
    assert len(fake_github.api_requests("GET", "/comments")) == 3
    assert "after 3 attempts" in str(info.value)
    assert "not retried again: that would pass the network deadline (3 s)" in str(info.value)


def test_unreachable_host_is_connection_failed_even_for_post(sleeps):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = GitHubClient(
        DEFAULT_TOKEN, base_url=f"http://127.0.0.1:{port}", max_retries=2, sleep=sleeps
    )
    with pytest.raises(ConnectionFailed) as info:
        client.post("/repos/o/r/releases", {"tag_name": "v1"})
    assert "after 3 attempts" in str(info.value)  # refused: nothing sent, safe to repeat
    assert "could not be opened" in str(info.value)
    assert len(sleeps.calls) == 2


# --- rate limits ----------------------------------------------------------------


def test_primary_rate_limit_waits_for_reset(fake_github, client, sleeps):
    fake_github.add_fault("GET /repos/.*/comments", "rate_limit", reset_in=5)
    assert client.get(COMMENTS) == []
    assert len(sleeps.calls) == 1 and 4 <= sleeps.calls[0] <= 7


def test_primary_rate_limit_too_far_raises_clear_error(fake_github, make_client, sleeps):
    client = make_client(max_rate_limit_wait=60)
    fake_github.add_fault("GET /repos/.*/comments", "rate_limit", reset_in=3600)
    with pytest.raises(RateLimited) as info:
        client.get(COMMENTS)
    message = str(info.value)
    assert "rate limit" in message and "resets at" in message and "max_rate_limit_wait" in message
    assert info.value.status == 403 and info.value.wait_seconds > 3500
    assert sleeps.calls == []


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_honours_retry_after(fake_github, client, sleeps, status):
    fake_github.add_fault(
        "POST /repos/.*/comments", "secondary_rate_limit", status=status, retry_after=7
    )
    client.post(COMMENTS, {"body": "hi"})
    assert sleeps.calls == [7.0]
    assert len(fake_github.state.comments) == 1


def test_long_waits_are_announced_with_what_and_until_when(fake_github, make_client, sleeps):
    waits: list[Wait] = []
    client = make_client(on_wait=waits.append, clock=lambda: 1_700_000_000.0)  # 22:13:20 UTC
    fake_github.add_fault("GET /repos/.*/comments", "secondary_rate_limit", retry_after=45)
    client.get(COMMENTS)
    assert sleeps.calls == [45.0]
    assert [str(w) for w in waits] == [
        f"waiting 45 s for GitHub's rate limit to reset, until 22:14:05 UTC (GET {COMMENTS})"
    ]


def test_short_waits_are_not_announced(fake_github, make_client, sleeps):
    waits: list[Wait] = []
    client = make_client(on_wait=waits.append)
    fake_github.add_fault("GET /repos/.*/comments", "status", status=502)
    client.get(COMMENTS)
    assert sleeps.calls == [0.75] and waits == []


def test_long_backoff_is_announced(fake_github, make_client, sleeps):
    waits: list[Wait] = []
    client = make_client(on_wait=waits.append, max_retries=3)
    fake_github.add_fault("GET /repos/.*/comments", "status", times=3, status=502)
    client.get(COMMENTS)
    assert sleeps.calls == [0.75, 1.5, 3.0]
    assert [str(w).split(", until")[0] for w in waits] == [
        "waiting 3 s before retrying (after HTTP 502)"
    ]


def test_rate_limit_wait_past_the_deadline_is_not_started(fake_github, make_client, sleeps):
    client = make_client(deadline=30, deadline_hint="raise it with --network-timeout")
    fake_github.add_fault("GET /repos/.*/comments", "secondary_rate_limit", retry_after=45)
    with pytest.raises(RateLimited) as info:
        client.get(COMMENTS)
    assert sleeps.calls == []
    message = str(info.value)
    assert "retry in 45 s" in message and "after the network deadline of 30 s" in message
    assert "--network-timeout" in message


def test_rate_limit_waits_add_up_against_the_deadline(fake_github, make_client, sleeps):
    client = make_client(deadline=30)
    fake_github.add_fault("GET /repos/.*/comments", "secondary_rate_limit", times=2, retry_after=20)
    with pytest.raises(RateLimited, match="after the network deadline"):
        client.get(COMMENTS)
    assert sleeps.calls == [20.0]  # the second 20 s would end 10 s past the deadline


def test_secondary_rate_limit_longer_than_cap_raises(fake_github, make_client):
    client = make_client(max_rate_limit_wait=10)
    fake_github.add_fault("GET /repos/.*/comments", "secondary_rate_limit", retry_after=120)
    with pytest.raises(RateLimited, match="retry in 120 s"):
        client.get(COMMENTS)


# --- errors ---------------------------------------------------------------------


def test_read_only_token_is_permission_denied_mentioning_forks(fake_github, make_client):
    fake_github.add_token("ghs_fork_pr_token", read_only=True)
    client = make_client("ghs_fork_pr_token")
    with pytest.raises(PermissionDenied) as info:
        client.post(COMMENTS, {"body": "hi"})
    err = info.value
    assert err.status == 403
    assert err.github_message == "Resource not accessible by integration"
    assert "fork" in str(err) and "workflow_run" in str(err)
    assert not fake_github.state.comments


def test_bad_token_is_unauthorized(make_client):
    with pytest.raises(Unauthorized, match="Bad credentials"):
        make_client("ghs_wrong").get(COMMENTS)


def test_not_found_carries_githubs_message_and_docs(client):
    with pytest.raises(NotFound) as info:
        client.get("/repos/octo/missing/releases")
    assert info.value.github_message == "Not Found"
    assert info.value.documentation_url.startswith("https://docs.github.com/")
    assert isinstance(info.value, GitHubError)


def test_validation_failed_exposes_error_codes(fake_github, client):
    fake_github.state.add_release(REPO, "model-v1")
    with pytest.raises(ValidationFailed) as info:
        client.post(f"/repos/{REPO}/releases", {"tag_name": "model-v1"})
    assert info.value.has_code("already_exists")
    assert info.value.errors[0]["resource"] == "Release"


# --- replies that are not what ci-ml reads -----------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("html", "an HTML page ('Unicorn! · GitHub') instead of JSON"),
        ("truncated", "a body that is not valid JSON"),
        ("wrong_shape", "expected a list of objects with 'id', 'html_url', 'created_at', 'user'"),
    ],
)
def test_garbage_with_status_200_is_unexpected_reply_naming_the_endpoint(
    fake_github, client, kind, expected
):
    fake_github.state.add_comment(REPO, PR, "hi")
    fake_github.add_fault("GET /repos/.*/comments", kind)
    with pytest.raises(UnexpectedReply) as info:
        list(client.paginate(COMMENTS, item=Comment))
    message = str(info.value)
    assert f"GitHub sent an unexpected reply to GET {fake_github.url}{COMMENTS}" in message
    assert expected in message and "githubstatus" in message
    assert info.value.exit_code == EXIT_GITHUB and info.value.status == 200
    assert info.value.__context__ is None  # no JSONDecodeError or ValidationError riding along
    (broken,) = fake_github.deliberate
    assert broken["kind"] == kind and broken["problems"]  # it really breaks GitHub's description


def test_wrong_shape_names_the_fields(fake_github, client):
    fake_github.state.add_comment(REPO, PR, "hi")
    fake_github.add_fault("GET /repos/.*/comments", "wrong_shape")
    with pytest.raises(UnexpectedReply) as info:
        list(client.paginate(COMMENTS, item=Comment))
    assert "[0].id: input should be a valid integer, got str" in str(info.value)


def test_a_page_that_is_not_a_list_is_unexpected_reply(fake_github, client):
    fake_github.add_fault("GET /repos/.*/comments", "wrong_shape")  # [] becomes an object
    with pytest.raises(UnexpectedReply, match="expected a list, got dict"):
        list(client.paginate(COMMENTS))


def test_a_body_that_never_ends_is_cut_at_a_size_limit(fake_github, client, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_REPLY_BYTES", 1 << 20)
    fake_github.add_fault("GET /repos/.*/comments", "endless")
    with pytest.raises(UnexpectedReply, match=f"a body of more than {1 << 20} bytes"):
        client.get(COMMENTS)


# --- the token never leaks --------------------------------------------------------


SECRET = "ghs_SuperSecretTokenValue123"


def _all_text(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(vars(exc))
    assert exc.__cause__ is None and exc.__context__ is None  # no hidden requests exception
    return text


def test_token_not_in_repr(make_client):
    client = make_client(SECRET)
    assert SECRET not in repr(client)
    assert SECRET not in repr(client.session)
    assert SECRET not in repr(client.session.auth)
    assert SECRET not in str(client.session.headers)


def test_token_not_in_errors_or_logs(fake_github, make_client, caplog):
    fake_github.add_token(SECRET, read_only=True)
    client = make_client(SECRET, max_retries=1)
    caplog.set_level(logging.DEBUG)
    failures: list[BaseException] = []
    for call in (
        lambda: client.post(COMMENTS, {"body": "hi"}),  # 403
        lambda: client.get(f"/repos/{REPO}/issues/{PR + 1}/comments"),  # 404
    ):
        with pytest.raises(GitHubError) as info:
            call()
        failures.append(info.value)
    fake_github.add_fault("GET /repos/", "drop", times=2)
    with pytest.raises(ConnectionFailed) as info:
        client.get(COMMENTS)
    failures.append(info.value)
    fake_github.add_fault("GET /repos/", "slow", delay=0.5)
    with pytest.raises(ConnectionFailed, match="timed out") as info:
        make_client(SECRET, max_retries=0, timeout=(1, 0.1)).get(COMMENTS)
    failures.append(info.value)
    for exc in failures:
        assert SECRET not in _all_text(exc)
    assert SECRET not in caplog.text


# --- uploads and downloads -------------------------------------------------------


def test_upload_strips_template_and_sends_name_and_type(fake_github, client):
    release = fake_github.state.add_release(REPO, "model-v1", draft=True)
    upload_url = fake_github.state.release_json(release)["upload_url"]
    assert upload_url.endswith("{?name,label}")
    asset = client.upload_asset(upload_url, "metrics.json", b'{"f1": 1}', "application/json")
    assert asset["name"] == "metrics.json" and asset["state"] == "uploaded" and asset["size"] == 9
    (req,) = fake_github.api_requests("POST", "^/uploads/")
    assert req["query"] == {"name": "metrics.json"}
    assert req["content_type"] == "application/json"


def test_download_follows_redirect_without_the_token(fake_github, client, tmp_path):
    release = fake_github.state.add_release(REPO, "model-v1", assets={"model.onnx": b"\x08onnx"})
    asset = fake_github.state.release_json(release)["assets"][0]
    path = client.download(asset["url"], tmp_path / "model.onnx")
    assert path.read_bytes() == b"\x08onnx"
    api, blob = fake_github.api_requests("GET", "/assets/|/_blobs/")
    assert api["status"] == 302 and api["authorization"] is True
    assert blob["status"] == 200 and blob["authorization"] is False  # other host: token dropped
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def _one_asset(fake_github, data: bytes) -> dict:
    release = fake_github.state.add_release(REPO, "model-v1", assets={"model.onnx": data})
    return fake_github.state.release_json(release)["assets"][0]


def test_download_starts_over_when_the_body_breaks_off(fake_github, client, tmp_path, sleeps):
    asset = _one_asset(fake_github, b"\x08onnx" * 1000)
    fake_github.add_fault("GET /repos/.*/releases/assets/", "cut_off")
    path = client.download(
        asset["url"], tmp_path / "model.onnx", size=asset["size"], digest=asset["digest"]
    )
    assert path.read_bytes() == b"\x08onnx" * 1000
    assert sleeps.calls == [0.75]
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("kind", ["html", "wrong_shape", "truncated"])
def test_download_that_is_not_the_listed_asset_is_refused(fake_github, client, tmp_path, kind):
    asset = _one_asset(fake_github, b"\x08onnx" * 1000)
    fake_github.add_fault("GET /repos/.*/releases/assets/", kind)
    with pytest.raises(UnexpectedReply, match="bytes, but the release lists 5000 for model.onnx"):
        client.download(asset["url"], tmp_path / "model.onnx", size=asset["size"])
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_download_checks_the_listed_digest(fake_github, client, tmp_path):
    asset = _one_asset(fake_github, b"\x08onnx" * 1000)
    with pytest.raises(UnexpectedReply, match="sha256 differs"):
        client.download(asset["url"], tmp_path / "m.onnx", digest="sha256:" + "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_suite_does_not_sleep_for_real(fake_github, client):
    fake_github.add_fault("GET /repos/", "secondary_rate_limit", retry_after=30)
    start = time.monotonic()
    client.get(COMMENTS)
    assert time.monotonic() - start < 5


# --- the fake as a separate process (how the act end-to-end test runs it) --------


def test_fake_runs_as_a_process_driven_by_its_control_api(tmp_path, sleeps):
    root = Path(__file__).resolve().parents[2]
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "pulls": [{"repo": "octo/proc", "number": 3, "head_sha": "d" * 40}],
                "tokens": {"ghs_proc": {"login": "github-actions[bot]", "type": "Bot"}},
            }
        )
    )
    port_file, state_file = tmp_path / "port", tmp_path / "state.json"
    command = [sys.executable, "-m", "tests.fake_github", "--port", "0"]
    command += ["--port-file", str(port_file), "--seed", str(seed), "--state-file", str(state_file)]
    proc = subprocess.Popen(command, cwd=root, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120  # a liveness bound: it loads GitHub's API description
        while not port_file.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "fake did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}"
        fault = {"route": "POST /repos/", "kind": "status", "status": 502}
        assert requests.post(f"{url}/_fake/faults", json=fault, timeout=5).status_code == 201

        client = GitHubClient("ghs_proc", base_url=url, sleep=sleeps)
        comments = "/repos/octo/proc/issues/3/comments"
        with pytest.raises(ServerError):
            client.post(comments, {"body": "hi"})
        client.post(comments, {"body": "hi"})

        state = requests.get(f"{url}/_fake/state", timeout=5).json()
        assert [c["body"] for c in state["comments"]] == ["hi"]
        assert json.loads(state_file.read_text())["comments"][0]["body"] == "hi"
        log = requests.get(f"{url}/_fake/requests", timeout=5).json()
        assert [r["status"] for r in log] == [502, 201]
        assert requests.get(f"{url}/_fake/failures", timeout=5).json() == []
        requests.post(f"{url}/_fake/shutdown", timeout=5)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()


def test_fake_records_requests_outside_the_spec(fake_github, client):
    with pytest.raises(NotFound):
        client.get("/repos/octo/ml/no-such-endpoint")
    with pytest.raises(GitHubError):
        client.post(f"/repos/{REPO}/releases", {"tag_name": 1})  # wrong type for GitHub
    kinds = [(f["kind"], f["path"]) for f in fake_github.failures]
    assert kinds == [
        ("request", "/repos/octo/ml/no-such-endpoint"),
        ("request", f"/repos/{REPO}/releases"),
    ]
    assert "PathNotFound" in fake_github.failures[0]["problems"][0]
    assert "is not of type 'string'" in fake_github.failures[1]["problems"][0]
    fake_github.failures.clear()  # seen; the fixture checks that nothing else broke the spec
