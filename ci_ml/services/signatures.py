"""Signing a build and verifying an artifact: the policy comes from the config;
the key or identity to sign with is the CLI's (it reads the environment)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ci_ml import stages
from ci_ml.artifact import verify_sums
from ci_ml.build import Build
from ci_ml.config import Config
from ci_ml.errors import UsageError
from ci_ml.signing import SIGNATURE, KeySigner, Policy, SigstoreSigner, sign, verify


def policy_for(cfg: Config | None, public_key: str | None = None) -> Policy:
    """How fetched baselines and releases are verified: `public_key` (a path given
    on the command line), else the config's signing section."""
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


def sign_or_unsign(out: Path, signer: KeySigner | SigstoreSigner | None) -> Path | None:
    """Sign a build's model.onnx and SHA256SUMS; without a signer, remove a signature
    an earlier run left (a stale one is never published). None: unsigned."""
    if signer is None:
        (out / SIGNATURE).unlink(missing_ok=True)
        return None
    return sign(out, signer)


@contextlib.contextmanager
def signable_build(cfg: Config, out: Path) -> Iterator[None]:
    """Hold the build folder's lock while it is signed; only a complete, current
    build may be."""
    with Build(cfg, out, stages.chain()).open(create=False) as b:
        problems = b.publish_problems()
        if problems:
            raise UsageError(
                f"refusing to sign {out}: it is not a complete, current build: "
                + "; ".join(problems),
                hint="run `ci-ml run` and sign what it builds",
            )
        yield


def verify_strictly(directory: Path, policy: Policy) -> str | None:
    """Checksums, then the signature, which must be there (`ci-ml verify`)."""
    verify_sums(directory)
    if (directory / SIGNATURE).is_file() and policy.public_key is None and policy.identity is None:
        raise UsageError(
            f"{directory} is signed, and nothing to verify its signature with is given",
            hint="pass --public-key PEM, or set signing.public_key or signing.identity "
            "(Sigstore) in the config",
        )
    strict = Policy(policy.public_key, policy.identity, policy.issuer, required=True)
    return verify(directory, strict)
