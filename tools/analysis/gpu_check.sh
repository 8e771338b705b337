#!/usr/bin/env bash
# The GPU path end to end on one CUDA GPU, in about 6-8 minutes on an
# H100/H200:
#   1. ViT-B/16 pretraining with the real Runner (tools/train.py) on
#      synthetic 224 px images: 15 iterations, save, `--resume` to 30, in
#      bf16 and again in fp16 (loss scaling), with the default hooks plus
#      the kNN and reconstruction hooks; checks that each resumed run went
#      on from iteration 15 and that every logged loss is finite;
#   2. FSDP (bf16 mixed precision, full checkpoints) on a tiny ViT through
#      torchrun and NCCL: save, --resume;
#   3. ViT-L/16 bf16 speed (pairs/s), MFU against a bf16 matmul peak
#      measured in the same run, and peak memory with and without
#      activation checkpointing (tools/analysis/benchmark_pretrain.py).
#
#   bash tools/analysis/gpu_check.sh                 # OUT=work_dirs/gpu_check
#   OUT=/tmp/check BATCH_B=64 BATCH_L=64 bash tools/analysis/gpu_check.sh
#
# One GPU cannot run NCCL with two ranks (NCCL refuses two ranks on one
# device), so multi-rank collectives are checked by the test suite's
# NCCL-rule harness (tests/test_dist/), not here.
# Writes $OUT/summary.txt (and the logs of every step) and exits non-zero
# at the first failure, naming it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PYTHON=${PYTHON:-python}
OUT=$(mkdir -p "${OUT:-work_dirs/gpu_check}" && cd "${OUT:-work_dirs/gpu_check}" && pwd)
BATCH_B=${BATCH_B:-64}
BATCH_L=${BATCH_L:-64}
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
say() { echo "[gpu_check] $*" | tee -a "$SUMMARY"; }
fail() { say "FAILED: $*"; exit 1; }

"$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
  || fail "no CUDA device visible to PyTorch"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  | tee -a "$SUMMARY"
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "bf16:", torch.cuda.is_bf16_supported())' \
  | tee -a "$SUMMARY"

# -- synthetic data: 512 unlabelled images for pretraining, 2 x 64 labelled
#    images (colour classes) for the kNN monitor ---------------------------
"$PYTHON" - "$OUT/data" <<'PY'
import os, sys
import numpy as np
import cv2
root = sys.argv[1]
rng = np.random.default_rng(0)
def img(colour=None):
    yy, xx = np.mgrid[0:256, 0:256]
    base = np.stack([xx, yy, np.full_like(xx, rng.integers(0, 255))], -1)
    if colour is not None:
        base = np.clip(np.array(colour) + rng.normal(0, 30, (256, 256, 3)), 0, 255)
    x0, y0 = rng.integers(0, 160, size=2)
    base[y0:y0 + 80, x0:x0 + 80] = rng.integers(0, 255, 3)
    return base.astype(np.uint8)
os.makedirs(f'{root}/pretrain', exist_ok=True)
for i in range(512):
    cv2.imwrite(f'{root}/pretrain/{i:04d}.jpg', img())
for split in ('train', 'val'):
    for c, colour in enumerate([(220, 40, 40), (40, 220, 40), (40, 40, 220), (200, 200, 40)]):
        os.makedirs(f'{root}/{split}/c{c}', exist_ok=True)
        for i in range(16):
            cv2.imwrite(f'{root}/{split}/c{c}/{i}.jpg', img(colour))
PY

# -- a config: the ViT-B recipe on that data, short schedule ---------------
cat > "$OUT/pretrain_vitb_gpu_check.py" <<PY
_base_ = ['$ROOT/configs/vicmae/pretrain_vitb.py']
knn_loader = dict(
    batch_size=32, num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root='$OUT/data/train',
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='Resize', scale=(224, 224)),
                           dict(type='PackInputs')]))
train_dataloader = dict(
    _delete_=True, batch_size=$BATCH_B, num_workers=8,
    persistent_workers=True, pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root='$OUT/data/pretrain',
                 with_label=False, pipeline=_base_.image_pair_pipeline))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=30)
