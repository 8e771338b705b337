#!/usr/bin/env bash
# Usage: [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=N] [SRUN_ARGS=...] \
#        tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# CPUs per task default to the config's train_dataloader.num_workers + 1
# (one per decoding worker plus the training process), or to
# SLURM_CPUS_PER_TASK inside an allocation. The rendezvous port is derived
# from the job id by tools/train.py (set MASTER_PORT to override).
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
SRUN_ARGS=${SRUN_ARGS:-""}
PY_ARGS=("${@:5}")
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

if [[ -z "${CPUS_PER_TASK:-}" ]]; then
  if [[ -n "${SLURM_CPUS_PER_TASK:-}" ]]; then
    CPUS_PER_TASK=$SLURM_CPUS_PER_TASK
  else
    WORKERS=$(python - "$CONFIG" <<'PY'
import sys
from mmengine.config import Config
cfg = Config.fromfile(sys.argv[1], import_custom_modules=False)
print(int((cfg.get('train_dataloader') or {}).get('num_workers', 0)))
PY
)
    CPUS_PER_TASK=$(( WORKERS + 1 ))
  fi
fi
echo "slurm_train.sh: $GPUS tasks, $GPUS_PER_NODE per node, $CPUS_PER_TASK CPUs per task"

PYTHONPATH="$ROOT":${PYTHONPATH:-} \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    python -u "$ROOT/tools/train.py" "${CONFIG}" --work-dir="${WORK_DIR}" --launcher="slurm" "${PY_ARGS[@]}"
