"""GitHub Actions workflow commands: log groups, annotations, outputs, job summary.

Outside Actions (no GITHUB_ACTIONS=true) everything here degrades to plain
console output, so the CLI behaves the same on a laptop.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path


def in_actions(env: Mapping[str, str] | None = None) -> bool:
    return (env if env is not None else os.environ).get("GITHUB_ACTIONS") == "true"


def _escape_data(s: str) -> str:
    # https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def annotation(
    kind: str, message: str, *, file: str | None = None, title: str | None = None
) -> str:
    """The text of an ::error/::warning/::notice command."""
    props = []
    if file:
        props.append(f"file={_escape_property(file)}")
    if title:
        props.append(f"title={_escape_property(title)}")
    sep = " " + ",".join(props) if props else ""
    return f"::{kind}{sep}::{_escape_data(message)}"


def error(message: str, *, file: str | None = None, title: str | None = None) -> None:
    if in_actions():
        print(annotation("error", message, file=file, title=title), file=sys.stderr, flush=True)
    else:
        print(f"error: {message}", file=sys.stderr, flush=True)


def warning(message: str, *, file: str | None = None) -> None:
    if in_actions():
        print(annotation("warning", message, file=file), file=sys.stderr, flush=True)
    else:
        print(f"warning: {message}", file=sys.stderr, flush=True)


def notice(message: str) -> None:
    if in_actions():
        print(annotation("notice", message), file=sys.stderr, flush=True)
    else:
        print(f"notice: {message}", file=sys.stderr, flush=True)


def mask(secret: str) -> None:
    """Ask the runner to redact a secret from every later log line."""
    if secret and in_actions():
        print(f"::add-mask::{_escape_data(secret)}", flush=True)


@contextlib.contextmanager
def group(title: str) -> Iterator[None]:
    """A collapsible log group in Actions, a header line elsewhere."""
    if in_actions():
        print(f"::group::{_escape_data(title)}", flush=True)
        try:
            yield
        finally:
            print("::endgroup::", flush=True)
    else:
        print(f"── {title}", file=sys.stderr, flush=True)
        yield


def set_outputs(values: Mapping[str, object], env: Mapping[str, str] | None = None) -> None:
    """Append step outputs to $GITHUB_OUTPUT (multi-line safe); no-op outside Actions."""
    path = (env if env is not None else os.environ).get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:
        for key, value in values.items():
            text = "" if value is None else str(value)
            if "\n" in text:
                delim = f"ghadelim_{uuid.uuid4().hex}"
                fh.write(f"{key}<<{delim}\n{text}\n{delim}\n")
            else:
                fh.write(f"{key}={text}\n")


def append_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append to $GITHUB_STEP_SUMMARY; returns whether there was one."""
    path = (env if env is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(markdown.rstrip("\n") + "\n\n")
    return True


def summary_path(env: Mapping[str, str] | None = None) -> Path | None:
    p = (env if env is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    return Path(p) if p else None
