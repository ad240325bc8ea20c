"""Signed models: `model.onnx` and the artifact's `SHA256SUMS` (which lists every
other file) are signed together with the OpenSSF model-signing library, and the
signature (a Sigstore bundle) is published next to them as `model.sig`.

Two ways to sign: with an elliptic-curve private key (PEM) the team keeps as a
secret, verified with its public key; or keyless through Sigstore, with the
workflow's OIDC identity (`id-token: write`), verified against that identity
and issuer. Verification of a key signature needs no network; Sigstore's does
(its trust root and transparency log).

No environment is read here: the CLI says which key or identity to use.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ci_ml.artifact import SUMS
from ci_ml.errors import SignatureError, UsageError

SIGNATURE = "model.sig"
SIGNED = ("model.onnx", SUMS)
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class KeySigner:
    private_key: Path
    password: str | None = None


@dataclass(frozen=True)
class SigstoreSigner:
    identity_token: str | None = None  # None: model-signing finds the ambient one


@dataclass(frozen=True)
class Policy:
    """How to verify: a public key, or a Sigstore identity; `required` refuses an
    unsigned artifact."""

    public_key: Path | None = None
    identity: str | None = None
    issuer: str = GITHUB_ISSUER
    required: bool = False


KEY_HINT = (
    "model-signing signs with elliptic-curve keys: make a pair with `openssl ecparam -name "
    "prime256v1 -genkey -noout -out model.key` and `openssl ec -in model.key -pubout -out "
    "model.pub`"
)


def check_policy(policy: Policy) -> None:
    """Key problems are key problems (exit 2), found before anything is built or
    fetched, never read later as a model that "changed after signing"."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if policy.required and policy.public_key is None and policy.identity is None:
        raise UsageError(
            "signing.required is set, but nothing to verify a signature with is configured",
            hint="set signing.public_key (a PEM file) or signing.identity (Sigstore)",
        )
    key = policy.public_key
    if key is None:
        return
    try:
        data = key.read_bytes()
    except OSError as e:
        raise UsageError(
            f"signing.public_key: {key} cannot be read: {e.strerror or e}",
            hint="the path is relative to the config; commit the public key with it",
        ) from None
    try:
        loaded = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise UsageError(
            f"signing.public_key: {key} is not a PEM public key", hint=KEY_HINT
        ) from None
    if not isinstance(loaded, ec.EllipticCurvePublicKey):
        raise UsageError(
            f"signing.public_key: {key} is a {type(loaded).__name__.removeprefix('_')} key, not "
            "an elliptic-curve one",
            hint=KEY_HINT,
        )


def check_private_key(path: Path, password: str | None) -> None:
    """The signing key is an elliptic-curve private key in PEM, or a usage error
    saying what it is instead (model-signing fails on an RSA key with a traceback)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(
            path.read_bytes(), password.encode() if password else None
        )
    except (ValueError, TypeError, OSError) as e:
        raise UsageError(
            f"the signing key cannot be used: {str(e)[:200] or type(e).__name__}", hint=KEY_HINT
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise UsageError(
            f"the signing key is an {type(key).__name__.removeprefix('_')}, not an "
            "elliptic-curve key",
            hint=KEY_HINT,
        )


def _staged(directory: Path) -> tempfile.TemporaryDirectory[str]:
    """The signed files alone in a folder of their own (what model-signing hashes)."""
    tmp = tempfile.TemporaryDirectory(prefix="ci-ml-signed-")
    for name in SIGNED:
        src = directory / name
        if not src.is_file():
            tmp.cleanup()
            raise UsageError(
                f"{directory} has no {name} to sign or verify",
                hint="run `ci-ml run` first: the report stage writes SHA256SUMS",
            )
        shutil.copyfile(src, Path(tmp.name) / name)
    return tmp


def sign(directory: Path, signer: KeySigner | SigstoreSigner) -> Path:
    """Write `directory/model.sig` over model.onnx and SHA256SUMS."""
    from model_signing import signing

    config = signing.Config()
    if isinstance(signer, KeySigner):
        check_private_key(signer.private_key, signer.password)
        try:
            config.use_elliptic_key_signer(private_key=signer.private_key, password=signer.password)
        except (ValueError, TypeError) as e:
            raise UsageError(
                f"the signing key cannot be used: {str(e)[:200]}",
                hint="give an unencrypted (or password-given) EC private key in PEM, "
                "P-256/P-384/P-521 (openssl ecparam -name prime256v1 -genkey)",
            ) from None
    else:
        config.use_sigstore_signer(
            use_ambient_credentials=signer.identity_token is None,
            identity_token=signer.identity_token,
        )
    with _staged(directory) as tmp:
        out = directory / SIGNATURE
        config.sign(Path(tmp), out)
    return out


def verify(directory: Path, policy: Policy) -> str | None:
    """Check `directory/model.sig` against model.onnx and SHA256SUMS. Returns how it
    was verified, or None when there is no signature and none is required; raises
    SignatureError (exit 9) on anything else; a key that cannot be used is a usage
    error (exit 2), never a signature that does not verify."""
    sig = directory / SIGNATURE
    if not sig.is_file():
        if policy.required:
            raise SignatureError(
                f"{directory} has no {SIGNATURE}, and the config requires signed models",
                hint="publish with a signing key or Sigstore, or set signing.required: false",
            )
        return None
    check_policy(policy)  # required with nothing to verify with is the config's problem
    if policy.public_key is None and policy.identity is None:
        return None  # signed, not required, nothing to check it with
    from model_signing import verifying

    config = verifying.Config()
    try:
        if policy.public_key is not None:
            config.use_elliptic_key_verifier(public_key=policy.public_key)
            how = f"key {policy.public_key.name}"
        else:
            assert policy.identity is not None  # without either, returned above
            config.use_sigstore_verifier(identity=policy.identity, oidc_issuer=policy.issuer)
            how = f"Sigstore identity {policy.identity}"
        with _staged(directory) as tmp:
            config.verify(Path(tmp), sig)
    except UsageError:
        raise
    except Exception as e:  # model-signing raises ValueError, cryptography its own kinds
        detail = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise SignatureError(
            f"the signature of {directory} does not verify: {detail}",
            file=str(sig),
            hint="the model or SHA256SUMS changed after signing, or it was signed by "
            "another key or identity: do not use it",
        ) from None
    return how
