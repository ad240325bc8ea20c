"""Every path that takes a model in, against tampering and against the signing
policy (issue 22, 3 and 4).

The build cache used to take a baseline's model.onnx on trust once the
fingerprints matched: a truncated model gave a traceback, one reading external
data (`../../../../etc/passwd`) a traceback, a foreign model was blamed on the
holdout, and a compatible foreign one was published as "model unchanged". And
`signing.required` was enforced by `ci-ml verify` only: `run --baseline DIR`
took an unsigned, or otherwise signed, baseline; a broken key read as tampering.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import onnx
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from onnx import TensorProto

from tests.integration.test_stage_protocol import run_here

pytestmark = pytest.mark.slow


def resum(folder: Path) -> None:
    """What an attacker does after replacing a file: SHA256SUMS made to match."""
    lines = []
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        name = line.split("  ", 1)[1]
        lines.append(f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}")
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def truncated(model: onnx.ModelProto, data: bytes) -> bytes:
    return data[: len(data) // 2]


def external_data(model: onnx.ModelProto, data: bytes) -> bytes:
    """The first initializer's values 'kept' in ../../../../etc/passwd."""
    tensor = next(t for t in model.graph.initializer)
    tensor.ClearField("raw_data")
    for f in ("float_data", "double_data", "int64_data", "int32_data"):
        tensor.ClearField(f)
    tensor.data_location = TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "../../../../etc/passwd"
    return model.SerializeToString()


def other_build(model: onnx.ModelProto, data: bytes) -> bytes:
    """The same model with another build's fingerprint in its metadata, the same size:
    what a model put in the baseline's place looks like to the cache."""
    for prop in model.metadata_props:
        if prop.key == "ci_ml.fingerprint":
            prop.value = "0" * len(prop.value)
    return model.SerializeToString()


def not_onnx(model: onnx.ModelProto, data: bytes) -> bytes:
    return b"\x00" * len(data)


TAMPERING = {
    "truncated": truncated,
    "external data": external_data,
    "another build's model": other_build,
    "not ONNX": not_onnx,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """mixed-tabular built once (its model has initializers), the project kept."""
    root = tmp_path_factory.mktemp("intake")
    project = root / "project"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "mixed-tabular", project,
                    ignore=shutil.ignore_patterns(".ci-ml"))  # fmt: skip
    base = root / "base"
    code, out, err = run_here(["run", "--out", str(base)], project)
    assert code == 0, out + err
    return project, base


@pytest.mark.parametrize("kind", list(TAMPERING))
@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_a_tampered_baseline_model_is_never_taken_in(
    built, kind: str, cache: bool, tmp_path: Path
) -> None:
    project, base = built
    baseline = tmp_path / "baseline"
    shutil.copytree(base, baseline, ignore=shutil.ignore_patterns("_build", ".ci-ml-*"))
    data = (baseline / "model.onnx").read_bytes()
    (baseline / "model.onnx").write_bytes(TAMPERING[kind](onnx.load_from_string(data), data))
    resum(baseline)
    out = tmp_path / "out"
    args = ["run", "--out", str(out), "--baseline", str(baseline)] + (
        [] if cache else ["--no-cache"]
    )
    code, stdout, stderr = run_here(args, project)
    assert "Traceback" not in stderr and "bug in ci-ml" not in stderr, stderr
    assert "model unchanged" not in stdout
    comparison = json.loads((out / "comparison.json").read_text())
    if kind != "another build's model":  # a file that is no loadable model is never scored
        assert comparison["baseline_status"] != "scored"
        assert "cannot be loaded" in comparison["baseline_problem"]
    if cache:  # the fingerprints matched: trained instead, with a warning saying why
        assert "the baseline's model.onnx cannot be reused" in stdout + stderr
    train = json.loads((out / "_build" / "train.json").read_text())
    assert not train.get("reused_from")
    # its own model is the one it built; a baseline it cannot score fails the gates or
    # the slice gates that need it (closed), never the data (3) or with a traceback (1)
    assert (out / "model.onnx").read_bytes() != (baseline / "model.onnx").read_bytes()
    assert code in (0, 4, 7), stderr


