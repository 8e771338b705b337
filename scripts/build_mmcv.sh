#!/usr/bin/env bash
# Build mmcv (with its compiled CPU ops) from the PyPI sdist against the exact torch in the venv,
# and cache the wheel outside the repo. Why a build at all: mmcv publishes no wheel for torch 2.14.
# What is patched, and why (nothing else is touched):
#   * setup.py forces -std=c++14/-std=c++17 for the C++ compiler; torch 2.14's ATen headers
#     `#error` unless C++20, so every such flag is raised to -std=c++20.
# Cache key = mmcv version + torch version + CPython tag: pip's own wheel cache would reuse a
# wheel built against another torch, whose ABI differs, so it is bypassed (--no-cache-dir).
set -euo pipefail
PY="$1"; MMCV_VERSION="$2"
TORCH_V="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')"
PY_TAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
CACHE="${VICMAE_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vicmae_mm/wheels}/mmcv-$MMCV_VERSION-torch$TORCH_V-$PY_TAG"
installed="$("$PY" -c 'import mmcv, mmcv.ops, torch; print(mmcv.__version__)' 2>/dev/null || true)"
if [[ "$installed" == "$MMCV_VERSION" && -f "$CACHE/.torch_$TORCH_V" ]]; then
  echo "[mmcv] $MMCV_VERSION with ops already installed for torch $TORCH_V"; exit 0
fi
if ! ls "$CACHE"/mmcv-*.whl >/dev/null 2>&1; then
  echo "[mmcv] no cached wheel in $CACHE: building from sdist (about 10-15 min on 2 cores)"
  work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
  "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$work" 
  tar -xzf "$work"/mmcv-"$MMCV_VERSION".tar.gz -C "$work"
  src="$work/mmcv-$MMCV_VERSION"
  sed -i -E 's/-std=c\+\+1[47]/-std=c++20/g' "$src/setup.py"
  grep -q -- '-std=c++20' "$src/setup.py" || { echo "[mmcv] patch did not apply: setup.py changed upstream" >&2; exit 1; }
  (cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
     "$PY" -m pip wheel --no-deps --no-build-isolation --no-cache-dir -w "$work/dist" .)
  mkdir -p "$CACHE"; cp "$work"/dist/mmcv-*.whl "$CACHE"/
fi
"$PY" -m pip install -q --no-deps --force-reinstall "$CACHE"/mmcv-*.whl
"$PY" -c 'import mmcv.ops; from mmcv.ops import nms, RoIAlign' || { echo "[mmcv] compiled ops do not import" >&2; exit 1; }
touch "$CACHE/.torch_$TORCH_V"
echo "[mmcv] installed $(ls "$CACHE"/mmcv-*.whl)"
