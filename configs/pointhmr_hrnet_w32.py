# The released PointHMR-HR32 architecture with the released recipe.
_base_ = [
    './_base_/models/pointhmr_hrnet_w32.py',
    './_base_/datasets/metro_mix_h36m_p2.py',
    './_base_/schedules/adam_60e.py', './_base_/default_runtime.py'
]
sync_bn = 'torch'

# Training mode (README "Speed and memory"; measured with
# tools/analysis/benchmark_train_step.py): bf16 autocast where it is faster
# (CUDA, or a CPU with AMX or AVX-512 BF16), channels-last convolutions
# where they are faster (CUDA or an AMX CPU; in both cases 'auto';
# tools/train.py --no-amp for fp32 anywhere, --amp for bf16 anywhere),
# activation checkpointing of the backbone's blocks and the transformer's
# layers, and Adam's fused kernel (the same update, fewer passes over the
# weights). The neck's decoders are not checkpointed: on the AMX Xeon
# their recomputation cost 0.13-0.16 s of a 2.6 s step and saved
# 0.15-0.17 GB (README, "Speed and memory"); model.neck.with_cp=True
# trades it back.
model = dict(
    channels_last='auto',
    backbone=dict(with_cp=True),
    neck=dict(with_cp=False),
    head=dict(with_cp=True))
# cache_enabled=False: autocast casts each weight where it is used instead
# of keeping every bf16 copy until the forward ends (the checkpointed
# modules cast again in backward anyway): 40-60 MB less peak RSS.
optim_wrapper = dict(type='PortableAmpOptimWrapper', dtype='bfloat16',
                     enabled='auto', cache_enabled=False,
                     optimizer=dict(fused=True))
