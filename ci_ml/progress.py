"""Progress for long steps: say what is running and for how long, and at the end
what each stage took.

A stage that trains for a minute used to leave the log silent. `Ticker` keeps
it talking while a step runs: on a terminal one line redrawn in place with the
elapsed time; in a CI log or a pipe, a plain line every so often (a redrawn
line would be a wall of carriage returns there). Standard library only: it
runs inside every build, and `ci-ml --help` imports the pipeline's neighbours.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TextIO

# How often a terminal's line is redrawn, and how often a log gets a line.
TTY_EVERY = 1.0
LOG_EVERY = 15.0


def seconds(value: float) -> str:
    """Elapsed time as a person reads it: 0.4 s, 12 s, 3 min 05 s."""
    if value < 10:
        return f"{value:.1f} s"
    if value < 60:
        return f"{value:.0f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"


def times_line(times: Mapping[str, float]) -> str:
    """One line of per-stage times and their total, in the order they ran."""
    parts = [f"{name} {seconds(s)}" for name, s in times.items()]
    return f"times: {', '.join(parts)}; total {seconds(sum(times.values()))}"


class Ticker:
    """While the `with` block runs, say that `label` still is, every `every`
    seconds (a plain line), or on a terminal (`tty`) by redrawing one line."""

    def __init__(
        self,
        label: str,
        stream: TextIO,
        *,
        tty: bool,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream
        self.tty = tty
        self.every = every if every is not None else (TTY_EVERY if tty else LOG_EVERY)
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False

    def line(self, elapsed: float) -> str:
        return f"{self.label}: running for {seconds(elapsed)}"

    def _run(self, started: float) -> None:
        while not self._stop.wait(self.every):
            text = self.line(self.clock() - started)
            try:
                if self.tty:
                    self.stream.write(f"\r{text}\x1b[K")
                    self._drawn = True
                else:
                    self.stream.write(f"{text}\n")
                self.stream.flush()
            except (OSError, ValueError):  # the stream went away: stop talking, never fail
                return

    def __enter__(self) -> Ticker:
        self._thread = threading.Thread(
            target=self._run, args=(self.clock(),), name=f"ticker {self.label}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._drawn:  # leave the terminal's line clean for what comes next
            try:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
            except (OSError, ValueError):
                pass
