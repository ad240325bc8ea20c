"""`ci-ml sign` and `ci-ml verify`, and the signer and verifier the other
commands use: keys and tokens come from the environment, read here only."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.errors import UsageError

if TYPE_CHECKING:
    from ci_ml.cli import Runtime
    from ci_ml.config import Config
    from ci_ml.signing import KeySigner, Policy, SigstoreSigner

KEY_ENV = "CI_ML_SIGNING_KEY"  # the PEM text of the private key (a secret)
KEY_PASSWORD_ENV = "CI_ML_SIGNING_KEY_PASSWORD"
OIDC_ENV = "ACTIONS_ID_TOKEN_REQUEST_URL"  # set when the workflow grants id-token: write


def policy_for(cfg: Config | None, public_key: str | None = None) -> Policy:
    from ci_ml.signing import Policy

    s = cfg.signing if cfg is not None else None
    key: Path | None = None
    if public_key:
        key = Path(public_key)
    elif cfg is not None and s is not None and s.public_key:
        key = cfg.resolve(s.public_key)
    return Policy(
        public_key=key,
        identity=s.identity if s else None,
        issuer=s.issuer if s else Policy().issuer,
        required=bool(s and s.required),
    )


def verifier_for(cfg: Config, rt: Runtime) -> Any:
    """The check a fetched baseline or release goes through (its signature)."""
    from ci_ml.signing import verify

    policy = policy_for(cfg)

    def check(directory: Path) -> None:
        how = verify(directory, policy)
        if how:
            rt.actions.notice(f"signature of {directory.name} verified ({how})")

    return check


def signer_for(mode: str, rt: Runtime, keyfile: Path) -> KeySigner | SigstoreSigner | None:
    """--sign auto|key|sigstore|none → a signer (None: unsigned). A key from the
    environment is written to `keyfile` (private, deleted by the caller)."""
    from ci_ml.signing import KeySigner, SigstoreSigner

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
    from ci_ml.signing import sign

    with tempfile.TemporaryDirectory(prefix="ci-ml-key-") as d:
        signer = signer_for(mode, rt, Path(d) / "key.pem")
        if signer is None:
            (out / "model.sig").unlink(missing_ok=True)  # never publish a stale one
            return None
        path = sign(out, signer)
    print(f"signed model.onnx and SHA256SUMS: {path}")
    return path


def cmd_sign(args: Any, rt: Runtime) -> int:
    from ci_ml.build import Build
    from ci_ml.config import load_config

    out = Path(args.out)
    from ci_ml.stages import chain

    with Build(load_config(args.config), out, chain()).open(create=False) as b:
        problems = b.publish_problems()
        if problems:
            raise UsageError(
                f"refusing to sign {out}: it is not a complete, current build: "
                + "; ".join(problems),
                hint="run `ci-ml run` and sign what it builds",
            )
        if sign_build(out, "key" if args.sign == "auto" else args.sign, rt) is None:
            print("not signed (--sign none)")
    return 0


def cmd_verify(args: Any, rt: Runtime) -> int:
    from ci_ml.artifact import verify_sums
    from ci_ml.cli.repro import resolve_source
    from ci_ml.config import load_config
    from ci_ml.signing import Policy, verify

    cfg = load_config(args.config) if Path(args.config).is_file() else None
    policy = policy_for(cfg, args.public_key)
    directory, label = resolve_source(args, rt, args.source, Path(args.out) / "release", cfg)
    verify_sums(directory)
    strict = Policy(policy.public_key, policy.identity, policy.issuer, required=True)
    how = verify(directory, strict)
    print(f"{label}: SHA256SUMS and signature verified ({how})")
    return 0
