#!/usr/bin/env bash
# Regenerate requirements.lock: the exact versions, with hashes, that the action
# installs ci-ml's dependencies from. Resolved once for every Python and runner
# the action supports (uv's universal resolution), from pyproject.toml's
# dependencies and its `pytest` extra (a project's own model tests run in
# ci-ml's process), plus setuptools, which builds ci-ml itself without fetching
# anything unpinned, together with the model libraries' extras (xgboost,
# lightgbm, catboost): one resolution, so an extra never moves a package the
# base install has. A `# extra NAME: ...` line after the pins names the
# distributions only that extra needs: the action leaves them out unless the
# config names the library (ci_ml/install.py). Versions already in the lock are
# kept where they still satisfy pyproject.toml; pass --upgrade to move
# everything to the newest.
# Then every supported Python and platform is checked to have a wheel for every
# package (ci_ml/install.py lists them; the action refuses the others).
#
#   scripts/update-lock.sh [--upgrade]      (needs uv and PyPI)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

extras=$(python3 -c 'import sys; sys.path.insert(0, "ci_ml"); import install; print(" ".join(sorted(set(install.EXTRAS.values()))))')
compile() {  # compile OUTPUT [--extra NAME ...] [uv options]
  local out=$1; shift
  printf 'setuptools>=77\n' | uv pip compile pyproject.toml - --extra pytest \
    --universal --python-version 3.10 --generate-hashes --quiet \
    --custom-compile-command "scripts/update-lock.sh" --output-file "$out" "$@"
}
names() { grep -oE '^[A-Za-z0-9][A-Za-z0-9._-]*==' "$1" | sed 's/==$//' | tr 'A-Z_.' 'a-z--' | sort -u; }

all=(); for e in $extras; do all+=(--extra "$e"); done
compile requirements.lock "${all[@]}" "$@"
# Each extra's own distributions: what base + that extra resolves to, less the base's
# (both resolved with the lock's versions as preferences, so they agree with it).
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp requirements.lock "$tmp/base.lock"; compile "$tmp/base.lock"
for e in $extras; do
  cp requirements.lock "$tmp/$e.lock"; compile "$tmp/$e.lock" --extra "$e"
  echo "# extra $e: $(comm -13 <(names "$tmp/base.lock") <(names "$tmp/$e.lock") | tr '\n' ' ' | sed 's/ $//')" >> requirements.lock
done

pythons=$(python3 -c 'import sys; sys.path.insert(0, "ci_ml"); import install; print(" ".join(f"{a}.{b}" for a, b in install.PYTHONS))')
# Linux runners (manylinux_2_28: Ubuntu 20.04 and later) and Apple-silicon macOS 14+.
for py in $pythons; do
  for target in x86_64-manylinux_2_28 aarch64-manylinux_2_28 aarch64-apple-darwin; do
    MACOSX_DEPLOYMENT_TARGET=14.0 uv pip compile requirements.lock --quiet --no-header \
      --python-version "$py" --python-platform "$target" --only-binary :all: --output-file /dev/null \
      || { echo "requirements.lock: no wheels for Python $py on $target (see above)" >&2; exit 1; }
  done
done
echo "requirements.lock: $(grep -c '==' requirements.lock) pins (extras: $extras), wheels for Python $pythons on Linux x86_64/aarch64 and macOS arm64"
