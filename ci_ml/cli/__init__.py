"""The `ci-ml` command line: the only place that reads the environment, builds
the GitHub client and exits.

Each subcommand's handler lives in a module of this package and is imported
only when that subcommand runs, so `ci-ml --help` stays light; the handlers
import ci-ml's own modules inside the functions that need them for the same
reason (a `ci-ml comment` never loads scikit-learn). Handlers take
the parsed arguments and a `Runtime` (the environment, read once) and return
an exit code or raise a `CiMlError`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ci_ml import __version__
from ci_ml.errors import (
    EXIT_OUTPUT_CLOSED,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    CiMlError,
    exit_codes_help,
)

if TYPE_CHECKING:
    from ci_ml.github.actions import Actions

EXIT_CODES_HELP = exit_codes_help()


@dataclass
class Runtime:
    """What a handler may know of the process: a copy of its environment."""

    env: dict[str, str] = field(default_factory=dict)
    verbosity: int = 0  # -q: -1, -v: 1 (and more with -vv)
    command: str = ""  # the command's words once parsed: "run", "baseline fetch"

    @property
    def actions(self) -> Actions:
        from ci_ml.github.actions import Actions

        return Actions(self.env, self.verbosity)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", default="ci-ml.yaml", help="path to the config (default: %(default)s)"
    )
    p.add_argument("--out", default=".ci-ml", help="artifact directory (default: %(default)s)")


def _baseline_arg(p: argparse.ArgumentParser, default: str | None = "none") -> None:
    shown = "%(default)s" if default else "the baseline this build's earlier stages used, else none"
    p.add_argument(
        "--baseline",
        default=default,
        metavar="DIR|release|none",
        help="an earlier build's artifact directory, 'release' (the latest model release in "
        f"the registry: GitHub's, or release.registry's folder), or 'none' (default: {shown})",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _network_arg(p: argparse.ArgumentParser) -> None:
    """For every command that talks to GitHub: one deadline for all of it."""
    p.add_argument(
        "--network-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="give up on GitHub after this many seconds in all, retries and rate-limit "
        "waits included (default: $CI_ML_NETWORK_TIMEOUT, else 600)",
    )


def _no_fail(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-fail-on-regression",
        dest="fail_on_regression",
        action="store_false",
        help="report failed gates but exit 0",
    )


def _verbosity(p: argparse.ArgumentParser) -> None:
    """-q and -v, on every command (after its name: `ci-ml run -q`)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "-q",
        "--quiet",
        dest="verbosity",
        action="store_const",
        const=-1,
        default=0,
        help="print only warnings, errors and the output asked for (no progress)",
    )
    g.add_argument(
        "-v",
        "--verbose",
        dest="verbosity",
        action="count",
        default=0,
        help="say more: when each stage starts, and the traceback of an error",
    )


