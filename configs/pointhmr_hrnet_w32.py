# The released PointHMR-HR32 architecture with the released recipe.
_base_ = [
    './_base_/models/pointhmr_hrnet_w32.py',
    './_base_/datasets/metro_mix_h36m_p2.py',
    './_base_/schedules/adam_60e.py', './_base_/default_runtime.py'
]
sync_bn = 'torch'

# The released HRNet-W32 starts from ROMP's 2D-pose-pretrained
# pretrain_hrnet.pkl; convert it once with
#   python tools/convert_official_checkpoint.py --backbone-only \
#       pretrain_hrnet.pkl data/pretrained/hrnet_w32_romp.pth
# Without the file, training warns and starts from random weights (as the
# released code does without ./models/pretrain_hrnet.pkl). The file lacks
# the stage-4 fuse layers into the 28/14/7 px branches (ROMP's stage 4 is
# single-scale): they keep mmpretrain's initialisation, listed first.
hrnet_init = [
    dict(type='Kaiming', layer='Conv2d'),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]
romp_hrnet_w32 = 'data/pretrained/hrnet_w32_romp.pth'
romp_hrnet_init = dict(
    # scoped: also found where no default scope is set (bare scripts)
    type='pointhmr_mm.PretrainedIfExists',
    checkpoint=romp_hrnet_w32,
    source='ROMP release v1.1 trained_models.zip, pretrain_hrnet.pkl, '
    'converted with tools/convert_official_checkpoint.py --backbone-only',
    allow_missing=[r'stage4\.2\.fuse_layers\.[123]\.',
                   r'.*num_batches_tracked$'])

# Training mode (docs/benchmarks.md; measured with
# tools/analysis/benchmark_train_step.py): bf16 autocast where it is faster
# (CUDA, or a CPU with AMX or AVX-512 BF16), channels-last convolutions
# where they are faster (CUDA or an AMX CPU; in both cases 'auto';
# tools/train.py --no-amp for fp32 anywhere, --amp for bf16 anywhere),
# activation checkpointing of the backbone's blocks and the transformer's
# layers, and Adam's fused kernel (the same update, fewer passes over the
# weights). The neck's decoders are not checkpointed: on the AMX Xeon
# their recomputation cost 0.13-0.16 s of a 2.6 s step and saved
# 0.15-0.17 GB (docs/benchmarks.md); model.neck.with_cp=True
# trades it back.
model = dict(
    # the data pipeline's crop (configs/_base_/datasets/), declared there once
    mesh_targets=dict(crop_size={{_base_.crop_size}}),
    channels_last='auto',
    backbone=dict(with_cp=True, init_cfg=hrnet_init + [romp_hrnet_init]),
    neck=dict(with_cp=False),
    head=dict(with_cp=True))
# The metric builds the GT of the 3DPW and EMDB protocols itself, neutral
# or gendered as each protocol says (MeshMetric), with the model's files.
val_evaluator = dict(
    type='MeshMetric', body_model={{_base_.model.mesh_targets.body_model}})
test_evaluator = val_evaluator
# cache_enabled=False: autocast casts each weight where it is used instead
# of keeping every bf16 copy until the forward ends (the checkpointed
# modules cast again in backward anyway): 40-60 MB less peak RSS.
optim_wrapper = dict(type='PortableAmpOptimWrapper', dtype='bfloat16',
                     enabled='auto', cache_enabled=False,
                     optimizer=dict(fused=True))
