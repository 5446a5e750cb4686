#!/usr/bin/env bash
# Usage: tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]
#
# Starts GPUS test processes (srun tasks; default 8) on PARTITION. GPUS,
# GPUS_PER_NODE (0 on a partition without GPUs), TASKS_PER_NODE,
# CPUS_PER_TASK and SRUN_ARGS as in tools/slurm_train.sh; see
# docs/cluster.md.
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
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
    python -u "$(dirname "$0")/test.py" "${CONFIG}" "${CHECKPOINT}" \
    --launcher="slurm" "${@:5}"
