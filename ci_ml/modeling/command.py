"""`model.command`: training that is not an estimator object (PyTorch, Keras, a
custom stack). ci-ml writes the training rows to a Parquet file, runs the
command (an argument list, no shell) in the config's folder with the data's
facts and the seed in its environment, and takes the `model.onnx` it writes:
checked against the schema's features and the task, then scored, compared,
tested and published like a model ci-ml exported itself. There is no
scikit-learn model to compare the ONNX file with, so parity is not checked.

The command comes from the repository's config, like a `factory:`: it is the
repository's own code, run on its own CI, with the same trust.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ci_ml.artifact import plain, sha256_file
from ci_ml.errors import ConfigError, ModelFileError, UsageError
from ci_ml.json_types import JSONObject
from ci_ml.modeling.convert import describe
from ci_ml.records import CommandRun, ExportResult, TrainResult
from ci_ml.scoring.onnx import feeds, model_file_problem, onnx_predictions, predicting, timed

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.config import Config
    from ci_ml.scoring.onnx import Predictions

WORK_DIR = "command"  # in the build's _build/: the data file, the model folder, the output
MODEL_FILE = "model.onnx"
PARAMS_FILE = "params.json"
TAIL_LINES = 30
TAIL_CHARS = 3000
SKIPPED = "trained by model.command: there is no scikit-learn model to compare the ONNX file with"


def argv(command: str, values: dict[str, str]) -> list[str]:
    """The command's argument list, each placeholder replaced by its value (split
    first, so a value with spaces stays one argument)."""
    return [part.format_map(values) for part in shlex.split(command)]


def environment(
    base: dict[str, str],
    *,
    train: Path,
    model_dir: Path,
    config_dir: Path,
    features: list[str],
    target: str,
    task: str,
    classes: list[object] | None,
    seed: int,
    params: JSONObject,
) -> dict[str, str]:
    """What the command finds in its environment (docs/guide/command.md)."""
    env = dict(base)
    env.update(
        {
            "CI_ML_TRAIN_DATA": str(train),
            "CI_ML_MODEL_DIR": str(model_dir),
            "CI_ML_CONFIG_DIR": str(config_dir),
            "CI_ML_FEATURES": json.dumps(features),
            "CI_ML_TARGET": target,
            "CI_ML_TASK": task,
            "CI_ML_SEED": str(seed),
            "CI_ML_PARAMS": json.dumps(plain(params)),
        }
    )
    if classes is not None:
        env["CI_ML_CLASSES"] = json.dumps(plain(classes))
    # A Python command's output reaches the log as it prints, so a command killed
    # mid-way (out of memory, say) still shows its last lines.
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def tail(text: str, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    """The end of the command's output: its last lines, at most `chars` characters."""
    end = "\n".join(text.rstrip().splitlines()[-lines:])
    return end[-chars:]


def _printed(output: str) -> str:
    shown = tail(output)
    return (
        f"\n--- the last lines it printed ---\n{shown}"
        if shown.strip()
        else " (it printed nothing)"
    )


def _failure(what: str, output: str, hint: str) -> UsageError:
    return UsageError(f"model.command {what}{_printed(output)}", hint=hint)


def with_output(e: ModelFileError, output: str) -> ModelFileError:
    """A model the command wrote that fails its checks, with the end of what the
    command printed (its own warnings often say why)."""
    return ModelFileError(e.message + _printed(output), hint=e.hint)


def train(
    cfg: Config,
    X: pd.DataFrame,
    y: pd.Series,
    task: str,
    target: str,
    build_dir: Path,
    env: dict[str, str],
) -> TrainResult:
    """Run the command on the training rows, with `env` (the process's
    environment) and ci-ml's CI_ML_* variables; the record says how it ran. The
    model it wrote stays in `build_dir/command/model/` for the export stage."""
    import numpy as np

    assert cfg.model.command is not None
    work = build_dir / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    model_dir = work / "model"
    model_dir.mkdir(parents=True)
    data = work / "train.parquet"
    frame = X.copy()
    frame[target] = y.to_numpy()
    frame.to_parquet(data, index=False)
    classes = plain(list(np.unique(y.to_numpy()))) if task == "classification" else None
    values = {
        "model_dir": str(model_dir),
        "train": str(data),
        "seed": str(cfg.model.seed),
        "python": sys.executable,
        "config_dir": str(cfg.base_dir),
    }
    args = argv(cfg.model.command, values)
    child_env = environment(
        env,
        train=data,
        model_dir=model_dir,
        config_dir=cfg.base_dir,
        features=[str(c) for c in X.columns],
        target=target,
        task=task,
        classes=classes,
        seed=cfg.model.seed,
        params=cfg.model.params,
    )
    code, seconds, output = _run(args, cfg.base_dir, child_env, work / "output.log")
    model = _written_model(args, code, output, model_dir, cfg.base_dir)
    params = _params(model_dir / PARAMS_FILE, cfg.model.params)
    return TrainResult(
        estimator=f"command: {_short(args)}",
        params=params,
        seeded=[],
        fit_seconds=seconds,
        classes=classes,
        task=task,
        command=CommandRun(
            argv=_displayed(args, values),
            exit_code=code,
            seconds=seconds,
            output_tail=tail(output),
            model_sha256=sha256_file(model),
            params_file=(model_dir / PARAMS_FILE).is_file(),
        ),
    )


