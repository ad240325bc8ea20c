"""The README is the front door: it must match the action and CI."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_action_input_and_output_is_documented() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    for name in [*action["inputs"], *action["outputs"]]:
        assert f"| `{name}` |" in README, name


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    test_cmd = next(c for c in commands if "pytest" in c and ".[test]" in c)
    assert test_cmd.strip() in (ROOT / ".ci" / "run").read_text()


def test_every_supported_estimator_is_in_the_matrix_test() -> None:
    section = README.split("### Supported estimators", 1)[1].split("Notes from", 1)[0]
    matrix = (ROOT / "tests" / "unit" / "test_estimator_matrix.py").read_text()
    names = []
    for token in re.findall(r"`([A-Z][A-Za-z/]+)", section):
        if token.endswith("Classifier/Regressor"):
            base = token.removesuffix("Classifier/Regressor")
            names += [base + "Classifier", base + "Regressor"]
        else:
            names.append(token)
    assert len(names) > 20
    for name in names:
        assert name in matrix, name
