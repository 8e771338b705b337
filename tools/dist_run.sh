#!/usr/bin/env bash
# Usage: tools/dist_run.sh GPUS SCRIPT [script args...]
# torchrun for the tools of this folder (dist_train.sh, dist_test.sh):
# GPUS processes on this node; NNODES, NODE_RANK, MASTER_ADDR and PORT for
# several nodes (the same command on every node); PYTHON for the
# interpreter (default: python).
GPUS=$1
SCRIPT=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/$SCRIPT" "${@:3}"
