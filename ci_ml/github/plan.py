"""What should this run do? The action's branching, as one pure function.

`plan()` takes the event and the action's inputs and returns which stages to
run; it does no I/O, so every case is a row in tests/unit/test_plan.py.
`ci-ml plan` (ci_ml.cli.github) calls it and writes each field to
$GITHUB_OUTPUT for the `if:` of the action's steps.

    mode=auto   pull_request                 -> pr
                push to the default branch   -> release
                workflow_dispatch / schedule -> build (publishes only with publish=true
                                                on the default branch)
                anything else                -> build
    pr          build (`ci-ml run`: validate ... report), comment
    release     build, publish
    build       build
    validate    validate only
    comment     post a comment an earlier run saved in .ci-ml/comment/ (the second
                half of the fork pattern: a workflow_run job that runs no PR code)
    drift       check fresh data against the latest release and keep the drift issue;
                with retrain, on drift: build a candidate, publish it as a prerelease
                (on the default branch only), and with promote-on-pass make it latest
                when every gate passed. Never on a pull request (it writes with the
                repository's token: schedule and workflow_dispatch are its events).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ci_ml.errors import UsageError

MODES = ("auto", "pr", "release", "validate", "comment", "drift")
PUBLISH_CHOICES = ("auto", "true", "false")
PR_EVENTS = frozenset({"pull_request"})
MANUAL_EVENTS = frozenset({"workflow_dispatch", "schedule"})

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True)
class Plan:
    """Which steps to run. `mode` is the resolved one: pr, release, build, validate,
    comment or drift."""

    mode: str
    validate: bool  # the data checks alone (mode: validate)
    build: bool  # the whole build in one process: `ci-ml run`
    comment: bool
    publish: bool
    baseline: str
    fail_on_regression: bool
    reason: str
    drift: bool = False  # the drift check and its issue (mode: drift)
    retrain: bool = False  # on drift, build and publish a candidate as a prerelease
    promote: bool = False  # and make it latest when every gate passed

    def outputs(self) -> dict[str, str]:
        """Step outputs: kebab-case keys, booleans as 'true'/'false' (what `if:` compares)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                value = "true" if value else "false"
            out[f.name.replace("_", "-")] = value
        return out

    def summary(self) -> str:
        steps = [
            name.replace("_", "-")
            for name in ("validate", "build", "comment", "publish", "drift", "retrain", "promote")
            if getattr(self, name)
        ]
        return f"ci-ml plan: mode={self.mode} ({self.reason}); steps: {', '.join(steps)}; baseline={self.baseline}"


def parse_bool(name: str, value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise UsageError(
        f"input '{name}' must be true or false, got {value!r}",
        hint=f"set `{name}: true` or `{name}: false` in the workflow's `with:`",
    )


def _resolve_mode(mode: str, event_name: str, on_default: bool) -> tuple[str, str]:
    if mode != "auto":
        return mode, f"mode={mode} requested"
    if event_name in PR_EVENTS:
        return "pr", f"{event_name} event"
    if event_name == "push" and on_default:
        return "release", "push to the default branch"
    if event_name in MANUAL_EVENTS:
        return "build", f"{event_name} event"
    return "build", f"{event_name or 'unknown'} event" + (
        "" if on_default else " off the default branch"
    )


def _choice(name: str, value: str, choices: tuple[str, ...], hint: str) -> str:
    value = (value or "auto").strip().lower()
    if value not in choices:
        raise UsageError(
            f"input '{name}' must be one of {', '.join(choices)}, got {value!r}", hint=hint
        )
    return value


def _publishes(resolved: str, is_pr: bool, on_default: bool, publish: str) -> bool:
    """A model is only ever published from the default branch, never from a PR
    (its code is not reviewed yet), and `auto` publishes only in release mode."""
    if resolved == "pr" or is_pr or not on_default or publish == "false":
        return False
    return publish == "true" or resolved == "release"


def plan(
    event_name: str,
    ref: str,
    default_branch: str,
    mode: str = "auto",
    publish: str = "auto",
    comment: str | bool = True,
    baseline: str = "release",
    fail_on_regression: str | bool = True,
    retrain: str | bool = False,
    promote_on_pass: str | bool = False,
) -> Plan:
    """Decide the steps; raises UsageError for an input outside its choices."""
    mode = _choice("mode", mode, MODES, "use `mode: auto` to let the event decide")
    publish = _choice(
        "publish", publish, PUBLISH_CHOICES, "`auto` publishes only on a push to the default branch"
    )
    want_comment = parse_bool("comment", comment)
    fail = parse_bool("fail-on-regression", fail_on_regression)
    baseline = (baseline or "").strip() or "none"
    on_default = bool(default_branch) and ref == f"refs/heads/{default_branch}"
    is_pr = event_name in PR_EVENTS
    resolved, reason = _resolve_mode(mode, event_name, on_default)
    if resolved == "drift":
        return _drift_plan(event_name, on_default, retrain, promote_on_pass, fail, reason)
    build = resolved not in ("validate", "comment")
    return Plan(
        mode=resolved,
        validate=resolved == "validate",
        build=build,  # with no baseline, the build still applies the absolute gates
        comment=resolved == "comment" or (build and want_comment and resolved == "pr" and is_pr),
        publish=build and _publishes(resolved, is_pr, on_default, publish),
        baseline=baseline if build else "none",
        fail_on_regression=fail,
        reason=reason,
    )


def _drift_plan(
    event_name: str,
    on_default: bool,
    retrain: str | bool,
    promote_on_pass: str | bool,
    fail: bool,
    reason: str,
) -> Plan:
    """mode: drift. Its run writes issues and may publish with the repository's
    token, so a pull request (whose code is not reviewed yet) never runs it."""
    if event_name in PR_EVENTS or event_name == "pull_request_target":
        raise UsageError(
            f"mode: drift does not run on a {event_name} event",
            hint="run the drift workflow on `schedule` and `workflow_dispatch` "
            "(workflows/ml-drift.yml)",
        )
    want_retrain = parse_bool("retrain", retrain)
    want_promote = parse_bool("promote-on-pass", promote_on_pass)
    # A candidate is a model release: made only from the default branch, like any.
    candidate = want_retrain and on_default
    if want_retrain and not on_default:
        reason += "; retrain needs the default branch: checking drift only"
    return Plan(
        mode="drift",
        validate=False,
        build=False,
        comment=False,
        publish=False,
        baseline="none",
        fail_on_regression=fail,
        reason=reason,
        drift=True,
        retrain=candidate,
        promote=candidate and want_promote,
    )
