"""Two checkouts of ci-ml on the same data, interleaved in one run: what a change
costs or saves beyond the fit.

    python benchmarks/bench_versions.py BEFORE_CHECKOUT [--size 1M] [--repeats 3]

BEFORE_CHECKOUT is another clone or worktree of ci-ml (say `git worktree add
/tmp/before <rev>`); it runs with this environment's packages, its own code
first on PYTHONPATH. Each round builds the same baseline-compared PR once with
each version, in alternating order, each in a fresh process: wall, CPU and peak
RSS (os.wait4), the fit time and every stage's time from the manifest. The
baseline is built once per version by that version (a version compares with
its own kind of baseline). Prints a markdown table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import (  # noqa: E402
    BASELINE_PARAMS,
    CANDIDATE_PARAMS,
    clean_env,
    config_text,
    data_files,
    default_cache,
    parse_size,
)
from benchmarks.measure import run_measured  # noqa: E402

HERE = Path(__file__).resolve().parents[1]


def env_for(checkout: Path) -> dict[str, str]:
    env = clean_env()
    env["PYTHONPATH"] = str(checkout)
    return env


def build(checkout: Path, folder: Path, config: Path, out: Path, baseline: Path | None):
    cmd = [sys.executable, "-m", "ci_ml", "run", "--config", str(config), "--out", str(out)]
    if baseline is not None:
        cmd += ["--baseline", str(baseline)]
    m = run_measured(
        cmd, env=env_for(checkout), cwd=folder, logs=out.with_suffix(".logs"), timeout=3600
    )
    if m.returncode not in (0, 4, 7):
        raise SystemExit(f"{checkout}: exit {m.returncode}\n{m.stderr[-3000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    train = json.loads((out / "_build" / "train.json").read_text())
    return m, manifest["timings_seconds"], float(train["fit_seconds"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path)
    p.add_argument("--size", default="1M")
    p.add_argument("--format", default="csv", choices=["csv", "parquet"])
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    rows = parse_size(args.size)
    files = data_files(default_cache(), rows, args.format)
    versions = {"before": args.before.resolve(), "after": HERE}
    root = default_cache() / "versions" / f"{args.size}-{args.format}"
    results: dict[str, list[dict]] = {v: [] for v in versions}
    folders = {}
    for name, checkout in versions.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ci-ml.yaml").write_text(config_text(files, CANDIDATE_PARAMS, "bench"))
        (folder / "baseline.yaml").write_text(config_text(files, BASELINE_PARAMS, "bench"))
        schema = run_measured(
            [sys.executable, "-m", "ci_ml", "schema", "infer", "--data", str(files.test),
             "--target", "label"],
            env=env_for(checkout), cwd=folder, logs=folder / "schema.logs", timeout=600,
        )  # fmt: skip
        (folder / "schema.yaml").write_text(schema.stdout)
        shutil.rmtree(folder / "baseline", ignore_errors=True)
        build(checkout, folder, folder / "baseline.yaml", folder / "baseline", None)
        folders[name] = folder
    for i in range(args.repeats):
        order = list(versions) if i % 2 == 0 else list(reversed(versions))
        for name in order:
            folder = folders[name]
            out = folder / "runs" / f"r{i}"
            shutil.rmtree(out, ignore_errors=True)
            m, stages, fit = build(
                versions[name], folder, folder / "ci-ml.yaml", out, folder / "baseline"
            )
            results[name].append(
                {"wall": m.wall, "cpu": m.cpu, "rss": m.peak_rss_mib, "fit": fit,
                 "stages": stages, "load": (m.load_before + m.load_after) / 2}
            )  # fmt: skip
            print(f"round {i + 1} {name}: {m.wall:.1f} s wall, fit {fit:.1f} s", file=sys.stderr)
    med = statistics.median
    print(
        f"| {args.size} rows, {args.format}, {args.repeats} rounds | before | after | after / before |"
    )
    print("| --- | ---: | ---: | ---: |")
    for label, key in [
        ("wall (s)", "wall"),
        ("CPU (s)", "cpu"),
        ("peak RSS (MiB)", "rss"),
        ("fit (s)", "fit"),
    ]:
        b, a = med(r[key] for r in results["before"]), med(r[key] for r in results["after"])
        print(f"| {label} | {b:.2f} | {a:.2f} | {a / b:.2f}× |")
    b = med(r["wall"] - r["fit"] for r in results["before"])
    a = med(r["wall"] - r["fit"] for r in results["after"])
    print(f"| wall beyond the fit (s) | {b:.2f} | {a:.2f} | {a / b:.2f}× |")
    stages = list(results["after"][0]["stages"])
    for s in stages:
        b = med(r["stages"].get(s, float("nan")) for r in results["before"])
        a = med(r["stages"].get(s, float("nan")) for r in results["after"])
        print(f"| stage {s} (s) | {b:.2f} | {a:.2f} | {a / b:.2f}× |")
    loads = [r["load"] for v in results.values() for r in v]
    print(f"\nLoad average during the runs: {min(loads):.1f}–{max(loads):.1f} (2 cores).")
    (root / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    main()
