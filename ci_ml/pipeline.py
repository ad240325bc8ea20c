"""The pipeline: each stage in order, each in a log group, through one protocol.

    validate ──► safeguards ──► train ──► export ──► evaluate ──► compare ──► model tests ──► report

`run_stage` is the protocol every stage goes through, alone or in `ci-ml run`:
begin, time, run, write its record, annotate, stop the build if its result says
so, seal (ci_ml.build.Build.stage). `run` runs the chain's stages from a clean
folder; when one fails, the stages that always run (the report) still do, so a
failed build still says why, and the original error is what the user sees.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ci_ml import manifest, progress
from ci_ml.stage import StageRun

if TYPE_CHECKING:
    from ci_ml.baseline import Baseline
    from ci_ml.build import Build
    from ci_ml.errors import CiMlError
    from ci_ml.stage import Console, Options, Stage, StageRun


@contextlib.contextmanager
def session(b: Build, create: bool = True) -> Iterator[Build]:
    """The build folder, claimed and locked for one command; on the way out the
    manifest is written if a stage ran since it last was (a failed one included),
    so the manifest is written once per command."""

    with b.open(create):
        try:
            yield b
        finally:
            try:
                if b.manifest_due and b.data_loaded:
                    with contextlib.suppress(Exception):  # never hide the command's own error
                        manifest.write(b)
            finally:
                b.close_engine()


def run_stage(stage: Stage, r: StageRun, console: Console) -> Any:
    """One stage through the protocol; prints its summary line when it completes."""
    b = r.build
    with console.group(f"ci-ml {stage.command}"), b.stage(stage.name) as state:
        r.state = state
        if stage.uses_baseline and r.baseline is not None:
            state.baseline = str(r.baseline.directory)
        console.info(f"started {time.strftime('%H:%M:%S')}", level=1)
        with console.progress(f"ci-ml {stage.command}"):
            result = stage.run(r)
        if stage.record_file and result is not None:
            b.write_record(stage.record_file, result)
        b.results[stage.name] = result
        stage.annotate(result, console)
        error = stage.stop(r, result)
        if error is not None:
            raise error
    took = b.timings_done.get(stage.name)
    console.info(stage.summary(result) + (f" ({progress.seconds(took)})" if took else ""))
    return result


def run(b: Build, baseline: Baseline | None, console: Console, options: Options) -> dict[str, Any]:
    """Every stage in order, from a clean build folder; their results by name."""

    b.clear_all()
    r = StageRun(b, baseline, options)
    failure: BaseException | None = None
    for stage in b.chain.stages:
        if failure is not None and not stage.always:
            continue
        try:
            run_stage(stage, r, console)
        except Exception as e:  # an interrupt is not caught: it stops the build now
            # After a failure the rest is best effort: the original error is what counts.
            failure = failure or e
    times = {b.chain.get(n).command: s for n, s in b.timings_done.items()}
    console.info(progress.times_line(times))
    if failure is not None:
        raise failure
    return dict(b.results)


def verdict(b: Build, options: Options, baseline: Baseline | None) -> CiMlError | None:
    """The error the command exits with once everything is written: the first
    stage (in order) whose result says so (failed gates, then failed model tests)."""

    r = StageRun(b, baseline, options)
    for stage in b.chain.stages:
        result = b.results.get(stage.name)
        if result is not None and (error := stage.verdict(r, result)) is not None:
            return error
    return None
