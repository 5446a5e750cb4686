"""Install pointhmr_mm: ``pip install -e .`` (add ``[tests]`` for the tests,
``[anny]`` to generate the Anny body model)."""
import os
import subprocess
import sys

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))
# mmcv-lite is the pure-Python mmcv 2.x; it is what we test with.
MMCV_LITE = 'mmcv-lite==2.1.0'


def read_requirements(name):
    with open(os.path.join(HERE, 'requirements', name)) as f:
        return [
            line.strip() for line in f
            if line.strip() and not line.startswith('#')
        ]


def installed_mmcv_version():
    """Return the version of an mmcv already in the target environment.

    pip builds in an isolated environment that hides the target's
    site-packages, so ask the target interpreter itself in a subprocess with
    pip's overlay variables removed.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('PYTHONPATH', 'PYTHONNOUSERSITE', 'PYTHONNOUSERBASE')
    }
    code = ('import importlib.metadata as m\n'
            'for n in ("mmcv", "mmcv-full"):\n'
            '    try:\n'
            '        print(m.version(n)); break\n'
            '    except m.PackageNotFoundError:\n'
            '        pass\n')
    try:
        out = subprocess.run([sys.executable, '-c', code], env=env,
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def mmcv_requirement():
    """Full mmcv>=2.0 stays if present; otherwise take mmcv-lite."""
    version = installed_mmcv_version()
    if version is not None and int(version.split('.')[0]) >= 2:
        return [f'mmcv>={version}']
    return [MMCV_LITE]


def get_version():
    scope = {}
    with open(os.path.join(HERE, 'pointhmr_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='pointhmr_mm',
    version=get_version(),
    description='PointHMR (CVPR 2023) 3D human mesh recovery as an '
    'OpenMMLab-style plugin',
    long_description=open(os.path.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    include_package_data=True,
    # the embedded Anny body (tools/make_body_model.py --from embedded)
    package_data={'pointhmr_mm': ['models/body_models/assets/*.npz']},
    install_requires=read_requirements('runtime.txt') + mmcv_requirement(),
    extras_require={
        # anny is in the tests so CI exercises tools/make_body_model.py
        'tests': read_requirements('tests.txt') + read_requirements(
            'anny.txt'),
        'deploy': read_requirements('deploy.txt'),
        'anny': read_requirements('anny.txt'),
    },
    zip_safe=False,
)
