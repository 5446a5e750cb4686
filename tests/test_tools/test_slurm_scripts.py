"""tools/slurm_train.sh and tools/slurm_test.sh build the srun command a
GPU or a CPU-only partition accepts (checked with a stand-in ``srun`` that
prints its arguments; no Slurm needed)."""
import os
import subprocess

import pytest

from toolbox import ROOT

pytestmark = pytest.mark.slow

FAKE_SRUN = '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n'


def srun_args(tmp_path, script, *args, **env):
    fake = tmp_path / 'bin'
    fake.mkdir(exist_ok=True)
    (fake / 'srun').write_text(FAKE_SRUN)
    (fake / 'srun').chmod(0o755)
    variables = {k: v for k, v in os.environ.items()
                 if k not in ('GPUS', 'GPUS_PER_NODE', 'TASKS_PER_NODE',
                              'CPUS_PER_TASK', 'SRUN_ARGS')}
    variables.update(env, PATH=f'{fake}{os.pathsep}{os.environ["PATH"]}')
    done = subprocess.run(['bash', str(ROOT / 'tools' / script), *args],
                          env=variables, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def option(args, name):
    values = [a.split('=', 1)[1] for a in args if a.startswith(f'{name}=')]
    return values[0] if values else None


def test_cpu_partition_requests_no_gpu(tmp_path):
    args = srun_args(tmp_path, 'slurm_train.sh', 'cpu', 'job', 'cfg.py',
                     'work', '2', '--resume', GPUS_PER_NODE='0')
    assert not any(a.startswith('--gres') for a in args)
    assert option(args, '--ntasks') == '2'
    assert option(args, '--ntasks-per-node') == '2'
    assert option(args, '--cpus-per-task') == '1'
    assert args[args.index('cfg.py') - 1].endswith('train.py')
    assert '--launcher=slurm' in args and '--resume' in args


def test_cpu_tasks_per_node_and_cpus_are_overridable(tmp_path):
    args = srun_args(tmp_path, 'slurm_train.sh', 'cpu', 'job', 'cfg.py',
                     'work', '4', GPUS_PER_NODE='0', TASKS_PER_NODE='2',
                     CPUS_PER_TASK='3', SRUN_ARGS='--time=10')
    assert option(args, '--ntasks') == '4'
    assert option(args, '--ntasks-per-node') == '2'
    assert option(args, '--cpus-per-task') == '3'
    assert '--time=10' in args


@pytest.mark.parametrize('gpus, per_node', [('2', '2'), ('16', '8')])
def test_gpu_partition_requests_its_gpus(tmp_path, gpus, per_node):
    args = srun_args(tmp_path, 'slurm_train.sh', 'gpu', 'job', 'cfg.py',
                     'work', gpus)
    assert option(args, '--gres') == f'gpu:{per_node}'
    assert option(args, '--ntasks') == gpus
    assert option(args, '--ntasks-per-node') == per_node
    assert option(args, '--cpus-per-task') == '5'


def test_test_script_takes_tasks_per_node_from_the_request(tmp_path):
    args = srun_args(tmp_path, 'slurm_test.sh', 'gpu', 'job', 'cfg.py',
                     'ckpt.pth', '--out', 'p.pkl', GPUS='2')
    assert option(args, '--ntasks-per-node') == '2'
    assert option(args, '--gres') == 'gpu:2'
    args = srun_args(tmp_path, 'slurm_test.sh', 'cpu', 'job', 'cfg.py',
                     'ckpt.pth', GPUS='3', GPUS_PER_NODE='0')
    assert not any(a.startswith('--gres') for a in args)
    assert option(args, '--ntasks-per-node') == '3'
    assert args[-3:] == ['cfg.py', 'ckpt.pth', '--launcher=slurm']
