"""Progress lines: what a long stage says while it runs, and the times at the end."""

import io
import threading

from ci_ml import progress


class Stream(io.StringIO):
    """A stream that signals each write (a test waits for one, it never sleeps)."""

    def __init__(self) -> None:
        super().__init__()
        self.wrote = threading.Event()

    def write(self, s: str) -> int:
        n = super().write(s)
        self.wrote.set()
        return n


def test_a_log_gets_plain_lines_while_the_step_runs() -> None:
    stream = Stream()
    clock = iter(range(0, 10_000, 20)).__next__  # 20 s per call of the clock
    with progress.Ticker("ci-ml train", stream, tty=False, every=0.001, clock=clock):
        assert stream.wrote.wait(60)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "ci-ml train: running for 20 s"
    assert "\r" not in stream.getvalue()


def test_a_terminal_gets_one_line_redrawn_and_cleared() -> None:
    stream = Stream()
    with progress.Ticker("ci-ml compare", stream, tty=True, every=0.001):
        assert stream.wrote.wait(60)
    text = stream.getvalue()
    assert text.startswith("\rci-ml compare: running for ") and "\n" not in text
    assert text.endswith("\r\x1b[K")


def test_times() -> None:
    assert progress.seconds(0.43) == "0.4 s"
    assert progress.seconds(36.2) == "36 s"
    assert progress.seconds(185) == "3 min 05 s"
    line = progress.times_line({"validate": 0.4, "train": 36.0})
    assert line == "times: validate 0.4 s, train 36 s; total 36 s"
