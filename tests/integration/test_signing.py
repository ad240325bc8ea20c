"""Signed models with a local key pair (no network): publish signs model.onnx and
SHA256SUMS, `ci-ml verify` and every fetch of a baseline check the signature, and
a release whose files were replaced and re-summed stops the build (exit 9).
Keyless Sigstore signing needs the network and a workflow's OIDC token: not here."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ci_ml.errors import EXIT_SIGNATURE
from tests.conftest import run_cli
from tests.integration.conftest import HEAD_SHA, REPO
from tests.integration.test_registry_flow import env_for, ok, pr_event

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too


def key_pair(directory: Path) -> tuple[str, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    pub = directory / "model.pub"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pem, pub


@pytest.fixture
def signed(fake_github, example_copy, tmp_path):
    project = example_copy("regression")
    pem, pub = key_pair(project)
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    cfg["signing"] = {"public_key": "model.pub", "required": True}
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    env = env_for(fake_github, tmp_path)
    config = str(project / "ci-ml.yaml")
    ok(run_cli("run", "--config", config, "--out", str(tmp_path / "v1"), env=env))
    r = run_cli("publish", "--config", config, "--out", str(tmp_path / "v1"),
                env={**env, "CI_ML_SIGNING_KEY": pem})  # fmt: skip
    ok(r)
    assert "signed model.onnx and SHA256SUMS" in r.stdout and pem not in r.stdout + r.stderr
    return project, config


def assets(fake) -> dict:
    (release,) = fake.state.releases.values()
    return {a.name: a for a in fake.state.release_assets(release.id)}


def test_a_signed_release_verifies_and_is_checked_when_fetched(fake_github, signed, tmp_path):
    project, config = signed
    assert "model.sig" in assets(fake_github)
    env = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event())
    r = run_cli("verify", "model-v1", "--config", config, "--out", str(tmp_path / "v"), env=env)
    ok(r)
    assert "SHA256SUMS and signature verified (key model.pub)" in r.stdout
    r = run_cli("baseline", "fetch", "--config", config, "--out", str(tmp_path / "pr"), env=env)
    ok(r)
    assert "signature of" in r.stderr and "verified" in r.stderr

    other = tmp_path / "other"
    other.mkdir()
    _, wrong = key_pair(other)
    r = run_cli("verify", "model-v1", "--public-key", str(wrong), "--config", config,
                "--out", str(tmp_path / "w"), env=env)  # fmt: skip
    assert r.returncode == EXIT_SIGNATURE and "does not verify" in r.stderr

    # A signed release and no key anywhere: a usage problem naming the options, not exit 9.
    cfg = yaml.safe_load(Path(config).read_text())
    cfg.pop("signing", None)
    Path(config).write_text(yaml.safe_dump(cfg))
    r = run_cli("verify", "model-v1", "--config", config, "--out", str(tmp_path / "n"), env=env)
    assert r.returncode == 2 and "nothing to verify its signature with" in r.stderr, r.stderr
    assert "--public-key" in r.stderr


def test_replaced_and_resummed_files_stop_the_build(fake_github, signed, tmp_path):
    project, config = signed
    files = assets(fake_github)
    with fake_github.state.lock:  # an attacker swaps the metrics and fixes SHA256SUMS
        metrics = files["metrics.json"]
        metrics.data = metrics.data.replace(b'"primary"', b'"primary" ')
        sums = files["SHA256SUMS"]
        new = hashlib.sha256(metrics.data).hexdigest()
        lines = [
            f"{new}  metrics.json" if line.endswith("  metrics.json") else line
            for line in sums.data.decode().splitlines()
        ]
        sums.data = ("\n".join(lines) + "\n").encode()
    env = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event())
    r = run_cli("run", "--config", config, "--out", str(tmp_path / "pr"), "--baseline", "release",
                env=env)  # fmt: skip
    assert r.returncode == EXIT_SIGNATURE, r.stdout + r.stderr
    assert "does not verify" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "pr" / "baseline").exists()  # nothing unverified is left to use


def test_an_unsigned_release_is_refused_when_signatures_are_required(
    fake_github, example_copy, tmp_path
):
    project = example_copy("regression")
    env = env_for(fake_github, tmp_path)
    config = str(project / "ci-ml.yaml")
    ok(run_cli("run", "--config", config, "--out", str(tmp_path / "v1"), env=env))
    ok(run_cli("publish", "--config", config, "--out", str(tmp_path / "v1"), env=env))
    assert "model.sig" not in assets(fake_github)
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    cfg["signing"] = {"required": True}  # and nothing to verify with: a config problem
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    env = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event())
    r = run_cli("baseline", "fetch", "--config", config, "--out", str(tmp_path / "pr"), env=env)
    assert r.returncode == 2 and "nothing to verify a signature with" in r.stderr
    _, pub = key_pair(project)
    cfg["signing"] = {"required": True, "public_key": pub.name}
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    r = run_cli("baseline", "fetch", "--config", config, "--out", str(tmp_path / "pr"), env=env)
    assert r.returncode == EXIT_SIGNATURE and "has no model.sig" in r.stderr
    assert REPO
