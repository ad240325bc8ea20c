"""`ci-ml schema infer`: print a first pandera schema for a data file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import suggest
from ci_ml.errors import ConfigError, DataValidationError

if TYPE_CHECKING:
    from ci_ml.cli import Runtime


def cmd_infer(args: Any, rt: Runtime) -> int:
    from ci_ml.checks.schema import infer_schema
    from ci_ml.cli.init import ARG_PATH
    from ci_ml.data import read_frame

    df = read_frame(Path(args.data), ARG_PATH.format("--data"))
    if len(df) == 0:
        raise DataValidationError(
            f"{args.data} has a header but no rows: there is nothing to infer a schema from",
            hint="point --data at a file with the data the model trains on",
        )
    if args.target and args.target not in df.columns:
        raise ConfigError(
            f"--target {args.target!r} is not a column of {args.data}",
            hint=suggest.hint(args.target, df.columns),
        )
    schema = infer_schema(df, args.target, args.categories_max)
    sys.stdout.write(
        f"# pandera schema inferred by `ci-ml schema infer` from {Path(args.data).name}\n"
    )
    sys.stdout.write("# review it: tighten ranges and value sets to what your data must satisfy\n")
    sys.stdout.write(schema.to_yaml())
    return 0
