"""Which signer a command uses, and what verification asks for, without a network:
keys are made by the test; Sigstore is only chosen, never called."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ci_ml import signing
from ci_ml.cli import Runtime
from ci_ml.cli.signing import signer_for
from ci_ml.errors import SignatureError, UsageError


def pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(private: Path) -> str:
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


OIDC = {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.invalid/"}


@pytest.mark.parametrize(
    ("mode", "env", "want"),
    [
        ("none", {"CI_ML_SIGNING_KEY": "k"}, None),
        ("auto", {}, None),
        ("auto", OIDC, signing.SigstoreSigner),
        ("sigstore", OIDC, signing.SigstoreSigner),
    ],
)
def test_signer_choice(tmp_path, mode, env, want) -> None:
    got = signer_for(mode, Runtime(env), tmp_path / "key.pem")
    assert (type(got) if got else None) is want


def test_a_key_from_the_environment_is_written_privately(tmp_path) -> None:
    got = signer_for("auto", Runtime({"CI_ML_SIGNING_KEY": pem(), **OIDC}), tmp_path / "k.pem")
    assert isinstance(got, signing.KeySigner)  # the key wins over Sigstore
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("mode", "message"), [("key", "CI_ML_SIGNING_KEY"), ("sigstore", "id-token: write")]
)
def test_a_signer_that_cannot_be_had_is_a_usage_error(tmp_path, mode, message) -> None:
    with pytest.raises(UsageError, match=message):
        signer_for(mode, Runtime({}), tmp_path / "k.pem")


def artifact(tmp_path: Path) -> Path:
    out = tmp_path / "a"
    out.mkdir()
    (out / "model.onnx").write_bytes(b"onnx")
    (out / "SHA256SUMS").write_text("x  model.onnx\n")
    return out


def test_a_bad_key_is_named(tmp_path) -> None:
    (tmp_path / "k.pem").write_text("not a key")
    with pytest.raises(UsageError, match="signing key cannot be used"):
        signing.sign(artifact(tmp_path), signing.KeySigner(tmp_path / "k.pem"))


def test_nothing_to_sign_is_named(tmp_path) -> None:
    with pytest.raises(UsageError, match="no SHA256SUMS"):
        (tmp_path / "k.pem").write_text(pem())
        empty = tmp_path / "e"
        empty.mkdir()
        (empty / "model.onnx").write_bytes(b"x")
        signing.sign(empty, signing.KeySigner(tmp_path / "k.pem"))


def test_verification_policies(tmp_path) -> None:
    out = artifact(tmp_path)
    assert signing.verify(out, signing.Policy()) is None  # unsigned, not required
    # Unsigned where a signature is required: refused whatever the keys.
    with pytest.raises(SignatureError, match="requires signed models"):
        signing.verify(out, signing.Policy(required=True))
    (tmp_path / "k.pem").write_text(pem())
    (tmp_path / "k.pub").write_text(public_pem(tmp_path / "k.pem"))
    with pytest.raises(SignatureError, match="requires signed models"):
        signing.verify(out, signing.Policy(required=True, public_key=tmp_path / "k.pub"))
    signing.sign(out, signing.KeySigner(tmp_path / "k.pem"))
    assert signing.verify(out, signing.Policy()) is None  # signed, nothing to check with
    # Signed, required, nothing to verify with: the config's problem (exit 2), not exit 9.
    with pytest.raises(UsageError, match="nothing to verify a signature with"):
        signing.verify(out, signing.Policy(required=True))
    assert signing.verify(out, signing.Policy(required=True, public_key=tmp_path / "k.pub"))
