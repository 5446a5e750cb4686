"""The tiny PointHMR: its config (and its ``MeshTargets``) on the embedded
(Anny) test body of ``tests/conftest.py``, and a labelled batch for it."""
import torch
from mmengine.structures import BaseDataElement


def small_hrnet(width: int) -> dict:
    """A 4-branch HRNet with one block a stage, branches ``width`` x 1, 2,
    4 and 8 channels wide (a 64 px input gives maps of 16, 8, 4, 2 px)."""
    widths = tuple(width * 2**i for i in range(4))

    def stage(branches, block='BASIC'):
        return dict(num_modules=1, num_branches=branches, block=block,
                    num_blocks=(1, ) * branches,
                    num_channels=widths[:branches])

    return dict(type='mmpretrain.HRNet',
                extra=dict(stage1=stage(1, 'BOTTLENECK'), stage2=stage(2),
                           stage3=stage(3), stage4=stage(4)))


# The unit tests' model: small enough for a test, 8 to 64 channels.
TINY_HRNET = small_hrnet(8)
TINY_IMAGE = 64


def body_model_cfg(body_model_dir):
    return dict(
        type='SMPL', model_path=str(body_model_dir / 'smpl'),
        joint_regressors=dict(
            h36m=str(body_model_dir / 'J_regressor_h36m.npy')))


def mesh_targets_cfg(body_model_dir, sampler_file, num_vertices=None,
                     **kwargs):
    """``MeshTargets`` of the tiny model: ``TINY_IMAGE`` crops, gendered."""
    cfg = dict(type='MeshTargets', crop_size=TINY_IMAGE,
               num_vertices=num_vertices,
               body_model=body_model_cfg(body_model_dir),
               mesh_sampler=dict(type='MeshSampler',
                                 filename=str(sampler_file)),
               gendered_eval=True)
    cfg.update(kwargs)
    return cfg


def tiny_model_cfg(body_model_dir, sampler_file, num_vertices, **head):
    head_cfg = dict(
        type='MaskedMeshTransformerHead',
        in_channels=16, position_dims=8,
        embed_dims=(24, 24, 8, 8), ffn_dims=(32, 32, 16, 16),
        num_layers=(1, 1, 1, 1), num_heads=2,
        loss_vertex=dict(type='VertexL1Loss', level_weights=(0.33, ) * 3))
    head_cfg.update(head)
    return dict(
        type='PointHMR',
        data_preprocessor=dict(
            type='MeshDataPreprocessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        backbone=TINY_HRNET,
        neck=dict(type='PointGuidedSamplingNeck', in_channels=(8, 64),
                  in_indices=(0, 3), embed_dims=16, num_heatmap_blocks=1,
                  num_target_blocks=1),
        head=head_cfg,
        mesh_targets=mesh_targets_cfg(body_model_dir, sampler_file,
                                      num_vertices))


def make_batch(batch=2, labelled=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(0, 255, (3, TINY_IMAGE, TINY_IMAGE), generator=g,
                      dtype=torch.uint8) for _ in range(batch)
    ]
    samples = []
    for i in range(batch):
        conf = 1. if labelled else 0.
        kp2d = torch.rand(14, 3, generator=g) * 2 - 1
        kp2d[:, 2] = conf
        kp3d = torch.randn(14, 4, generator=g) * 0.3
        kp3d[:, 3] = conf
        sample = BaseDataElement(
            metainfo=dict(gender=('male', 'female')[i % 2],
                          eval_protocol='3dpw'))
        sample.set_data(
            dict(gt_keypoints_2d=kp2d, gt_keypoints_3d=kp3d,
                 gt_pose=torch.randn(72, generator=g) * 0.2,
                 gt_betas=torch.randn(10, generator=g) * 0.5,
                 has_smpl=torch.tensor(conf)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
