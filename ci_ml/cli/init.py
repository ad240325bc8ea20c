"""`ci-ml init`: from a data file and a target to a project that builds.

Writes ci-ml.yaml (decided in ci_ml/scaffold.py), schema.yaml (inferred) and
the three workflow templates, never over an existing file unless --force.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.errors import DataValidationError, UsageError

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.cli import Runtime


# A data path given on the command line is relative to where the command runs.
ARG_PATH = "check the {} path: it is relative to the current folder"


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def _read(args: Any) -> dict[str, pd.DataFrame]:
    from ci_ml.data import read_frame

    frames = {args.data: read_frame(Path(args.data), ARG_PATH.format("--data"))}
    if args.test:
        if Path(args.test).resolve() == Path(args.data).resolve():
            raise UsageError(
                "--test names the same file as --data",
                hint="leave --test out to have ci-ml split the one file",
            )
        frames[args.test] = read_frame(Path(args.test), ARG_PATH.format("--test"))
        missing = [c for c in frames[args.data].columns if c not in frames[args.test].columns]
        if missing:
            raise DataValidationError(
                f"{args.test} lacks column(s) {', '.join(map(str, missing))} that {args.data} has",
                file=args.test,
                hint="the training and holdout files must have the same columns",
            )
    return frames


def _refuse_overwrite(root: Path, force: bool) -> None:
    from ci_ml import scaffold

    existing = [f for f in scaffold.files() if (root / f).exists()]
    if existing and not force:
        where = "" if str(root) == "." else f" in {root}"
        raise UsageError(
            f"`ci-ml init` would overwrite {', '.join(existing)}{where}; nothing was written",
            hint="move them away, or pass --force to overwrite them",
        )


def cmd_init(args: Any, rt: Runtime) -> int:
    import pandas as pd

    from ci_ml import scaffold
    from ci_ml.artifact import write_text
    from ci_ml.checks.schema import infer_schema

    root = Path(args.dir)
    if root.exists() and not root.is_dir():
        raise UsageError(
            f"--dir {root} is a file, not a folder", hint="name the repository's root folder"
        )
    _refuse_overwrite(root, args.force)
    frames = _read(args)
    setup = scaffold.decide(frames, args.target, split=not args.test)
    names = [_relative(Path(p), root) for p in frames]
    data = {"train": names[0], "test": names[1]} if args.test else {"path": names[0]}
    source = " and ".join(names)
    config = scaffold.config_text(setup, data, source)
    scaffold.check_config(config)
    table = pd.concat(list(frames.values()), ignore_index=True).drop(columns=list(setup.drop))
    schema = scaffold.schema_text(infer_schema(table, args.target).to_yaml(), source)
    contents = {scaffold.CONFIG: config, scaffold.SCHEMA: schema}
    for name, text in scaffold.workflow_templates().items():
        contents[f"{scaffold.WORKFLOWS_DIR}/{name}"] = text
    ignore = root / ".gitignore"
    if not ignore.exists():  # a new repository: keep the build folder and a venv out of it
        contents[".gitignore"] = "".join(f"{entry}\n" for entry in scaffold.GITIGNORE)
    for rel, text in contents.items():
        write_text(root / rel, text)
        print(f"wrote {root / rel}")
    _say_next(setup, args.dir, list(contents), names, root)
    if ignore.is_file() and ".gitignore" not in contents:
        missing = scaffold.gitignore_missing(ignore.read_text(encoding="utf-8", errors="replace"))
        if missing:
            print(
                f"(keep {' and '.join(missing)} out of git, the build folder and the virtual "
                "environment: add them to .gitignore)"
            )
    return 0


def _say_next(setup: Any, dir_arg: str, written: list[str], data: list[str], root: Path) -> None:
    from ci_ml import scaffold
    from ci_ml.stages import STAGES

    features = "all columns" if not setup.drop else f"all columns but {', '.join(setup.drop)}"
    print(
        f"\n{setup.task} of {setup.target!r} with {setup.estimator.rsplit('.', 1)[1]} on "
        f"{features}; gates on {setup.primary}."
    )
    here = dir_arg in (".", "")
    config = "" if here else f" --config {Path(dir_arg) / 'ci-ml.yaml'}"
    cd = "" if here else f"cd {dir_arg} && "
    paths = scaffold.git_add_paths(written, data)
    stages = ", ".join(s.command for s in STAGES)
    print("next:")
    print(f"  ci-ml run{config}    # build it here: {stages}")
    print(
        f"  {cd}git add {' '.join(paths)} && "
        'git commit -m "Build the model with ci-ml" && git push    # then open a pull request'
    )
    print("The data is part of the commit: the workflows build from a clean clone.")
    outside = [p for p in data if scaffold.outside_repository(p)]
    if outside:
        print(
            f"Move {', '.join(outside)} into the repository (and point ci-ml.yaml's data at "
            "it there): a clean clone has nothing outside it to build from."
        )
    large = [p for p in data if (root / p).stat().st_size >= scaffold.LARGE_BYTES]
    if large:
        print(
            f"{', '.join(large)} is large for git (GitHub refuses files over 100 MB): keep it "
            "in Git LFS (`git lfs track " + " ".join(large) + "` before the `git add`, and "
            "`lfs: true` on the workflows' actions/checkout) or in DVC (`dvc add`, and a "
            "`dvc pull` step before ci-ml)."
        )
