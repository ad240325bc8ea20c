"""ci-ml's exceptions, one class per kind of failure, each with its exit code.

    CiMlError                 exit 1   unexpected; the base class
    ├── UsageError            exit 2   bad command line, missing file
    │   ├── ConfigError       exit 2   ci-ml.yaml is wrong (names the key)
    │   └── BaselineError     exit 2   baseline missing a file or fails SHA256SUMS
    ├── DataValidationError   exit 3   the data broke its schema
    ├── GateFailed            exit 4   a quality gate failed
    └── GitHubError           exit 5   GitHub refused or could not be reached
        (subclasses live in ci_ml.github_client)

Every message says what is wrong and how to fix it; the CLI prints it without
a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_GATE = 4
EXIT_GITHUB = 5


class CiMlError(Exception):
    """Base class: an error ci-ml understands and can explain."""

    exit_code = EXIT_UNEXPECTED

    def __init__(self, message: str, *, file: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = file  # for ::error file=...:: annotations
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(CiMlError):
    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """ci-ml.yaml failed validation."""


class BaselineError(UsageError):
    """The baseline artifact is incomplete, tampered with or unreadable."""


class DataValidationError(CiMlError):
    exit_code = EXIT_DATA


class GateFailed(CiMlError):
    exit_code = EXIT_GATE


class GitHubError(CiMlError):
    exit_code = EXIT_GITHUB