# --- signing: one policy for every path ------------------------------------------------


def _pem_private(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _pem_public(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def signing(built, tmp_path_factory) -> dict[str, Path]:
    """The baseline signed by our key, by another key, and not signed; key files."""
    project, base = built
    root = tmp_path_factory.mktemp("signing")
    ours, theirs = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    (root / "ours.pub").write_bytes(_pem_public(ours))
    (root / "rsa.pub").write_bytes(_pem_public(rsa.generate_private_key(65537, 2048)))
    (root / "garbage.pub").write_text("not a key\n")
    folders = {}
    for name, key in (("signed", ours), ("other key", theirs), ("unsigned", None)):
        folder = root / name
        shutil.copytree(base, folder, ignore=shutil.ignore_patterns(".ci-ml-lock"))
        if key is not None:
            os.environ["CI_ML_SIGNING_KEY"] = _pem_private(key)
            try:
                code, out, err = run_here(["sign", "--out", str(folder), "--sign", "key"], project)
            finally:
                del os.environ["CI_ML_SIGNING_KEY"]
            assert code == 0, out + err
        folders[name] = folder
    folders["keys"] = root
    return folders


def _require(project: Path, key: Path | None, target: Path) -> Path:
    """A copy of the project whose config requires signed models, verified with `key`."""
    shutil.copytree(project, target, ignore=shutil.ignore_patterns(".ci-ml"))
    cfg = yaml.safe_load((target / "ci-ml.yaml").read_text())
    cfg["signing"] = {"required": True, "public_key": str(key) if key else "missing.pub"}
    (target / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    return target


BASELINES = {"signed": 0, "other key": 9, "unsigned": 9}
KEYS = {"ours.pub": None, "garbage.pub": 2, "rsa.pub": 2, "missing.pub": 2}


@pytest.mark.parametrize("path", ["run", "verify", "diff"])
@pytest.mark.parametrize("key", list(KEYS))
@pytest.mark.parametrize("baseline", list(BASELINES))
def test_every_path_that_takes_a_model_in_applies_the_signing_policy(
    built, signing, path: str, key: str, baseline: str, tmp_path: Path
) -> None:
    project, _ = built
    key_file = None if key == "missing.pub" else signing["keys"] / key
    copy = _require(project, key_file, tmp_path / "project")
    folder = signing[baseline]
    argv = {
        "run": ["run", "--out", str(tmp_path / "out"), "--baseline", str(folder)],
        "verify": ["verify", str(folder), "--out", str(tmp_path / "v")],
        "diff": ["diff", str(folder), str(signing["signed"]), "--out", str(tmp_path / "d")],
    }[path]
    code, stdout, stderr = run_here(argv, copy)
    assert "Traceback" not in stderr and "bug in ci-ml" not in stderr, stderr
    # A key that cannot be used is a key problem (2), found before anything is built.
    expected = KEYS[key] if KEYS[key] is not None else BASELINES[baseline]
    assert code == expected, (code, stdout + stderr)
    if KEYS[key] == 2:
        assert "signing.public_key" in stderr or "signing.required" in stderr
        assert "changed after signing" not in stderr
        assert not (tmp_path / "out" / "model.onnx").exists()
    elif expected == 9:
        assert "signature" in stderr or "model.sig" in stderr


def test_an_rsa_private_key_is_refused_with_what_to_use_instead(built, tmp_path: Path) -> None:
    project, base = built
    folder = tmp_path / "b"
    shutil.copytree(base, folder, ignore=shutil.ignore_patterns(".ci-ml-lock"))
    os.environ["CI_ML_SIGNING_KEY"] = _pem_private(rsa.generate_private_key(65537, 2048))
    try:
        code, _, stderr = run_here(["sign", "--out", str(folder), "--sign", "key"], project)
    finally:
        del os.environ["CI_ML_SIGNING_KEY"]
    assert code == 2 and "not an elliptic-curve key" in stderr and "Traceback" not in stderr
    assert not (folder / "model.sig").exists()