def _add(sub: argparse._SubParsersAction, name: str, target: str, help: str, **kw: str) -> Any:
    """One command: its one-line help is also its description; its epilog the exit codes."""
    p = sub.add_parser(
        name,
        help=help,
        description=kw.pop("description", help),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(handler=target)
    if target:  # a command that runs (not a group of subcommands)
        _verbosity(p)
    return p


class _Commands:
    """Adds subcommands that all share the exit-code epilog and -q/-v."""

    def __init__(self, sub: argparse._SubParsersAction):
        self.sub = sub

    def add(self, name: str, target: str, help: str, **kw: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = _add(self.sub, name, target, help, **kw)
        return p


def _build_commands(c: _Commands) -> None:
    """`ci-ml run`, and one command per stage, from the stages' own declarations."""
    from ci_ml.stages import STAGES  # the declarations only: nothing heavy at import

    p = c.add(
        "run",
        "ci_ml.cli.build:cmd_run",
        "run every stage: " + ", ".join(s.command for s in STAGES),
    )
    _common(p)
    _baseline_arg(p)
    _network_arg(p)
    _no_fail(p)
    p.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="train even when the baseline was made of the same data, config, code and "
        "packages (by default its model is reused)",
    )
    for stage in STAGES:
        p = c.add(stage.command, "ci_ml.cli.build:cmd_stage", stage.help)
        _common(p)
        if stage.uses_baseline:
            _baseline_arg(p, default=None)
            _network_arg(p)
        if stage.arguments is not None:
            stage.arguments(p)


def _comment_command(c: _Commands) -> None:
    p = c.add(
        "comment",
        "ci_ml.cli.github:cmd_comment",
        "post or update the sticky PR comment from report.md",
    )
    _common(p)
    p.add_argument("--pr", type=int, help="pull request number (default: from the event payload)")
    p.add_argument(
        "--comment-id",
        help="override the comment id in the report's marker (letters, digits, . _ -)",
    )
    p.add_argument("--body-file", help="post this rendered body instead of <out>/report.md")
    p.add_argument(
        "--verify-head-sha", metavar="SHA", help="post only if the PR's head is still SHA"
    )
    p.add_argument(
        "--meta-file", help="take the PR number from a deferred comment's meta.json (checked)"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="write <out>/comment/ but do not call GitHub"
    )
    _network_arg(p)


def _monitor_commands(c: _Commands) -> None:
    p = c.add(
        "drift-issue",
        "ci_ml.cli.monitor:cmd_drift_issue",
        "open, update or close the model's sticky drift issue from a `ci-ml drift` run",
    )
    p.add_argument(
        "--config", default="ci-ml.yaml", help="path to the config (default: %(default)s)"
    )
    p.add_argument(
        "--drift",
        default=".ci-ml/drift",
        metavar="DIR",
        help="the folder `ci-ml drift` wrote drift.json and drift.md into (default: %(default)s)",
    )
    p.add_argument(
        "--retrained",
        metavar="DIR",
        help="the artifact folder of a model retrained on the fresh data: its comparison "
        "goes into the issue",
    )
    p.add_argument(
        "--candidate", metavar="TAG", help="the prerelease the retrained model was published as"
    )
    p.add_argument("--promoted", action="store_true", help="say that the candidate was made latest")
    p.add_argument(
        "--label",
        default="ci-ml-drift",
        help="the issue's label, created by GitHub if missing (default: %(default)s)",
    )
    p.add_argument(
        "--issue-id",
        help="the id in the issue's hidden marker (default: one per config path, like the "
        "comment's)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would be done and write <drift>/issue.md, without calling GitHub "
        "(needs no token)",
    )
    _network_arg(p)


def _registry_commands(c: _Commands) -> None:
    p = c.add(
        "publish",
        "ci_ml.cli.registry:cmd_publish",
        "publish the build as a release in the model registry (GitHub's, or a folder)",
    )
    _common(p)
    p.add_argument(
        "--tag", help="release tag (default: <tag-prefix><next version>, reused on a re-run)"
    )
    p.add_argument("--tag-prefix", help="tag prefix (default: release.tag_prefix in the config)")
    p.add_argument(
        "--force", action="store_true", help="publish even if the build failed its gates"
    )
    p.add_argument(
        "--prerelease",
        action="store_true",
        help="publish as a prerelease: never latest, and builds compare with it only when "
        "asked (`baseline fetch --prereleases`)",
    )
    _network_arg(p)
    _sign_args(p)
    p = c.add(
        "baseline",
        "",
        "the baseline a build compares with: `ci-ml baseline fetch` downloads it",
    )
    bsub = p.add_subparsers(dest="baseline_command", metavar="SUBCOMMAND", required=True)
    pf = _add(
        bsub,
        "fetch",
        "ci_ml.cli.registry:cmd_baseline_fetch",
        "download and verify the latest model release",
    )
    _common(pf)
    pf.add_argument("--into", help="directory (default: <out>/baseline)")
    pf.add_argument("--tag-prefix", help="tag prefix (default: release.tag_prefix in the config)")
    pf.add_argument("--prereleases", action="store_true", help="consider prereleases too")
    pf.add_argument(
        "--any-commit",
        action="store_true",
        help="the latest model release even if it was built from this commit (a drift "
        "check's reference; by default a build never compares with its own commit's release)",
    )
    _network_arg(pf)
    p = c.add(
        "promote",
        "ci_ml.cli.registry:cmd_promote",
        "mark a model release as the latest; the reason goes into its notes",
    )
    _common(p)
    p.add_argument("tag_pos", nargs="?", metavar="TAG", help="the release tag to make latest")
    p.add_argument("--tag", help="the same, as an option")
    p.add_argument("--reason", help="why (recorded in the release notes' audit log)")
    _network_arg(p)
    p = c.add(
        "rollback",
        "ci_ml.cli.registry:cmd_rollback",
        "retract the newest model release: the one before it becomes latest again",
    )
    _common(p)
    p.add_argument("--reason", help="why (recorded in both releases' audit logs)")
    _network_arg(p)
    p = c.add(
        "registry",
        "",
        "the model registry (GitHub releases, or a folder): `ci-ml registry list` lists it",
    )
    rsub = p.add_subparsers(dest="registry_command", metavar="SUBCOMMAND", required=True)
    pl = _add(
        rsub,
        "list",
        "ci_ml.cli.registry:cmd_registry_list",
        "model releases: commit, date, primary metric, which is latest",
    )
    _common(pl)
    pl.add_argument("--tag-prefix", help="tag prefix (default: release.tag_prefix in the config)")
    pl.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _network_arg(pl)


def _sign_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sign",
        default="auto",
        choices=["auto", "key", "sigstore", "none"],
        help="sign model.onnx and SHA256SUMS: with the key in $CI_ML_SIGNING_KEY (key), "
        "keyless through Sigstore with the workflow's OIDC token (sigstore; needs "
        "`id-token: write`), or auto: the key if set, else Sigstore if the token is "
        "available, else unsigned (default: %(default)s)",
    )


