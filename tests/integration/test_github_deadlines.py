"""Network waits are bounded and announced: local servers on 127.0.0.1 that never
answer, that drip, or that ask for long rate-limit waits, against tiny deadlines.

Elapsed time appears only as an upper bound (the deadline plus slack): without
deadlines these requests would never end. Speed is measured in benchmarks/.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_ml.errors import EXIT_GITHUB, ConnectionFailed, DeadlineExceeded
from ci_ml.github.client import GitHubClient
from ci_ml.github.waits import Wait
from tests.conftest import run_cli
from tests.fake_github import DEFAULT_TOKEN
from tests.integration.conftest import REPO

DEADLINE = 1.5
SLACK = 2.0  # in-process: the watchdog's reaction and a loaded machine
# A subprocess also starts Python and imports ci-ml before its deadline starts.
CLI_SLACK = 10.0
RELEASES = f"/repos/{REPO}/releases"
STATUS_HEAD = b"HTTP/1.1 200 OK\r\nX-Drip: "  # a header line that never ends
BODY_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Content-Length: 1000000\r\n\r\n"
)


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """Listens and never accepts: the kernel completes the handshake and takes the
    request, nobody ever answers (the 161-second hang of the issue)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


class DrippingServer:
    """Answers every request with ``head``, then one byte every ``pause`` s, forever."""

    def __init__(self, head: bytes, pause: float = 0.2):
        self.head, self.pause = head, pause
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> DrippingServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(None)
            conn.recv(65536)
            conn.sendall(self.head)
            while not self._stop.wait(self.pause):
                conn.sendall(b" ")


@contextlib.contextmanager
def server(kind: str) -> Iterator[str]:
    if kind == "never answers":
        with silent_server() as url:
            yield url
    else:
        with DrippingServer(STATUS_HEAD if kind == "drips headers" else BODY_HEAD) as s:
            yield s.url


KINDS = ["never answers", "drips headers", "drips body"]


# --- the client -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_request_ends_at_the_deadline_says_so_and_announced_the_wait(kind):
    waits: list[Wait] = []
    with server(kind) as url:
        client = GitHubClient(
            DEFAULT_TOKEN,
            base_url=url,
            deadline=DEADLINE,
            deadline_hint="raise it with --network-timeout",
            on_wait=waits.append,
        )
        start = time.monotonic()
        with pytest.raises(DeadlineExceeded) as info:
            client.get(RELEASES)
        elapsed = time.monotonic() - start
    assert elapsed < DEADLINE + SLACK
    err = info.value
    assert isinstance(err, ConnectionFailed) and err.exit_code == EXIT_GITHUB
    assert f"GET {url}{RELEASES}: timed out" in str(err)
    assert "network deadline of 1.5 s for this command has passed" in str(err)
    assert "--network-timeout" in str(err)
    (wait,) = waits  # announced before it was cut off
    assert wait.open_ended and wait.seconds <= DEADLINE
    assert re.fullmatch(
        r"waiting up to 1 s for a complete reply \(none after 1 s\), "
        rf"until \d\d:\d\d:\d\d UTC \(GET {RELEASES}\)",
        str(wait),
    )


def test_each_try_has_its_own_deadline_and_a_get_is_tried_again(sleeps):
    with DrippingServer(BODY_HEAD) as s:
        client = GitHubClient(
            DEFAULT_TOKEN,
            base_url=s.url,
            request_deadline=0.5,
            max_retries=1,
            sleep=sleeps,
            rand=lambda: 0.5,
            monotonic=sleeps.monotonic,
        )
        with pytest.raises(ConnectionFailed) as info:
            client.get(RELEASES)
    assert type(info.value) is ConnectionFailed  # a try's deadline, not the command's
    assert "no complete reply within 0.5 s) after 2 attempts" in str(info.value)
    assert s.connections == 2 and sleeps.calls == [0.75]


def test_a_post_cut_at_its_deadline_is_not_sent_again():
    with DrippingServer(BODY_HEAD) as s:
        client = GitHubClient(DEFAULT_TOKEN, base_url=s.url, request_deadline=0.5)
        with pytest.raises(ConnectionFailed, match="no complete reply within 0.5 s"):
            client.post(RELEASES, {"tag_name": "v1"})
    assert s.connections == 1


def test_concurrent_requests_are_cut_at_their_own_deadlines(fake_github, client):
    """One watchdog serves every thread: each try is cut at its own deadline, and a
    healthy request running meanwhile is untouched (the suite publishes concurrently)."""
    deadlines = [0.5, 1.0, 1.5, 2.0]
    ended: dict[float, float] = {}
    with DrippingServer(BODY_HEAD) as s:

        def run(deadline: float) -> None:
            start = time.monotonic()
            stuck = GitHubClient(DEFAULT_TOKEN, base_url=s.url, deadline=deadline)
            with contextlib.suppress(DeadlineExceeded):
                stuck.get(RELEASES)
                return
            ended[deadline] = time.monotonic() - start

        threads = [threading.Thread(target=run, args=(d,)) for d in deadlines]
        for t in threads:
            t.start()
        healthy = 0
        while any(t.is_alive() for t in threads):
            assert client.get(f"/repos/{REPO}/pulls/7")["number"] == 7
            healthy += 1
        for t in threads:
            t.join()
    assert sorted(ended) == deadlines and healthy > 0
    for deadline, elapsed in ended.items():
        assert deadline <= elapsed < deadline + SLACK  # its own deadline, no one else's


