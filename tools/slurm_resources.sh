# Sourced by slurm_train.sh and slurm_test.sh: what to ask Slurm for, from
# GPUS (processes in all) and GPUS_PER_NODE. With GPUS_PER_NODE=0 (a CPU-only
# partition) no GPU is requested, TASKS_PER_NODE defaults to GPUS and each
# task gets CPUS_PER_TASK=1 unless set (more leaves small nodes pending).
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
if [[ "${GPUS_PER_NODE}" -gt 0 ]]; then
    GRES=(--gres=gpu:"${GPUS_PER_NODE}")
    TASKS_PER_NODE=${GPUS_PER_NODE}
    CPUS_PER_TASK=${CPUS_PER_TASK:-5}
else
    GRES=()
    TASKS_PER_NODE=${TASKS_PER_NODE:-${GPUS}}
    CPUS_PER_TASK=${CPUS_PER_TASK:-1}
fi
SRUN_ARGS=${SRUN_ARGS:-""}
