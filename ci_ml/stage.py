"""What a stage is: the declaration each stage module makes of itself, once.

A stage module (ci_ml/stages/<name>.py) ends with `STAGE = Stage(...)`: its
name, the command that runs it alone, the config sections it reads, the files
it writes, whether it uses the baseline, its record, the line it prints, the
error its verdict turns into, its annotations and its sections of the report.
The ordered tuple `ci_ml.stages.STAGES` then drives everything that used to
list the stages by hand: the sealed chain (ci_ml.chain), the pipeline's order,
the CLI's subcommands and their help, clearing outputs, the log groups and the
report's sections.

This module is imported by `ci-ml --help` (the CLI builds its subcommands from
the declarations), so it and the stage modules' top levels import nothing heavy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ci_ml.baseline import Baseline
    from ci_ml.build import Build
    from ci_ml.errors import CiMlError
    from ci_ml.fingerprint import CacheDecision
    from ci_ml.records import StageState


class Console(Protocol):
    """Where the pipeline writes its progress (ci_ml.github.actions.Actions)."""

    def group(self, title: str) -> AbstractContextManager[None]: ...
    def warning(self, message: str, *, file: str | None = None) -> None: ...
    def error(
        self,
        message: str,
        *,
        file: str | None = None,
        title: str | None = None,
        line: int | None = None,
    ) -> None: ...
    def append_summary(self, markdown: str) -> bool: ...
    def info(self, message: str, *, level: int = 0) -> None: ...
    def progress(self, label: str) -> AbstractContextManager[object]: ...
    def set_outputs(self, values: Mapping[str, object]) -> None: ...


@dataclass(frozen=True)
class Options:
    """How the command was asked to run (its flags)."""

    # Reuse the baseline's model when it was made of exactly this build's inputs.
    cache: bool = True
    # A failed gate fails the command (exit 4); off, it is only reported.
    fail_on_regression: bool = True


@dataclass
class StageRun:
    """What a stage's `run` is handed: the build (with what earlier stages of this
    process produced, `build.result(name)`), the baseline (resolved and verified
    once, by the CLI), the command's options, and the state the protocol records
    for the stage now running."""

    build: Build
    baseline: Baseline | None = None
    options: Options = field(default_factory=Options)
    state: StageState | None = None
    _decision: CacheDecision | None = field(default=None, repr=False)

    def cache_decision(self) -> CacheDecision:
        """Reuse the baseline's model? Only when its fingerprint is this build's
        (decided once: train and export both ask)."""
        if self._decision is None:
            from ci_ml.fingerprint import CacheDecision, decide  # not at import: --help stays light

            fp = self.build.fingerprint
            if fp is None:  # pragma: no cover - validate always records the schema
                self._decision = CacheDecision(False, "no fingerprint")
            else:
                manifest = self.baseline.manifest if self.baseline is not None else None
                decision = decide(fp, manifest, self.options.cache)
                problem = (
                    self.baseline.model_problem() if decision.reuse and self.baseline else None
                )
                if problem is not None:  # a model that is not what it claims: train instead
                    decision = CacheDecision(
                        False, f"the baseline's model.onnx cannot be reused: {problem}", True
                    )
                self._decision = decision
        return self._decision


@dataclass(frozen=True)
class Section:
    """A part of report.md: a template (a file of ci_ml/report/templates, or the
    text itself for a stage that ships its own) and where it stands in the report,
    lower first. The template sees the report's context, each stage's result in
    `results[<stage name>]` among it."""

    order: int
    template: str | None = None
    source: str | None = None


def _no_error(r: StageRun, result: Any) -> CiMlError | None:
    return None


def _no_annotations(result: Any, console: Console) -> None:
    return None


@dataclass(frozen=True)
class Stage:
    """One stage of the build, declared once in its module."""

    name: str  # its key in the chain, the timings and the report's `results`
    command: str  # `ci-ml <command>` runs it alone
    help: str  # one line, for `ci-ml --help`
    run: Callable[[StageRun], Any]  # does the work, returns the stage's result
    summary: Callable[[Any], str]  # the line printed when it completes
    reads: tuple[str, ...] = ()  # config sections whose change makes its output stale
    writes: tuple[str, ...] = ()  # its files, relative to the artifact folder
    # Its result as a record: the class (or its name in ci_ml.records, which keeps
    # this module light) and the file it is written to (relative to the artifact
    # folder); None for a result not kept.
    record: str | type | None = None
    record_file: str | None = None
    uses_baseline: bool = False  # takes --baseline when run alone
    # Runs even when an earlier stage failed (the report: a failed build still says why).
    always: bool = False
    # The one failure policy: `run` returns a result (raising only when it has
    # nothing to record); the record is written; then `stop` may turn the result
    # into an error that stops the build here (broken data, a failed parity check),
    # leaving the stage unsealed; `verdict`, into the error the command exits with
    # once the report is written (failed gates, failed model tests). `exit_code`:
    # the code those errors have, for the CLI's help.
    stop: Callable[[StageRun, Any], CiMlError | None] = _no_error
    verdict: Callable[[StageRun, Any], CiMlError | None] = _no_error
    exit_code: int | None = None
    # Checked before training (by train), so a config that cannot apply to this
    # data fails before the fit, not after it.
    preflight: Callable[[StageRun], None] | None = None
    # Findings that also become annotations on the pull request in Actions.
    annotate: Callable[[Any, Console], None] = _no_annotations
    sections: tuple[Section, ...] = ()
    # Extra command-line options when it runs alone, beyond --config/--out/--baseline.
    arguments: Callable[[Any], None] | None = None

    @property
    def outputs(self) -> tuple[str, ...]:
        """Every file the stage writes, its record's included."""
        extra = (
            (self.record_file,) if self.record_file and self.record_file not in self.writes else ()
        )
        return (*self.writes, *extra)