def _run(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[int, float, str]:
    """Run the command, its output (stdout and stderr) into `log`: exit code,
    seconds, output."""
    t0 = time.perf_counter()
    try:
        with log.open("wb") as out:
            proc = subprocess.run(
                args,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
    except OSError as e:  # not found, not executable
        raise ConfigError(
            f"model.command: cannot run {args[0]!r}: {e.strerror or e}",
            hint="name a program on PATH or a path relative to the config's folder; "
            "{python} is the interpreter ci-ml runs in",
        ) from None
    seconds = round(time.perf_counter() - t0, 4)
    return proc.returncode, seconds, log.read_text(encoding="utf-8", errors="replace")


def _written_model(args: list[str], code: int, output: str, model_dir: Path, cwd: Path) -> Path:
    """The model.onnx a command that succeeded wrote; an error for one that failed
    or wrote none, with the end of its output."""
    if code != 0:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        raise _failure(
            f"{how}: {shlex.join(args)}",
            output,
            "fix the training command (its output says why); "
            f"it ran in {cwd} with the training rows in $CI_ML_TRAIN_DATA",
        )
    model = model_dir / MODEL_FILE
    if not model.is_file():
        raise _failure(
            f"exited 0 but wrote no {MODEL_FILE} into {{model_dir}}: {shlex.join(args)}",
            output,
            f"write the ONNX model to {{model_dir}}/{MODEL_FILE} ($CI_ML_MODEL_DIR); "
            "see docs/guide/command.md",
        )
    return model


def _displayed(args: list[str], values: dict[str, str]) -> list[str]:
    """The argument list as the record shows it: the placeholders' values, which
    name this machine's folders, put back as placeholders."""
    out = []
    for a in args:
        for name, value in sorted(values.items(), key=lambda kv: -len(kv[1])):
            if value:
                a = a.replace(value, "{" + name + "}")
        out.append(a)
    return out


def _short(args: list[str]) -> str:
    """What the report calls the model: the program and its script, e.g. `python train.py`."""
    prog = Path(args[0]).name
    script = next((Path(a).name for a in args[1:] if not a.startswith("-")), "")
    return f"{prog} {script}".strip()


def _params(path: Path, given: JSONObject) -> JSONObject:
    """The params.json the command wrote (a JSON object), else model.params."""
    if not path.is_file():
        return dict(given)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(
            f"model.command wrote {PARAMS_FILE}, which is not JSON: {str(e)[:200]}",
            hint=f"write {PARAMS_FILE} as one JSON object of parameter names and values",
        ) from None
    if not isinstance(value, dict):
        raise UsageError(
            f"model.command wrote {PARAMS_FILE} holding a {type(value).__name__}, not an object",
            hint=f"write {PARAMS_FILE} as one JSON object of parameter names and values",
        )
    return value


# --- the model the command wrote -----------------------------------------------------------


class NodeArg(Protocol):
    """An input of an onnxruntime session, as ci-ml reads it."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def shape(self) -> list[int | str | None]: ...


def _kind(onnx_type: str) -> str | None:
    if onnx_type == "tensor(string)":
        return "string"
    if onnx_type in ("tensor(float)", "tensor(double)"):
        return "numeric"
    return None


def input_spec(
    inputs: list[NodeArg], features: list[str], string_features: set[str]
) -> tuple[list[tuple[str, str]], str]:
    """How ci-ml feeds the model, from its declared inputs: one float or double
    matrix named `input` holding every feature in order, or one input per
    feature named after it. Returns the spec and the precision; a model that
    takes neither is a ModelFileError that says what it takes instead."""
    declared = {i.name: i for i in inputs}
    precision = "double" if any(i.type == "tensor(double)" for i in inputs) else "float"
    if list(declared) == ["input"] and features != ["input"]:
        i = declared["input"]
        width = i.shape[1] if len(i.shape) == 2 else None
        if _kind(i.type) != "numeric" or len(i.shape) != 2:
            raise _bad_model(
                f"its input `input` is {i.type} of shape {i.shape}; a matrix input must be "
                "float or double of shape [rows, features]"
            )
        if isinstance(width, int) and width != len(features):
            raise _bad_model(
                f"its input `input` takes {width} columns, and the data has {len(features)} "
                f"features ({', '.join(features[:8])}{'…' if len(features) > 8 else ''})"
            )
        if string_features:
            raise _bad_model(
                f"a matrix input cannot take the text column(s) {', '.join(sorted(string_features))}"
            )
        return [("input", "numeric")], precision
    missing = [f for f in features if f not in declared]
    extra = [n for n in declared if n not in features]
    if missing or extra:
        raise _bad_model(
            f"its inputs ({', '.join(declared) or 'none'}) do not match the data's features: "
            + "; ".join(
                p
                for p in (
                    f"no input for {', '.join(missing[:8])}" if missing else "",
                    f"inputs that are no feature: {', '.join(extra[:8])}" if extra else "",
                )
                if p
            )
        )
    spec = []
    for f in features:
        want = "string" if f in string_features else "numeric"
        if _kind(declared[f].type) != want:
            raise _bad_model(f"its input {f!r} is {declared[f].type}; the column is {want}")
        spec.append((f, want))
    return spec, precision


def _bad_model(problem: str) -> ModelFileError:
    return ModelFileError(
        f"the model.onnx model.command wrote does not fit the data: {problem}",
        hint="give the ONNX graph one float matrix input named `input` with the features in "
        "the order of $CI_ML_FEATURES, or one input per feature named after it "
        "(docs/guide/command.md)",
    )


def check_outputs(pred: Predictions, rows: int, task: str, classes: list[object] | None) -> None:
    """The model's predictions of the holdout fit the task: a value per row
    (finite), or a class label per row and probabilities per class."""
    import numpy as np

    if pred.pred.shape[0] != rows:
        raise _bad_model(f"its first output has {pred.pred.shape[0]} values for {rows} rows")
    if task != "classification":
        if not np.isfinite(pred.pred).all():
            raise _bad_model("it predicts values that are not finite (NaN or infinity)")
        return
    if (pred.pred < 0).any():
        raise _bad_model(
            f"its first output holds label(s) that are no class of the data ({classes}); "
            "output the class labels as the data spells them ($CI_ML_CLASSES)"
        )
    if pred.proba is not None:
        n = len(classes or [])
        p = pred.proba
        if p.ndim != 2 or p.shape != (rows, n):
            raise _bad_model(
                f"its second output (probabilities) has shape {list(p.shape)}; it must be "
                f"[rows, {n}], one column per class in the order of $CI_ML_CLASSES"
            )
        if not np.isfinite(p).all() or (p < -1e-6).any() or (p > 1 + 1e-6).any():
            raise _bad_model("its probabilities are not all within [0, 1]")


def export(
    model_path: Path,
    X: pd.DataFrame,
    task: str,
    classes: list[object] | None,
    out: Path,
    metadata: dict[str, str],
) -> tuple[ExportResult, Predictions]:
    """The command's model.onnx, checked and given ci-ml's metadata, as the build's
    model.onnx; its predictions of the holdout rows."""
    import onnx
    import onnxruntime as ort

    t0 = time.perf_counter()
    data = model_path.read_bytes()
    problem = model_file_problem(data)
    if problem is not None:
        raise ModelFileError(
            f"the model.onnx model.command wrote cannot be loaded: {problem}",
            hint="write a complete ONNX model (onnx.save, torch.onnx.export) with its weights inside",
        )
    model = onnx.load_from_string(data)
    describe(model, metadata)
    data = model.SerializeToString()
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's own kinds: an invalid graph, an unknown op
        raise ModelFileError(
            f"onnxruntime cannot load the model.onnx model.command wrote: {str(e).strip()[:400]}",
            hint="check the graph with onnx.checker.check_model(model, full_check=True)",
        ) from None
    strings = {str(c) for c in X.columns if not _numeric(X[c])}
    features = [str(c) for c in X.columns]
    spec, precision = input_spec(list(session.get_inputs()), features, strings)
    outputs = session.get_outputs()
    probabilities = task == "classification" and len(outputs) > 1
    inputs = feeds(X, spec, precision)
    with predicting("onnxruntime"):
        pred = onnx_predictions(session, inputs, task, classes, probabilities)
    check_outputs(pred, len(X), task, classes)
    (out / MODEL_FILE).write_bytes(data)
    sample = {k: v[:1000] for k, v in inputs.items()}
    best = min(timed(session, sample) for _ in range(3))
    result = ExportResult(
        path=MODEL_FILE,
        bytes=len(data),
        precision=precision,
        inputs=[{"name": n, "kind": k} for n, k in spec],
        outputs=[o.name for o in outputs],
        opset={(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import},
        parity={"skipped": SKIPPED},
        probabilities=probabilities,
        latency_ms_per_1k_rows=round(best * 1000 * 1000 / max(min(len(X), 1000), 1), 3),
    )
    result.seconds = time.perf_counter() - t0
    return result, pred


def _numeric(s: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))
