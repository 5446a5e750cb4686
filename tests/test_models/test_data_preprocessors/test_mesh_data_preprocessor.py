import copy

import pytest
import torch
from mmengine.model import ImgDataPreprocessor
from mmengine.optim import OptimWrapper
from mmengine.structures import BaseDataElement
from torch.utils._python_dispatch import TorchDispatchMode

from toolbox.tiny_model import make_batch as make_model_batch
from toolbox.tiny_model import tiny_model_cfg

from pointhmr_mm.models.data_preprocessors import (MeshDataPreprocessor,
                                                   pack_sample_fields)
from pointhmr_mm.registry import MODELS

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True)


def make_batch(batch=3, size=16, dtype=torch.uint8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    if dtype == torch.uint8:
        inputs = [torch.randint(0, 256, (3, size, size), generator=gen,
                                dtype=torch.uint8) for _ in range(batch)]
    else:
        inputs = [torch.rand(3, size, size, generator=gen) * 255
                  for _ in range(batch)]
    samples = []
    for i in range(batch):
        sample = BaseDataElement(metainfo=dict(img_path=f'{i}.jpg'))
        sample.gt_keypoints_2d = torch.rand(14, 3, generator=gen)
        sample.gt_pose = torch.rand(72, generator=gen)
        sample.has_smpl = torch.tensor(float(i % 2))
        sample.sample_idx = torch.tensor(i)  # int64: its own buffer
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('dtype', [torch.uint8, torch.float32])
@pytest.mark.parametrize('divisor', [1, 32])
def test_equals_mmengine_img_data_preprocessor(dtype, divisor):
    data = make_batch(dtype=dtype)
    ours = MeshDataPreprocessor(pad_size_divisor=divisor, **NORM)
    theirs = ImgDataPreprocessor(pad_size_divisor=divisor, **NORM)
    out = ours(copy.deepcopy(data))
    ref = theirs(copy.deepcopy(data))
    assert out['inputs'].shape == ref['inputs'].shape
    assert torch.equal(out['inputs'], ref['inputs'])
    for a, b in zip(out['data_samples'], ref['data_samples']):
        assert set(a.keys()) == set(b.keys())
        for key in a.keys():
            assert torch.equal(a.get(key), b.get(key)), key
        assert a.metainfo == b.metainfo


def test_fields_of_one_dtype_share_one_buffer():
    out = MeshDataPreprocessor(**NORM)(make_batch())
    first, second = out['data_samples'][:2]
    storage = first.gt_pose.untyped_storage().data_ptr()
    for sample in (first, second):
        for key in ('gt_pose', 'gt_keypoints_2d', 'has_smpl'):
            assert sample.get(key).untyped_storage().data_ptr() == storage
    assert first.sample_idx.dtype == torch.int64
    assert first.sample_idx.untyped_storage().data_ptr() != storage


def test_ragged_fields_and_sizes_are_kept():
    data = make_batch()
    data['data_samples'][1].gt_pose = torch.zeros(10)  # another shape
    data['data_samples'][2].pop('has_smpl')  # a missing field
    samples = pack_sample_fields(data['data_samples'], torch.device('cpu'))
    assert samples[1].gt_pose.shape == (10, )
    assert 'has_smpl' not in samples[2]
    data = make_batch()
    data['inputs'][0] = torch.zeros(3, 20, 16, dtype=torch.uint8)
    out = MeshDataPreprocessor(pad_size_divisor=4, **NORM)(data)
    assert out['inputs'].shape == (3, 3, 20, 16)  # padded like mmengine


def test_rejects_other_inputs():
    with pytest.raises(TypeError, match='MeshDataPreprocessor expects'):
        MeshDataPreprocessor(**NORM)(dict(inputs=torch.zeros(3, 8, 8)))


def test_cuda_copy_makes_no_host_synchronisation():
    if not torch.cuda.is_available():
        pytest.skip('no CUDA')
    preprocessor = MeshDataPreprocessor(**NORM).cuda()
    data = make_batch(batch=8, size=64)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode('error')
    try:
        out = preprocessor(data)
    finally:
        torch.cuda.set_sync_debug_mode('default')
    assert out['inputs'].is_cuda
    assert out['data_samples'][0].gt_pose.is_cuda


class _CountSyncs(TorchDispatchMode):
    """Counts the ops that read a tensor's value back to the host, which on
    CUDA is a host synchronisation. Reads of tensors that stay on the host
    on any device (``host_storages``: the kinematic tree, the optimiser's
    step counters) are not counted."""
    SYNC_OPS = ('aten::_local_scalar_dense', 'aten::item',
                'aten::is_nonzero', 'aten::nonzero')

    def __init__(self, host_storages=()):
        super().__init__()
        self.host_storages = set(host_storages)
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func._schema.name in self.SYNC_OPS and \
                args[0].untyped_storage().data_ptr() not in self.host_storages:
            self.calls.append(func._schema.name)
        return func(*args, **(kwargs or {}))


def host_resident_storages(model, optimizer):
    """Storages that stay on the host whatever the model's device: each body
    model's ``parents`` (kept out of ``.to()``) and Adam's step counters."""
    tensors = [m.parents for m in model.modules()
               if isinstance(getattr(m, 'parents', None), torch.Tensor)]
    tensors += [state['step'] for state in optimizer.state.values()]
    return [t.untyped_storage().data_ptr() for t in tensors]


def test_train_step_reads_no_value_back_to_the_host(body_model_dir,
                                                    mesh_sampler_file):
    """On the CPU a sync cannot be seen, but the ops that cause one on
    CUDA can: none in a whole training step, preprocessing included.
    Dropout is off: the CPU draws its masks from NumPy, seeded by one host
    read, a path CUDA does not take."""
    cfg = tiny_model_cfg(body_model_dir, mesh_sampler_file, None,
                         dropout=0.)
    assert cfg['data_preprocessor']['type'] == 'MeshDataPreprocessor'
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    wrapper = OptimWrapper(optimizer)
    model.train_step(make_model_batch(), wrapper)  # first-step set-up
    with _CountSyncs(host_resident_storages(model, optimizer)) as counter:
        model.train_step(make_model_batch(seed=1), wrapper)
    assert counter.calls == []
    with _CountSyncs() as counter:  # the counter sees them where they are
        torch.ones(2).sum().item()
    assert counter.calls == ['aten::_local_scalar_dense']