def _repro_commands(c: _Commands) -> None:
    p = c.add(
        "reproduce",
        "ci_ml.cli.repro:cmd_reproduce",
        "rebuild a release or artifact folder from its record and check it comes out the same",
    )
    p.add_argument("source", metavar="TAG|DIR", help="a model release tag or an artifact folder")
    p.add_argument("--out", default=".ci-ml-reproduce", help="where the rebuild and its report go")
    p.add_argument("--config", default="ci-ml.yaml", help="the config (for a release's tag prefix)")
    p.add_argument("--repo", default=".", help="the git clone holding the recorded commit")
    _network_arg(p)
    p = c.add(
        "diff",
        "ci_ml.cli.repro:cmd_diff",
        "compare two releases or artifact folders: metrics, params, data, schema, packages",
    )
    p.add_argument("a", metavar="A", help="a release tag or an artifact folder")
    p.add_argument("b", metavar="B", help="a release tag or an artifact folder")
    p.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    p.add_argument("--out", default=".ci-ml-diff", help="where fetched releases go")
    p.add_argument("--config", default="ci-ml.yaml", help="the config (for a release's tag prefix)")
    _network_arg(p)
    p = c.add(
        "verify",
        "ci_ml.cli.signing:cmd_verify",
        "verify a release's or artifact folder's checksums and signature",
    )
    p.add_argument("source", metavar="TAG|DIR", help="a model release tag or an artifact folder")
    p.add_argument("--out", default=".ci-ml-verify", help="where a fetched release goes")
    p.add_argument("--config", default="ci-ml.yaml", help="the config (signing keys, tag prefix)")
    p.add_argument("--public-key", help="PEM public key (default: signing.public_key)")
    _network_arg(p)
    p = c.add("sign", "ci_ml.cli.signing:cmd_sign", "sign a build's model.onnx and SHA256SUMS")
    _common(p)
    _sign_args(p)


def _plan_command(c: _Commands) -> None:
    p = c.add(
        "plan",
        "ci_ml.cli.github:cmd_plan",
        "decide which stages the action runs for this event (writes $GITHUB_OUTPUT)",
    )
    p.add_argument(
        "--mode",
        default="auto",
        help="auto, pr, release, validate, comment or drift (default: %(default)s)",
    )
    p.add_argument("--publish", default="auto", help="auto (on the default branch), true or false")
    p.add_argument("--comment", default="true", help="post the PR comment: true or false")
    p.add_argument("--baseline", default="release", help="release, a directory, or none")
    p.add_argument(
        "--fail-on-regression", default="true", help="fail the job on a failed gate: true or false"
    )
    p.add_argument(
        "--retrain",
        default="false",
        help="mode drift: on drift, build and publish a candidate as a prerelease: true or false",
    )
    p.add_argument(
        "--promote-on-pass",
        default="false",
        help="mode drift: make the candidate latest when every gate passed: true or false",
    )
    p.add_argument("--event-name", help="default: $GITHUB_EVENT_NAME")
    p.add_argument("--ref", help="default: $GITHUB_REF")
    p.add_argument("--default-branch", help="default: from the event payload, else main")


def _schema_command(c: _Commands) -> None:
    p = c.add(
        "schema",
        "",
        "the data's pandera schema: `ci-ml schema infer` writes a first one from a data file",
    )
    ssub = p.add_subparsers(dest="schema_command", metavar="SUBCOMMAND", required=True)
    pi = _add(
        ssub,
        "infer",
        "ci_ml.cli.schema:cmd_infer",
        "print a pandera YAML schema inferred from a data file",
    )
    pi.add_argument("--data", required=True, help="the data file (CSV, TSV or Parquet)")
    pi.add_argument(
        "--target", help="target column (gets no missing values and, if few, its allowed values)"
    )
    pi.add_argument(
        "--categories-max",
        type=int,
        default=20,
        help="string columns with at most this many values get an isin check (default: %(default)s)",
    )


def _init_command(c: _Commands) -> None:
    p = c.add(
        "init",
        "ci_ml.cli.init:cmd_init",
        "start a project: write ci-ml.yaml, schema.yaml and the workflows from a data file",
    )
    p.add_argument("--data", required=True, help="the training data (CSV, TSV or Parquet)")
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument("--test", help="a holdout file (default: ci-ml splits --data, seeded, 80/20)")
    p.add_argument(
        "--dir", default=".", help="the repository root to write into (default: %(default)s)"
    )
    p.add_argument("--force", action="store_true", help="overwrite files that exist")


