"""The tools print no warning that means nothing: neither mmcv-lite's
"You should install mmcv rather than mmcv-lite" nor smplx's "with only 10
shape coefficients"."""
import subprocess
import sys

import pytest

from toolbox import ROOT, run_tool, subprocess_env

pytestmark = pytest.mark.slow

NOISE = ('mmcv-lite', 'shape coefficients')
QUICKSTART = ROOT / 'configs' / 'quickstart' / 'pointhmr_quickstart.py'


def assert_quiet(process):
    assert process.returncode == 0, process.stderr[-2000:]
    text = process.stdout + process.stderr
    for message in NOISE:
        assert message not in text


def test_print_config_and_test_help_are_quiet():
    assert_quiet(run_tool('misc/print_config', QUICKSTART))
    assert_quiet(run_tool('test', '--help'))


def test_body_model_build_is_quiet(body_model_dir):
    code = ('from pointhmr_mm.registry import MODELS\n'
            'from pointhmr_mm.setup_env import register_all_modules\n'
            'register_all_modules()\n'
            f"body = MODELS.build(dict(type='SMPL', model_path="
            f"{str(body_model_dir / 'smpl')!r}))\n"
            'print(body.smpl.shapedirs.shape[-1], "components")\n')
    built = subprocess.run([sys.executable, '-c', code], capture_output=True,
                           text=True, env=subprocess_env(), timeout=300)
    assert_quiet(built)
    assert '10 components' in built.stdout  # smplx would have spoken