# --- the CLI ----------------------------------------------------------------------


def cli_env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "GITHUB_API_URL": url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": DEFAULT_TOKEN,
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        **extra,
    }


@pytest.fixture
def config(example_copy) -> str:
    return str(example_copy("regression") / "ci-ml.yaml")


def timed(*args: str, env: dict[str, str]) -> tuple[object, float]:
    start = time.monotonic()
    r = run_cli(*args, env=env, timeout=120)
    return r, time.monotonic() - start


@pytest.mark.parametrize(
    ("kind", "command"),
    [
        ("never answers", ["promote", "--tag", "model-v1"]),
        ("drips headers", ["baseline", "fetch"]),
        ("drips body", ["run", "--baseline", "release"]),
    ],
)
def test_cli_gives_up_at_its_network_timeout_and_announces_the_wait(
    kind, command, config, tmp_path
):
    with server(kind) as url:
        r, elapsed = timed(
            *command,
            "--config",
            config,
            "--out",
            str(tmp_path / "out"),
            "--network-timeout",
            str(DEADLINE),
            env=cli_env(url, tmp_path),
        )
    assert r.returncode == EXIT_GITHUB, r.stderr
    assert "Traceback" not in r.stderr
    assert "timed out" in r.stderr and "network deadline of 1.5 s" in r.stderr
    assert "raise it with --network-timeout SECONDS or CI_ML_NETWORK_TIMEOUT" in r.stderr
    assert "notice: waiting up to 1 s for a complete reply" in r.stderr
    assert elapsed < DEADLINE + CLI_SLACK


def test_cli_network_timeout_from_the_environment(config, tmp_path):
    with silent_server() as url:
        env = cli_env(url, tmp_path, CI_ML_NETWORK_TIMEOUT="1")
        r, elapsed = timed("promote", "--config", config, "--tag", "model-v1", env=env)
    assert r.returncode == EXIT_GITHUB and "network deadline of 1 s" in r.stderr
    assert elapsed < 1 + CLI_SLACK


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan"])
def test_cli_refuses_a_network_timeout_that_is_no_duration(value, config, tmp_path):
    env = cli_env("http://127.0.0.1:9", tmp_path, CI_ML_NETWORK_TIMEOUT=value)
    r = run_cli("promote", "--config", config, "--tag", "model-v1", env=env)
    assert r.returncode == 2 and "CI_ML_NETWORK_TIMEOUT" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("promote", "--config", config, "--tag", "v1", "--network-timeout", value, env=env)
    assert r.returncode == 2 and "not a positive number of seconds" in r.stderr


def test_cli_refuses_a_rate_limit_wait_longer_than_its_deadline(fake_github, config, tmp_path):
    fake_github.add_fault("", "secondary_rate_limit", times=10, retry_after=3600)
    r, elapsed = timed(
        "promote",
        "--config",
        config,
        "--tag",
        "model-v1",
        "--network-timeout",
        "2",
        env=cli_env(fake_github.url, tmp_path),
    )
    assert r.returncode == EXIT_GITHUB and "Traceback" not in r.stderr
    assert "rate limit; retry in 3600 s" in r.stderr
    assert "after the network deadline of 2 s for this command" in r.stderr
    assert "--network-timeout" in r.stderr
    assert elapsed < 2 + CLI_SLACK  # refused at once: waiting could not help
    assert len(fake_github.requests) == 1


def test_cli_announces_a_rate_limit_wait_then_carries_on(fake_github, config, tmp_path):
    fake_github.state.add_release(REPO, "model-v1")
    fake_github.state.add_release(REPO, "model-v2")
    fake_github.add_fault("GET /repos/.*/releases/tags/", "secondary_rate_limit", retry_after=2)
    r = run_cli(
        "promote",
        "--config",
        config,
        "--tag",
        "model-v1",
        env=cli_env(fake_github.url, tmp_path),
    )
    assert r.returncode == 0, r.stderr
    assert re.search(
        r"notice: waiting 2 s for GitHub's rate limit to reset, until \d\d:\d\d:\d\d UTC "
        rf"\(GET {RELEASES}/tags/model-v1\)",
        r.stderr,
    )
    assert fake_github.state.latest_release(REPO).tag_name == "model-v1"


def test_a_restarted_watchdog_ends_the_old_thread_and_still_cuts_a_deadline() -> None:
    """`restart` (for a tracer started again: tests/conftest.py) puts a new thread in
    place of the old one, which ends, and the new one keeps every deadline."""
    from ci_ml.github.waits import Timekeeper
    from ci_ml.github.watchdog import WATCHDOG, Attempt

    class Connecting:  # a connection still connecting: no socket yet
        sock = None
        owner = None

    with Attempt(Timekeeper(), "GET", "http://127.0.0.1:9/repos/o/r", 5.0) as a:
        old = WATCHDOG.thread
        WATCHDOG.restart()
        assert WATCHDOG.thread is not None and WATCHDOG.thread is not old
        if old is not None:
            old.join(timeout=5)
            assert not old.is_alive()
        WATCHDOG.arm(a, Connecting(), 0.01, "try")  # type: ignore[arg-type]
        deadline = time.monotonic() + 5
        while a.cut is None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert a.cut == "try"
