#!/usr/bin/env bash
# One install path for the demo, the tests and CI: creates .venv at the repo root with the
# OpenMMLab stack that vicmae_mm is pinned to, then installs vicmae_mm in editable mode.
# Idempotent: a finished install is detected by a stamp and re-checked in seconds.
#
# Pinned combination (see docs/get_started.md for why):
#   torch 2.14.1 + torchvision 0.29.1   (PyPI torchvision does not import beside the 2.13 CPU file)
#   mmcv 2.1.0 built from sdist WITH ops (no wheel exists for this torch; see scripts/build_mmcv.sh)
#   mmengine 0.10.7, mmpretrain 1.2.0, mmdet 3.3.0 (asserts mmcv<2.2.0), mmaction2 1.2.0
#   mmaction2 1.2.0's wheel lacks mmaction/models/localizers/drn; vicmae_mm.utils.compat
#   provides that module on import (no site-packages patching, works in users' own envs too).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VICMAE_VENV:-$ROOT/.venv}"
PY_BOOT="${PYTHON:-python3}"
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
STAMP="$VENV/.vicmae_install_stamp"

step() { printf '\n[install] %s\n' "$*"; }
fail() { printf '\n[install] FAILED: %s\n[install] what to do: %s\n' "$1" "$2" >&2; exit 1; }

# The stamp records every pinned input, so editing a pin re-runs the install.
WANT_STAMP="torch=$TORCH_VERSION tv=$TORCHVISION_VERSION mmcv=$MMCV_VERSION req=$(sha1sum "$ROOT/requirements/runtime.txt" "$ROOT/requirements/tests.txt" "$ROOT/setup.py" | sha1sum | cut -c1-12)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT_STAMP" ]]; then
  if "$VENV/bin/python" -c "import vicmae_mm, mmpretrain.models, mmaction.models, mmdet.models, mmcv.ops, decord" 2>/dev/null; then
    echo "[install] .venv is up to date ($WANT_STAMP)"; exit 0
  fi
  echo "[install] stamp present but imports fail: reinstalling"
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  step "creating virtual environment $VENV"
  "$PY_BOOT" -m venv "$VENV" || fail "python3 -m venv" "install the python3-venv package (apt-get install python3-venv)"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || fail "Python 3.11 required (found $("$PY" -V))" "set PYTHON=python3.11 and remove .venv"

step "torch $TORCH_VERSION + torchvision $TORCHVISION_VERSION"
"${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" \
  || fail "pip install torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION" "check that PyPI is reachable and pip's constraint file allows these versions"

step "build tools (setuptools<81 because mmcv's setup.py imports pkg_resources)"
"${PIP[@]}" install -q "setuptools>=77,<81" wheel ninja "numpy<2" \
  || fail "pip install build tools" "check that PyPI is reachable"

step "mmcv's own dependencies (pinned by requirements/runtime.txt)"
"${PIP[@]}" install -q -c "$ROOT/requirements/runtime.txt" numpy opencv-python mmengine addict yapf Pillow pyyaml packaging \
  || fail "pip install mmcv dependencies" "check that PyPI is reachable"

step "mmcv $MMCV_VERSION with compiled ops"
bash "$ROOT/scripts/build_mmcv.sh" "$PY" "$MMCV_VERSION" \
  || fail "building/installing mmcv $MMCV_VERSION" "read the compiler output above; remove the cached wheel dir printed above and retry"

step "OpenMMLab libraries, decord, pycocotools and vicmae_mm (editable)"
"${PIP[@]}" install -q -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
  || fail "pip install -r requirements/*.txt" "check the pins in requirements/ against PyPI"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT" \
  || fail "pip install -e ." "check setup.py"

step "verifying imports"
"$PY" - <<'PYEOF' || fail "import check" "see the traceback above"
import torch, mmcv, mmengine
import vicmae_mm, mmpretrain.models, mmaction.models, mmdet.models, mmcv.ops, decord
from mmcv.ops import nms
print(f'torch {torch.__version__}  mmcv {mmcv.__version__}  mmengine {mmengine.__version__}')
PYEOF
echo "$WANT_STAMP" > "$STAMP"
echo "[install] done"
