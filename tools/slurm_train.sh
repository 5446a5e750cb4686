#!/usr/bin/env bash
# Usage: tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [GPUS] [train.py args]
#
# Starts GPUS training processes (srun tasks; also from the GPUS variable,
# default 8) on PARTITION. Environment variables:
#   GPUS_PER_NODE  GPUs (and tasks) per node, default min(GPUS, 8). 0 on a
#                  partition without GPUs: no GPU is requested and the
#                  processes train on CPU (gloo).
#   TASKS_PER_NODE tasks per node on a CPU partition, default GPUS (one
#                  node); with GPUs it is GPUS_PER_NODE.
#   CPUS_PER_TASK  default 5 with GPUs (data loading workers); 1 without
#                  (Slurm's own default: fits any node; raise it to the
#                  cores each process should use).
#   SRUN_ARGS      more srun options, e.g. "--time=12:00:00".
# See docs/cluster.md.
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
if [[ "$5" =~ ^[0-9]+$ ]]; then
    GPUS=$5
    PY_ARGS=("${@:6}")
else
    PY_ARGS=("${@:5}")
fi
# GRES, TASKS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS
source "$(dirname "$0")/slurm_resources.sh"

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    "${GRES[@]}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${TASKS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    python -u "$(dirname "$0")/train.py" "${CONFIG}" \
    --work-dir="${WORK_DIR}" --launcher="slurm" "${PY_ARGS[@]}"
