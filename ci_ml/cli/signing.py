"""`ci-ml sign` and `ci-ml verify`, and the signer the other commands use: keys
and tokens come from the environment, read here only."""

from __future__ import annotations

import os
import tempfile
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml.cli.connect import registry_of_tag, signature_check
from ci_ml.config import load_config
from ci_ml.errors import UsageError
from ci_ml.services.signatures import policy_for, sign_or_unsign, signable_build, verify_strictly
from ci_ml.services.sources import resolve_source
from ci_ml.signing import KeySigner, SigstoreSigner

if TYPE_CHECKING:
    from ci_ml.cli import Runtime

KEY_ENV = "CI_ML_SIGNING_KEY"  # the PEM text of the private key (a secret)
KEY_PASSWORD_ENV = "CI_ML_SIGNING_KEY_PASSWORD"
OIDC_ENV = "ACTIONS_ID_TOKEN_REQUEST_URL"  # set when the workflow grants id-token: write


def signer_for(mode: str, rt: Runtime, keyfile: Path) -> KeySigner | SigstoreSigner | None:
    """--sign auto|key|sigstore|none → a signer (None: unsigned). A key from the
    environment is written to `keyfile` (private, deleted by the caller)."""
    pem = rt.env.get(KEY_ENV, "").strip()
    if mode == "none" or (mode == "auto" and not pem and not rt.env.get(OIDC_ENV)):
        return None
    if mode == "key" or (mode == "auto" and pem):
        if not pem:
            raise UsageError(
                f"--sign key needs the private key in ${KEY_ENV}",
                hint="pass it from a secret: env: CI_ML_SIGNING_KEY: ${{ secrets.MODEL_KEY }}",
            )
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(pem + "\n")
        rt.actions.mask(pem)
        return KeySigner(keyfile, rt.env.get(KEY_PASSWORD_ENV) or None)
    if not rt.env.get(OIDC_ENV):
        raise UsageError(
            "--sign sigstore needs the workflow's OIDC token",
            hint="grant `permissions: id-token: write` to the job that publishes",
        )
    return SigstoreSigner()


def sign_build(out: Path, mode: str, rt: Runtime) -> Path | None:
    """Sign a build's model.onnx and SHA256SUMS (None: unsigned)."""
    with tempfile.TemporaryDirectory(prefix="ci-ml-key-") as d:
        path = sign_or_unsign(out, signer_for(mode, rt, Path(d) / "key.pem"))
    if path is not None:
        print(f"signed model.onnx and SHA256SUMS: {path}")
    return path


def cmd_sign(args: Namespace, rt: Runtime) -> int:
    out = Path(args.out)
    with signable_build(load_config(args.config), out):
        if sign_build(out, "key" if args.sign == "auto" else args.sign, rt) is None:
            print("not signed (--sign none)")
    return 0


def cmd_verify(args: Namespace, rt: Runtime) -> int:
    cfg = load_config(args.config) if Path(args.config).is_file() else None
    policy = policy_for(cfg, args.public_key)
    source = resolve_source(
        args.source,
        Path(args.out) / "release",
        lambda: registry_of_tag(cfg, rt, args.source, args.network_timeout),
        signature_check(cfg, rt) if cfg is not None else None,
    )
    how = verify_strictly(source.directory, policy)
    print(f"{source.label}: SHA256SUMS and signature verified ({how})")
    return 0