param_scheduler = [dict(type='LinearLR', start_factor=1e-3, by_epoch=False,
                        begin=0, end=10)]
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(by_epoch=False, interval=15, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
custom_hooks = _base_.custom_hooks + [
    dict(type='ReconstructionVisHook', interval=15, num_samples=2),
    dict(type='KNNMonitorHook', interval=15, k=10,
         train_dataloader=knn_loader,
         val_dataloader=dict(knn_loader, dataset=dict(
             knn_loader['dataset'], data_root='$OUT/data/val'))),
]
auto_scale_lr = dict(base_batch_size=$BATCH_B)
PY

train_and_resume() {  # name, extra cfg-options...
  local name=$1; shift
  local work="$OUT/$name"
  say "ViT-B/16 $name: 15 iterations, then --resume to 30"
  local t0=$SECONDS
  "$PYTHON" tools/train.py "$OUT/pretrain_vitb_gpu_check.py" --work-dir "$work" --amp \
      --cfg-options train_cfg.max_iters=15 "$@" > "$OUT/$name.part1.log" 2>&1 \
    || fail "$name part 1 (see $OUT/$name.part1.log)"
  [[ -f "$work/iter_15.pth" ]] || fail "$name: no iter_15.pth"
  "$PYTHON" tools/train.py "$OUT/pretrain_vitb_gpu_check.py" --work-dir "$work" --amp \
      --resume "$@" > "$OUT/$name.part2.log" 2>&1 \
    || fail "$name resume (see $OUT/$name.part2.log)"
  grep -q "resumed epoch: 0, iter: 15" "$OUT/$name.part2.log" || fail "$name did not resume from iter 15"
  [[ -f "$work/iter_30.pth" ]] || fail "$name: no iter_30.pth"
  "$PYTHON" - "$work" "$name" <<'PY' | tee -a "$SUMMARY" || fail "$name: bad log"
import glob, json, math, sys
rows = []
for f in sorted(glob.glob(f'{sys.argv[1]}/*/vis_data/scalars.json')):
    rows += [json.loads(l) for l in open(f) if l.strip()]
iters = [r['iter'] for r in rows if 'loss' in r]
assert iters and iters[-1] == 30, iters
assert all(math.isfinite(r['loss']) for r in rows if 'loss' in r)
knn = [r['knn_top1'] for r in rows if 'knn_top1' in r]
assert knn, 'kNN monitor did not log'
assert glob.glob(f'{sys.argv[1]}/*/vis_data/vis_image/reconstruction_*.png'), 'no reconstruction grid'
last = [r for r in rows if 'loss' in r][-1]
print(f"  {sys.argv[2]}: iter {last['iter']} loss {last['loss']:.4f} "
      f"loss_rec {last['loss_rec']:.4f} loss_nce {last['loss_nce']:.4f} "
      f"kNN top-1 {knn[-1]:.1f}%  s/iter {last.get('time', float('nan')):.3f}")
PY
  grep -h "AMP on GPU" "$OUT/$name.part1.log" | tail -1 | tee -a "$SUMMARY" || true
  say "  $name took $((SECONDS - t0)) s"
}
train_and_resume bf16
train_and_resume fp16 optim_wrapper.dtype=float16 optim_wrapper.loss_scale=dynamic

# -- FSDP (bf16, full checkpoints) through torchrun + NCCL, 1 process -----
say "FSDP (tiny ViT, bf16 mixed precision): 2 iterations, save, --resume to 4"
fsdp() {  # log name, extra train.py args...
  local log=$1; shift
  "$PYTHON" -m torch.distributed.run --nproc_per_node=1 --master_port=29617 \
      tools/train.py tests/configs/pretrain_tiny_fsdp.py --launcher pytorch \
      --work-dir "$OUT/fsdp" "$@" --cfg-options env_cfg.dist_cfg.backend=nccl \
      train_dataloader.dataset.data_root="$OUT/data/pretrain" \
      > "$OUT/$log" 2>&1 || fail "FSDP $log (see $OUT/$log)"
}
fsdp fsdp.part1.log --cfg-options train_cfg.max_iters=2
fsdp fsdp.part2.log --resume
grep -q "resumed epoch: 0, iter: 2" "$OUT/fsdp.part2.log" || fail "FSDP did not resume from iter 2"
"$PYTHON" -c "import torch, sys; c = torch.load(sys.argv[1], weights_only=True); \
assert c['meta']['iter'] == 4 and any(k.startswith('backbone.') for k in c['state_dict']); \
print('  FSDP checkpoint', sys.argv[1], 'loads weights-only,', len(c['state_dict']), 'tensors')" \
    "$OUT/fsdp/iter_4.pth" | tee -a "$SUMMARY" || fail "FSDP checkpoint"

# -- ViT-L/16 speed, MFU and memory ---------------------------------------
say "ViT-L/16 bf16: pairs/s, MFU, peak memory (with and without activation checkpointing)"
"$PYTHON" tools/analysis/benchmark_pretrain.py configs/vicmae/pretrain_vitl.py \
    --device cuda --amp --dtype bfloat16 --checkpoint-activations \
    --batch "$BATCH_L" --steps 3 --repeats 3 --warmup 2 \
    --peak-size 8192 --memory --json "$OUT/vitl_bf16.json" \
    > "$OUT/vitl_bf16.txt" 2>&1 || fail "ViT-L benchmark (see $OUT/vitl_bf16.txt)"
tail -n 25 "$OUT/vitl_bf16.txt" | tee -a "$SUMMARY"
say "done in $SECONDS s"
