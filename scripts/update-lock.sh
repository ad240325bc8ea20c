#!/usr/bin/env bash
# Regenerate requirements.lock: the exact versions, with hashes, that the action
# installs ci-ml's dependencies from. Resolved once for every Python and runner
# the action supports (uv's universal resolution), from pyproject.toml's
# dependencies, its `pytest` extra (a project's own model tests run in
# ci-ml's process) and its `dask` extra (engine: {kind: dask}), plus setuptools, which builds ci-ml itself without fetching
# anything unpinned. Versions already in the lock are kept where they still
# satisfy pyproject.toml; pass --upgrade to move everything to the newest.
# Then every supported Python and platform is checked to have a wheel for every
# package (ci_ml/install.py lists them; the action refuses the others).
#
#   scripts/update-lock.sh [--upgrade]      (needs uv and PyPI)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

printf 'setuptools>=77\n' | uv pip compile pyproject.toml - --extra pytest --extra dask \
  --universal --python-version 3.10 --generate-hashes --quiet \
  --custom-compile-command "scripts/update-lock.sh" \
  --output-file requirements.lock "$@"

pythons=$(python3 -c 'import sys; sys.path.insert(0, "ci_ml"); import install; print(" ".join(f"{a}.{b}" for a, b in install.PYTHONS))')
# Linux runners (manylinux_2_28: Ubuntu 20.04 and later) and Apple-silicon macOS 14+.
for py in $pythons; do
  for target in x86_64-manylinux_2_28 aarch64-manylinux_2_28 aarch64-apple-darwin; do
    MACOSX_DEPLOYMENT_TARGET=14.0 uv pip compile requirements.lock --quiet --no-header \
      --python-version "$py" --python-platform "$target" --only-binary :all: --output-file /dev/null \
      || { echo "requirements.lock: no wheels for Python $py on $target (see above)" >&2; exit 1; }
  done
done
echo "requirements.lock: $(grep -c '==' requirements.lock) pins, wheels for Python $pythons on Linux x86_64/aarch64 and macOS arm64"
