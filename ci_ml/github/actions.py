"""GitHub Actions workflow commands: log groups, annotations, outputs, job summary.

`Actions` is built once by the CLI from the environment. Outside Actions (no
GITHUB_ACTIONS=true) everything degrades to plain console output, so the CLI
behaves the same on a laptop.
"""

from __future__ import annotations

import contextlib
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from ci_ml.progress import Ticker


def _escape_data(s: str) -> str:
    # https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def annotation(
    kind: str,
    message: str,
    *,
    file: str | None = None,
    title: str | None = None,
    line: int | None = None,
) -> str:
    """The text of an ::error/::warning/::notice command."""
    props = []
    if file:
        props.append(f"file={_escape_property(file)}")
        if line is not None:
            props.append(f"line={line}")
    if title:
        props.append(f"title={_escape_property(title)}")
    sep = " " + ",".join(props) if props else ""
    return f"::{kind}{sep}::{_escape_data(message)}"


def outcome_summary(command: str, code: int, error: str | None) -> str:
    """A job-summary entry for a command that wrote none of its own. The error's
    text quotes the data and the config, so it goes in a code fence longer than
    any run of backticks in it: nothing in it renders as markdown."""
    if error is None:
        return f"**{command}**: done (exit {code})"
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", error)), default=0))
    return f"**{command}** failed (exit {code}):\n\n{fence}text\n{error}\n{fence}"


class Actions:
    """Workflow commands for the run described by `env` (a copy of the environment)."""

    def __init__(self, env: Mapping[str, str] | None = None, verbosity: int = 0):
        env = env or {}
        self.enabled = env.get("GITHUB_ACTIONS") == "true"
        # -q (-1): warnings, errors and the output asked for only; -v (1): more.
        self.verbosity = verbosity
        self.output_path = env.get("GITHUB_OUTPUT") or None
        self.summary_path = env.get("GITHUB_STEP_SUMMARY") or None
        self.workspace = env.get("GITHUB_WORKSPACE") or None

    def _where(self, file: str | None) -> str | None:
        """An annotation's file as GitHub links it: relative to the repository root."""
        if not file:
            return None
        path = Path(file).absolute()
        root = Path(self.workspace).absolute() if self.workspace else Path.cwd()
        try:
            return path.relative_to(root).as_posix()
        except ValueError:  # outside the checkout: the path as given is all there is
            return file

    def _annotate(
        self, kind: str, message: str, file: str | None, title: str | None, line: int | None
    ) -> None:
        text = None
        if self.enabled:
            text = annotation(kind, message, file=self._where(file), title=title, line=line)
        print(text or f"{kind}: {message}", file=sys.stderr, flush=True)

    def error(
        self,
        message: str,
        *,
        file: str | None = None,
        title: str | None = None,
        line: int | None = None,
    ) -> None:
        self._annotate("error", message, file, title, line)

    def warning(self, message: str, *, file: str | None = None) -> None:
        self._annotate("warning", message, file, None, None)

    def notice(self, message: str) -> None:
        self._annotate("notice", message, None, None, None)

    def mask(self, secret: str) -> None:
        """Ask the runner to redact a secret from every later log line."""
        if secret and self.enabled:
            print(f"::add-mask::{_escape_data(secret)}", flush=True)

    def info(self, message: str, *, level: int = 0) -> None:
        """A progress line on stdout, shown at verbosity `level` and above (-q hides
        the usual ones, -v shows level 1)."""
        if self.verbosity >= level:
            print(message, flush=True)

    def progress(self, label: str) -> contextlib.AbstractContextManager[object]:
        """While the block runs, say that `label` still is (nothing under -q)."""
        if self.verbosity < 0:
            return contextlib.nullcontext()
        # A terminal gets one line redrawn; a CI log or a pipe plain lines.
        tty = not self.enabled and sys.stderr.isatty()
        return Ticker(label, sys.stderr, tty=tty)

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        """A collapsible log group in Actions, a header line elsewhere (none under -q)."""
        if not self.enabled and self.verbosity < 0:
            yield
            return
        if not self.enabled:
            print(f"── {title}", file=sys.stderr, flush=True)
            yield
            return
        print(f"::group::{_escape_data(title)}", flush=True)
        try:
            yield
        finally:
            print("::endgroup::", flush=True)

    def set_outputs(self, values: Mapping[str, object]) -> None:
        """Append step outputs to $GITHUB_OUTPUT (multi-line safe); no-op outside Actions."""
        if not self.output_path:
            return
        with open(self.output_path, "a", encoding="utf-8") as fh:
            for key, value in values.items():
                text = "" if value is None else str(value)
                if "\n" in text:
                    delim = f"ghadelim_{uuid.uuid4().hex}"
                    fh.write(f"{key}<<{delim}\n{text}\n{delim}\n")
                else:
                    fh.write(f"{key}={text}\n")

    def append_summary(self, markdown: str) -> bool:
        """Append to $GITHUB_STEP_SUMMARY; returns whether there was one."""
        if not self.summary_path:
            return False
        with open(self.summary_path, "a", encoding="utf-8") as fh:
            fh.write(markdown.rstrip("\n") + "\n\n")
        return True
