"""model.command: the config's rules, the command's argument list and environment,
its failures (exit 2, with the end of its output), the checks of the model.onnx
it writes against the data and the task, and the files the build cache hashes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper, numpy_helper

from ci_ml import fingerprint
from ci_ml.config import load_config
from ci_ml.errors import ConfigError, ModelFileError, UsageError
from ci_ml.modeling import command

DATA = "data: {train: a.csv, test: b.csv, target: y}\n"


def config(tmp_path: Path, model: str):
    p = tmp_path / "ci-ml.yaml"
    p.write_text(DATA + f"model: {model}\n")
    return load_config(p)


@pytest.mark.parametrize(
    ("model", "words"),
    [
        (
            "{command: 'python t.py {out}'}",
            "unknown placeholder(s) {out} in command; known: {model_dir}",
        ),
        ("{command: 'python t.py {model_dir'}", "malformed placeholder"),
        ("{command: 'python \"t.py'}", "cannot be split into arguments"),
        ("{command: '  '}", "command is empty"),
        ("{command: 'python t.py', estimator: sklearn.svm.SVC}", "give exactly one of"),
        ("{command: 'python t.py', factory: 'm.py:f'}", "got ['factory', 'command']"),
        ("{command: 'python t.py', preprocess: auto}", "a factory or a command builds its own"),
        (
            "{estimator: sklearn.svm.SVC, command_inputs: ['*.py']}",
            "command_inputs is for `command:`",
        ),
    ],
)
def test_a_bad_command_config_is_a_config_error_with_an_example(tmp_path, model, words) -> None:
    with pytest.raises(ConfigError) as e:
        config(tmp_path, model)
    msg = str(e.value)
    assert "  - model: " in msg and words in msg, msg
    assert "example:" in msg and e.value.exit_code == 2


def test_placeholders_are_filled_after_splitting_so_a_value_stays_one_argument() -> None:
    values = {"model_dir": "/tmp/my models", "python": "/usr/bin/python3"}
    args = command.argv("{python} 'train it.py' --out={model_dir} --tag {{x}}", values)
    assert args == ["/usr/bin/python3", "train it.py", "--out=/tmp/my models", "--tag", "{x}"]
    assert command._displayed(args, values)[0] == "{python}"
    assert command._displayed(args, values)[2] == "--out={model_dir}"


def test_the_environment_carries_the_data_facts_and_keeps_the_rest() -> None:
    env = command.environment(
        {"PATH": "/bin"},
        train=Path("/b/train.parquet"),
        model_dir=Path("/b/model"),
        config_dir=Path("/p"),
        features=["a", "b"],
        target="y",
        task="classification",
        classes=[0, 1],
        seed=7,
        params={"hidden": 8},
    )
    assert env["PATH"] == "/bin" and env["CI_ML_SEED"] == "7"
    assert json.loads(env["CI_ML_FEATURES"]) == ["a", "b"]
    assert json.loads(env["CI_ML_CLASSES"]) == [0, 1]
    assert json.loads(env["CI_ML_PARAMS"]) == {"hidden": 8}
    assert env["CI_ML_TRAIN_DATA"] == "/b/train.parquet" and env["CI_ML_MODEL_DIR"] == "/b/model"


def test_the_tail_is_the_last_lines_and_bounded() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    assert command.tail(text, lines=3) == "line 97\nline 98\nline 99"
    assert len(command.tail("x" * 10_000)) == command.TAIL_CHARS


# --- running it -------------------------------------------------------------------------------


@pytest.fixture
def frame() -> tuple[pd.DataFrame, pd.Series]:
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    return X, pd.Series(["no", "yes", "no", "yes"])


def run_script(tmp_path: Path, frame, script: str, extra: str = ""):
    (tmp_path / "t.py").write_text(script)
    cfg = config(tmp_path, f"{{command: '{{python}} t.py --out {{model_dir}}', seed: 3{extra}}}")
    X, y = frame
    build = tmp_path / "out" / "_build"
    return command.train(cfg, X, y, "classification", "y", build, {"KEEP": "kept"})


def test_the_command_gets_its_data_and_its_record_says_how_it_ran(tmp_path, frame) -> None:
    script = (
        "import json, os, sys, pandas as pd\n"
        "out = sys.argv[2]\n"
        "df = pd.read_parquet(os.environ['CI_ML_TRAIN_DATA'])\n"
        "facts = {k: v for k, v in os.environ.items() if k.startswith('CI_ML_') or k == 'KEEP'}\n"
        "facts['rows'] = len(df); facts['columns'] = list(df.columns); facts['cwd'] = os.getcwd()\n"
        "json.dump(facts, open(os.path.join(out, 'facts.json'), 'w'))\n"
        "open(os.path.join(out, 'model.onnx'), 'wb').write(b'later')\n"
        "json.dump({'hidden': 4}, open(os.path.join(out, 'params.json'), 'w'))\n"
        "print('trained')\n"
    )
    result = run_script(tmp_path, frame, script, ", params: {hidden: 2}")
    facts = json.loads((tmp_path / "out/_build/command/model/facts.json").read_text())
    assert facts["rows"] == 4 and facts["columns"] == ["a", "b", "y"]
    assert facts["CI_ML_SEED"] == "3" and facts["KEEP"] == "kept"
    assert json.loads(facts["CI_ML_CLASSES"]) == ["no", "yes"]
    assert json.loads(facts["CI_ML_PARAMS"]) == {"hidden": 2}
    assert Path(facts["cwd"]) == tmp_path  # the config's folder
    assert result.params == {"hidden": 4} and result.command.params_file
    assert result.command.exit_code == 0 and result.command.output_tail == "trained"
    assert result.command.argv == ["{python}", "t.py", "--out", "{model_dir}"]
    assert result.classes == ["no", "yes"] and result.model is None


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("import sys\nprint('out of memory')\nsys.exit(3)\n", "exited with code 3"),
        ("print('done, I think')\n", "exited 0 but wrote no model.onnx"),
        (
            "import os, signal\nprint('bye')\nos.kill(os.getpid(), signal.SIGKILL)\n",
            "killed by signal 9",
        ),
    ],
)
def test_a_command_that_fails_says_what_and_shows_its_output(
    tmp_path, frame, script, words
) -> None:
    with pytest.raises(UsageError) as e:
        run_script(tmp_path, frame, script)
    msg = str(e.value)
    assert words in msg and "the last lines it printed" in msg, msg
    printed = script.split("print('")[1].split("')")[0]
    assert printed in msg and e.value.exit_code == 2 and e.value.hint


def test_params_json_that_is_no_object_is_refused(tmp_path, frame) -> None:
    script = (
        "import sys, os\nout = sys.argv[2]\n"
        "open(os.path.join(out, 'model.onnx'), 'wb').write(b'x')\n"
        "open(os.path.join(out, 'params.json'), 'w').write('[1, 2]')\n"
    )
    with pytest.raises(UsageError, match="params.json holding a list, not an object"):
        run_script(tmp_path, frame, script)


def test_a_program_that_does_not_exist_is_a_config_error(tmp_path, frame) -> None:
    cfg = config(tmp_path, "{command: 'no-such-trainer-xyz --out {model_dir}'}")
    X, y = frame
    with pytest.raises(ConfigError, match="cannot run 'no-such-trainer-xyz'"):
        command.train(cfg, X, y, "classification", "y", tmp_path / "b", {"PATH": "/usr/bin"})


# --- the model it wrote -------------------------------------------------------------------------


def mlp_like(
    inputs: list,
    classes: list[str] | None = ("no", "yes"),
    proba_width: int = 2,
    label_type: int = TensorProto.STRING,
) -> bytes:
    """A tiny ONNX model: the sum of its inputs' first column decides the class."""
    names = [i.name for i in inputs]
    nodes, init = [], []
    first = names[0]
    if len(names) > 1:
        nodes.append(helper.make_node("Concat", names, ["all"], axis=1))
        first = "all"
    nodes.append(helper.make_node("Cast", [first], ["xf"], to=TensorProto.FLOAT))
    init.append(numpy_helper.from_array(np.array([1], np.int64), "axes"))
    nodes.append(helper.make_node("ReduceSum", ["xf", "axes"], ["s"], keepdims=1))
    init.append(numpy_helper.from_array(np.zeros((1, proba_width), np.float32), "zeros"))
    nodes.append(helper.make_node("Add", ["s", "zeros"], ["wide"]))
    nodes.append(helper.make_node("Softmax", ["wide"], ["probabilities"], axis=1))
    nodes.append(helper.make_node("ArgMax", ["probabilities"], ["index"], axis=1, keepdims=0))
    outputs = [
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, proba_width])
    ]
    if label_type == TensorProto.STRING:
        init.append(numpy_helper.from_array(np.array(list(classes), dtype=object), "classes"))
        nodes.append(helper.make_node("Gather", ["classes", "index"], ["label"], axis=0))
        label = helper.make_tensor_value_info("label", TensorProto.STRING, [None])
    else:
        nodes.append(helper.make_node("Identity", ["index"], ["label"]))
        label = helper.make_tensor_value_info("label", TensorProto.INT64, [None])
    graph = helper.make_graph(nodes, "g", inputs, [label, *outputs], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def matrix(width: int | None = 2, elem: int = TensorProto.FLOAT, name: str = "input"):
    return [helper.make_tensor_value_info(name, elem, [None, width])]


def export(tmp_path: Path, data: bytes, X=None, classes=("no", "yes"), task="classification"):
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    X = X if X is not None else pd.DataFrame({"a": [0.1, 0.9], "b": [0.0, 0.2]})
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return command.export(path, X, task, list(classes), out, {"ci_ml.task": task})


def test_a_model_that_fits_is_exported_with_the_metadata_and_no_parity(tmp_path) -> None:
    result, pred = export(tmp_path, mlp_like(matrix()))
    assert result.parity == {"skipped": command.SKIPPED} and result.probabilities
    assert result.inputs == [{"name": "input", "kind": "numeric"}] and result.precision == "float"
    assert pred.pred.tolist() == [0, 0] and pred.proba.shape == (2, 2)
    written = onnx.load(tmp_path / "out" / "model.onnx")
    assert {p.key: p.value for p in written.metadata_props} == {"ci_ml.task": "classification"}


def test_one_input_per_feature_is_taken_too(tmp_path) -> None:
    inputs = [helper.make_tensor_value_info(n, TensorProto.DOUBLE, [None, 1]) for n in ("b", "a")]
    result, _ = export(tmp_path, mlp_like(inputs))
    assert [i["name"] for i in result.inputs] == ["a", "b"] and result.precision == "double"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x00garbage, not a protobuf", "cannot be loaded: it is not an ONNX model"),
        (mlp_like(matrix(3)), "its input `input` takes 3 columns, and the data has 2 features"),
        (
            mlp_like(matrix(name="x")),
            "its inputs (x) do not match the data's features: no input for a, b",
        ),
        (mlp_like(matrix(elem=TensorProto.INT64)), "a matrix input must be float or double"),
        (mlp_like(matrix(), classes=("cat", "dog")), "label(s) that are no class of the data"),
        (
            mlp_like(matrix(), label_type=TensorProto.INT64),
            "label(s) that are no class of the data",
        ),
        (mlp_like(matrix(), classes=("no", "yes", "maybe"), proba_width=3), "it must be [rows, 2]"),
    ],
)
def test_a_model_that_does_not_fit_the_data_is_refused_with_exit_2(tmp_path, data, words) -> None:
    with pytest.raises(ModelFileError) as e:
        export(tmp_path, data)
    assert words in str(e.value), str(e.value)
    assert e.value.exit_code == 2 and e.value.hint
    assert not (tmp_path / "out" / "model.onnx").exists()