def _drift_command(c: _Commands) -> None:
    p = c.add(
        "drift",
        "ci_ml.cli.drift:cmd_drift",
        "compare new data with a release's reference profile: columns, predictions, metrics",
    )
    p.add_argument(
        "--reference",
        metavar="TAG|DIR",
        help="a model release tag, 'latest' (the latest release, fetched and verified like a "
        "baseline), or a build's artifact folder (default: latest)",
    )
    p.add_argument(
        "--current",
        nargs="+",
        required=True,
        metavar="FILE",
        help="the new data: CSV, TSV or Parquet files, or Parquet datasets (a directory "
        "or a glob), read in chunks (the label column, if present, adds the model's "
        "metrics on them)",
    )
    p.add_argument(
        "--out",
        default=".ci-ml/drift",
        help="where drift.json and drift.md go (default: %(default)s)",
    )
    p.add_argument(
        "--config",
        help="the config: thresholds (`drift:`), registry, tag prefix (default: ci-ml.yaml if "
        "it exists, else the defaults)",
    )
    _network_arg(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ci-ml",
        description="A build system for ML pull requests: validate data, train, export to "
        "ONNX, compare with the baseline, report.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ci-ml {__version__}")
    commands = _Commands(parser.add_subparsers(dest="command", metavar="COMMAND"))
    for add in (
        _init_command,
        _build_commands,
        _comment_command,
        _monitor_commands,
        _registry_commands,
        _repro_commands,
        _drift_command,
        _plan_command,
        _schema_command,
    ):
        add(commands)
    return parser


def main_inner(argv: Sequence[str] | None, rt: Runtime) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    rt.verbosity = getattr(args, "verbosity", 0)
    words = [args.command, getattr(args, f"{args.command}_command", None)]
    rt.command = " ".join(w for w in words if w)
    handler = getattr(args, "handler", None)
    if not handler:
        parser.print_help()
        return EXIT_USAGE
    module, _, func = handler.partition(":")
    return int(getattr(importlib.import_module(module), func)(args, rt) or 0)


def _output_closed() -> int:
    """The reader of stdout went away (`ci-ml diff A B | head -1`): stop quietly.
    stdout is pointed at /dev/null so that no later flush (ours, or the
    interpreter's at exit) raises again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_OUTPUT_CLOSED


def main(argv: Sequence[str] | None = None) -> int:
    rt = Runtime(dict(os.environ))
    summary_before = _size(rt.env.get("GITHUB_STEP_SUMMARY"))
    try:
        code, error = _run(argv, rt)
    except SystemExit as e:  # argparse's --help, --version and usage errors
        if not isinstance(e.code, int) and e.code is not None:
            raise
        code, error = e.code or 0, None
    if code != EXIT_OUTPUT_CLOSED and rt.command:
        _tell_actions(rt, code, error, summary_before)
    try:
        # What is still buffered goes out now, while a closed pipe can be handled
        # (at the interpreter's exit it would be a traceback).
        sys.stdout.flush()
    except BrokenPipeError:
        return _output_closed()
    return code


def _size(path: str | None) -> int:
    try:
        return os.path.getsize(path) if path else 0
    except OSError:
        return 0


def _tell_actions(rt: Runtime, code: int, error: str | None, summary_before: int) -> None:
    """Under Actions, every command leaves its outcome where a workflow looks: the
    step outputs `exit-code` and `error`, and, when it wrote nothing to the job
    summary itself (the report does), a short entry there."""
    from ci_ml.github.actions import outcome_summary

    actions = rt.actions
    if not actions.enabled:
        return
    actions.set_outputs({"exit-code": code, "error": (error or "").split("\n", 1)[0]})
    if _size(actions.summary_path) == summary_before:
        actions.append_summary(outcome_summary(f"ci-ml {rt.command}", code, error))


def _run(argv: Sequence[str] | None, rt: Runtime) -> tuple[int, str | None]:
    """The command, with every way it can end turned into an exit code (and the
    error's text, if it failed)."""
    try:
        return main_inner(argv, rt), None
    except BrokenPipeError:
        return _output_closed(), None
    except CiMlError as e:
        if rt.verbosity > 0:  # -v: where it came from, for a bug report
            import traceback

            traceback.print_exc()
        rt.actions.error(str(e), file=e.file, line=e.line)
        return e.exit_code, str(e)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130, "interrupted"
    except Exception as e:
        import traceback

        traceback.print_exc()
        print(
            "\nci-ml hit an unexpected error (exit 1). This is a bug in ci-ml: please report it "
            "with the traceback above.",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED, f"unexpected error (a bug in ci-ml): {type(e).__name__}: {e}"


__all__ = ["main", "main_inner", "build_parser", "Runtime"]
