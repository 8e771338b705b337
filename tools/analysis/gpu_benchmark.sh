#!/usr/bin/env bash
# ViT-L/16 ViC-MAE pretraining on one CUDA GPU: bf16 pairs/s, step split,
# MFU against a bf16 matmul peak measured in the same run, peak memory.
# Fits in ~5 minutes on an H100/H200 (model build ~30 s, 2 warm-up + 3x4
# timed steps per variant, fp32 comparison included).
#
#   bash tools/analysis/gpu_benchmark.sh              # defaults below
#   BATCH=32 OUT=/tmp/bench bash tools/analysis/gpu_benchmark.sh
#
# Writes $OUT/vitl_bf16.{txt,json} and $OUT/gpu.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python}
CONFIG=${CONFIG:-configs/vicmae/pretrain_vitl.py}
BATCH=${BATCH:-64}          # pairs per step (128 images)
STEPS=${STEPS:-4}
REPEATS=${REPEATS:-3}
OUT=${OUT:-work_dirs/gpu_benchmark}
mkdir -p "$OUT"

if ! "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_benchmark.sh: no CUDA device visible to PyTorch" >&2
    exit 1
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit \
    --format=csv | tee "$OUT/gpu.txt"

# ours in bf16 (AmpOptimWrapper) and in fp32, interleaved; the bf16 and
# fp32 dense matmul peaks (8192^2) are measured between the rounds.
# The fast ViC-MAE decoder and the fused AdamW kernel are forced here so
# the figure does not depend on the config's defaults.
"$PYTHON" tools/analysis/benchmark_pretrain.py "$CONFIG" \
    --device cuda --amp --dtype bfloat16 --compare-fp32 \
    --batch "$BATCH" --steps "$STEPS" --repeats "$REPEATS" --warmup 2 \
    --peak-size 8192 --memory --json "$OUT/vitl_bf16.json" \
    --cfg-options model.neck.type=ViCMAEPretrainDecoder \
    optim_wrapper.optimizer.fused=True \
    2>&1 | tee "$OUT/vitl_bf16.txt"
