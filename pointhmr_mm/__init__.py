"""pointhmr_mm: PointHMR (CVPR 2023) as an OpenMMLab-style plugin."""
import warnings

from .version import __version__

# mmcv-lite (what setup.py installs) has no compiled ops, and mmcv.cnn says
# so on import ("You should install mmcv rather than mmcv-lite"), although
# nothing here uses its deformable attention: filtered, that exact message
# only, so that the warnings that remain mean something.
warnings.filterwarnings(
    'ignore', message=r'Fail to import ``MultiScaleDeformableAttention``',
    category=UserWarning, module=r'mmcv\.cnn\.bricks\.transformer')

__all__ = ['__version__']
