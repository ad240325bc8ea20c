"""Every exception ci-ml raises on purpose, one class per kind of failure, each
with its exit code:

    CiMlError                   exit 1   unexpected; the base class
    ├── UsageError              exit 2   bad command line, missing file
    │   ├── ConfigError         exit 2   ci-ml.yaml is wrong (names the key)
    │   ├── BaselineError       exit 2   baseline missing a file or fails SHA256SUMS
    │   ├── ModelFileError      exit 2   an ONNX file that is no model, or reads other files
    │   └── ExportError         exit 2   the model cannot be exported to ONNX
    ├── DataValidationError     exit 3   the data broke its schema
    ├── GateFailed              exit 4   a quality gate failed
    │   └── ParityError         exit 4   the ONNX export predicts differently
    ├── SafeguardFailed         exit 6   a data safeguard found an error (leakage, …)
    ├── ModelTestFailed         exit 7   a model test failed (a slice gate, golden rows,
    │                                    invariance, directional, calibration, a budget,
    │                                    or a test of the project's pytest suite)
    ├── NotReproduced           exit 8   `ci-ml reproduce`: the rebuild differs from the record
    ├── SignatureError          exit 9   a signature does not verify, or a required one is missing
    ├── DriftDetected           exit 10  `ci-ml drift`: the current data moved from the reference
    └── GitHubError             exit 5   GitHub refused or could not be reached
        ├── ConnectionFailed             could not reach GitHub (after retries)
        │   └── DeadlineExceeded         no complete reply before the network deadline
        ├── UnexpectedReply              2xx, but not JSON or not the fields ci-ml reads
        └── GitHubAPIError               GitHub answered with an error status
            ├── Unauthorized             401: bad or expired token
            ├── PermissionDenied         403: token lacks a permission (fork PRs)
            ├── RateLimited              403/429: reset too far away to wait
            ├── NotFound                 404
            ├── ValidationFailed         422: carries GitHub's ``errors`` list
            └── ServerError              5xx after retries

Every message says what is wrong and how to fix it; the CLI prints it without
a traceback. GitHub errors never carry the token.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_GATE = 4
EXIT_GITHUB = 5
EXIT_SAFEGUARD = 6
EXIT_MODEL_TEST = 7
EXIT_NOT_REPRODUCED = 8
EXIT_SIGNATURE = 9
EXIT_DRIFT = 10
# Not an error class: the reader of ci-ml's output went away (`| head -1`), so it
# stopped writing, quietly. 128 + SIGPIPE, what a shell reports for a command a
# closed pipe killed, so `set -o pipefail` still sees that it did not finish.
EXIT_OUTPUT_CLOSED = 141

# What each exit code means, for `--help` and the docs (docs/reference/exit-codes.md
# is generated from it): one entry per code, continuation lines indented.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_UNEXPECTED: "unexpected error (a bug: please report it with the traceback)",
    EXIT_USAGE: "usage or config error, missing file, a baseline that fails its checks,\n"
    "a folder ci-ml does not own, a stale or incomplete build",
    EXIT_DATA: "the data broke its schema (see validation.json) or cannot be read or predicted",
    EXIT_GATE: "a quality gate failed (see comparison.json) or the ONNX export's parity check",
    EXIT_GITHUB: "GitHub refused a request, could not be reached in time, or sent garbage",
    EXIT_SAFEGUARD: "a data safeguard found an error (see safeguards.json)",
    EXIT_MODEL_TEST: "a model test failed (see model-tests.json): a slice gate, golden rows,\n"
    "invariance, directional, calibration, a budget, or a test of the pytest suite",
    EXIT_NOT_REPRODUCED: "`ci-ml reproduce`: the rebuild does not match the record",
    EXIT_SIGNATURE: "a signature does not verify (or a required one is missing)",
    EXIT_DRIFT: "`ci-ml drift`: the current data (or the model's predictions or metrics on it)\n"
    "moved from the reference (see drift.json and drift.md)",
    EXIT_OUTPUT_CLOSED: "the output was closed before ci-ml finished writing it (e.g. `| head`):\n"
    "it stopped there, quietly",
}


def exit_codes_help() -> str:
    """The `exit codes:` epilog of every command's --help."""
    lines = ["exit codes:"]
    for code, text in EXIT_CODES.items():
        first, *rest = text.split("\n")
        lines.append(f"  {code:>3}  {first}")
        lines += [f"       {more}" for more in rest]
    return "\n".join(lines) + "\n"