def test_a_graph_onnxruntime_cannot_load_is_refused(tmp_path) -> None:
    node = helper.make_node("NoSuchOp", ["input"], ["y"], domain="nowhere")
    graph = helper.make_graph(
        [node], "g", matrix(), [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ModelFileError, match="onnxruntime cannot load"):
        export(tmp_path, model.SerializeToString())


def test_a_regression_that_predicts_nan_is_refused(tmp_path) -> None:
    init = [numpy_helper.from_array(np.array([np.nan], np.float32), "nan")]
    nodes = [
        helper.make_node("ReduceSum", ["input"], ["s"], keepdims=0, axes=[1]),
        helper.make_node("Add", ["s", "nan"], ["variable"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        matrix(),
        [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None])],
        init,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    with pytest.raises(ModelFileError, match="not finite"):
        export(tmp_path, model.SerializeToString(), classes=(), task="regression")


# --- the build cache ----------------------------------------------------------------------------


def test_the_cache_hashes_the_script_the_command_names_and_its_inputs(tmp_path) -> None:
    (tmp_path / "nets").mkdir()
    for name in ("train.py", "helpers.py", "nets/mlp.py", "notes.txt"):
        (tmp_path / name).write_text(name)
    default = config(tmp_path, "{command: '{python} train.py --out {model_dir}'}")
    assert sorted(fingerprint.code_files(default)) == ["helpers.py", "train.py"]
    listed = config(
        tmp_path,
        f"{{command: '{sys.executable} -u run.sh --config=notes.txt', "
        "command_inputs: ['nets/**/*.py']}",
    )  # the interpreter's absolute path is the machine's, not the project's code
    assert sorted(fingerprint.code_files(listed)) == ["nets/mlp.py", "notes.txt"]
    before = fingerprint.code_files(default)
    (tmp_path / "helpers.py").write_text("changed")
    assert fingerprint.code_files(default)["helpers.py"] != before["helpers.py"]
