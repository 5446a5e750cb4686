"""Registries of pointhmr_mm, children of mmengine's roots.

Every child names the package that holds its modules in ``locations``, so a
config with ``default_scope='pointhmr_mm'`` builds without hand-written
imports. Parts of other libraries are named with their scope, e.g.
``type='mmpretrain.HRNet'``.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

# Network parts, losses, body models and the estimator.
MODELS = Registry('model', parent=MMENGINE_MODELS,
                  locations=['pointhmr_mm.models'])
# Mesh topology and other helpers that models hold but do not train.
TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS,
                      locations=['pointhmr_mm.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS,
                          locations=['pointhmr_mm.models'])
# Children without modules of their own: they let ``default_scope`` look
# up mmengine's log processors and ``init_cfg`` initialisers quietly.
WEIGHT_INITIALIZERS = Registry('weight initializer',
                               parent=MMENGINE_WEIGHT_INITIALIZERS,
                               locations=['pointhmr_mm.models'])

DATASETS = Registry('dataset', parent=MMENGINE_DATASETS,
                    locations=['pointhmr_mm.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS,
                         locations=['pointhmr_mm.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS,
                      locations=['pointhmr_mm.datasets.transforms'])

METRICS = Registry('metric', parent=MMENGINE_METRICS,
                   locations=['pointhmr_mm.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR,
                     locations=['pointhmr_mm.evaluation'])

HOOKS = Registry('hook', parent=MMENGINE_HOOKS,
                 locations=['pointhmr_mm.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS,
                 locations=['pointhmr_mm.engine'])
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS,
                          locations=['pointhmr_mm.engine'])
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS,
                      locations=['pointhmr_mm.engine'])
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS,
                          locations=['pointhmr_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['pointhmr_mm.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler',
                            parent=MMENGINE_PARAM_SCHEDULERS,
                            locations=['pointhmr_mm.engine'])

VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS,
                       locations=['pointhmr_mm.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS,
                       locations=['pointhmr_mm.visualization'])

# Runners (the project's Runner keeps RNG states and saves atomically).
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS  # noqa: E402

RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS,
                   locations=['pointhmr_mm.engine'])