class CiMlError(Exception):
    """Base class: an error ci-ml understands and can explain."""

    exit_code = EXIT_UNEXPECTED

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        hint: str | None = None,
        line: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.file = file  # for ::error file=...,line=...:: annotations
        self.line = line
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class UsageError(CiMlError):
    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """ci-ml.yaml failed validation."""


class BaselineError(UsageError):
    """The baseline artifact is incomplete, tampered with or unreadable."""


class ModelFileError(UsageError):
    """An ONNX file ci-ml will not load: not an ONNX model at all, or one whose
    tensors point at files outside it (external data can name any path)."""


class ExportError(UsageError):
    """The model cannot be exported faithfully (the config must change)."""


class DataValidationError(CiMlError):
    exit_code = EXIT_DATA


class GateFailed(CiMlError):
    exit_code = EXIT_GATE


class ParityError(GateFailed):
    """The export predicts differently from the trained model: a failed quality gate."""


class GitHubError(CiMlError):
    exit_code = EXIT_GITHUB


class SafeguardFailed(CiMlError):
    """A data safeguard (leakage, contamination, personal data, …) found an error."""

    exit_code = EXIT_SAFEGUARD


class ModelTestFailed(CiMlError):
    """A model test failed; raised after model-tests.json and the report are written."""

    exit_code = EXIT_MODEL_TEST


class NotReproduced(CiMlError):
    """A rebuild from the record did not give the recorded model or metrics."""

    exit_code = EXIT_NOT_REPRODUCED


class SignatureError(CiMlError):
    """A model's signature does not verify, or a required signature is missing."""

    exit_code = EXIT_SIGNATURE


class DriftDetected(CiMlError):
    """`ci-ml drift` found drift; raised after drift.json and drift.md are written."""

    exit_code = EXIT_DRIFT


class ConnectionFailed(GitHubError):
    """GitHub could not be reached (DNS, refused, reset, timeout), even after retries."""

    def __init__(self, message: str, *, method: str = "", url: str = "", hint: str | None = None):
        super().__init__(message, hint=hint)
        self.method = method
        self.url = url
        # Same attributes as GitHubAPIError, so callers can log any GitHubError alike.
        self.status: int | None = None
        self.github_message: str | None = None
        self.documentation_url: str | None = None


class DeadlineExceeded(ConnectionFailed):
    """The command's network deadline passed (a server that never answers, or drips)."""


class UnexpectedReply(GitHubError):
    """A success status with a body ci-ml cannot use: HTML, cut-off JSON, another shape."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        status: int | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, hint=hint)
        self.method = method
        self.url = url
        self.status = status
        self.github_message: str | None = None
        self.documentation_url: str | None = None


class GitHubAPIError(GitHubError):
    """GitHub answered with an error status; carries GitHub's own explanation."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str = "",
        url: str = "",
        github_message: str | None = None,
        documentation_url: str | None = None,
        errors: list[object] | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, hint=hint)
        self.status = status
        self.method = method
        self.url = url
        self.github_message = github_message
        self.documentation_url = documentation_url
        self.errors = errors or []


class Unauthorized(GitHubAPIError):
    pass


class PermissionDenied(GitHubAPIError):
    pass


class NotFound(GitHubAPIError):
    pass


class ValidationFailed(GitHubAPIError):
    def has_code(self, code: str) -> bool:
        """True if any of GitHub's ``errors`` has this code (e.g. ``already_exists``)."""
        return any(e.get("code") == code for e in self.errors if isinstance(e, dict))


class RateLimited(GitHubAPIError):
    def __init__(
        self,
        message: str,
        *,
        wait_seconds: float | None = None,
        status: int,
        method: str = "",
        url: str = "",
        github_message: str | None = None,
        documentation_url: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(
            message,
            status=status,
            method=method,
            url=url,
            github_message=github_message,
            documentation_url=documentation_url,
            hint=hint,
        )
        self.wait_seconds = wait_seconds


class ServerError(GitHubAPIError):
    pass
