"""`ci-ml reproduce` and `ci-ml diff`: builds compared with their record or each
other; a TAG is fetched from the registry (verified) first."""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml import outdir
from ci_ml.cli.connect import registry_of_tag, signature_check
from ci_ml.config import Config, load_config
from ci_ml.diff import Side, diff, markdown
from ci_ml.reproduce import fail
from ci_ml.services.reproducing import reproduce
from ci_ml.services.sources import Source, resolve_source

if TYPE_CHECKING:
    from ci_ml.cli import Runtime


def _config(args: Namespace) -> Config | None:
    return load_config(args.config) if Path(args.config).is_file() else None


def _source(args: Namespace, rt: Runtime, source: str, into: Path, cfg: Config | None) -> Source:
    """A folder as it is, or release `source` fetched into `into` (signature checked)."""
    return resolve_source(
        source,
        into,
        lambda: registry_of_tag(cfg, rt, source, args.network_timeout),
        signature_check(cfg, rt) if cfg is not None else None,
    )


def cmd_reproduce(args: Namespace, rt: Runtime) -> int:
    out = Path(args.out)
    outdir.claim(out, "reproduce")
    with outdir.locked(out):
        record = _source(args, rt, args.source, out / "record", _config(args))
        done = reproduce(
            record.directory, record.label, Path(args.repo), out, rt.actions, env=rt.env
        )
        rt.actions.append_summary(done.report)
    print(done.report)
    if not done.outcome.matched:
        raise fail(done.outcome)
    return 0


def cmd_diff(args: Namespace, rt: Runtime) -> int:
    out = Path(args.out)
    cfg = _config(args)
    sides = []
    for key, source in (("a", args.a), ("b", args.b)):
        if not Path(source).is_dir():
            outdir.claim(out, "diff")  # a tag is fetched into <out>/a or <out>/b
        found = _source(args, rt, source, out / key, cfg)
        sides.append(Side.read(found.directory, found.label))
    d = diff(*sides)
    print(json.dumps(d, indent=2) if args.json else markdown(d))
    return 0
