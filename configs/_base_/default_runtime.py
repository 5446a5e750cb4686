default_scope = 'pointhmr_mm'
# RNG states in checkpoints (exact resume), atomic checkpoint files
runner_type = 'PointHMRRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook, but old files go only after the new one
    checkpoint=dict(
        type='SafeCheckpointHook', interval=1, max_keep_ckpts=3,
        save_best='mesh/PA-MPJPE', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # DDP keeps batch-norm statistics per rank: average them after each
    # epoch, before its checkpoint and validation, so the metric and the
    # best checkpoint are the saved model's (a no-op on one process)
    sync_buffers=dict(type='SyncBuffersHook'))
custom_hooks = []

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py and tools/test.py switch to 'gloo' when there is no
    # CUDA (pointhmr_mm.engine.setup_distributed)
    # timeout: seconds a rank waits in a collective (e.g. for a hung rank)
    # before the job fails; torch's own default is 30 min (docs/cluster.md)
    dist_cfg=dict(backend='nccl', timeout=600),
    # glibc malloc keeps freed memory for reuse instead of handing it back
    # and faulting in zeroed pages for every large tensor of every step
    # (pointhmr_mm/utils/malloc.py; docs/benchmarks.md). None:
    # glibc's defaults. No effect with another C library.
    malloc_cfg=dict(mmap_threshold=2**30, trim_threshold=2**30))

vis_backends = [
    dict(type='LocalVisBackend'),
    # dict(type='TensorboardVisBackend'),  # needs the tensorboard package
]
visualizer = dict(
    type='MeshVisualizer', vis_backends=vis_backends, name='visualizer')
# EpochLogProcessor: validation lines of scalars.json also carry epoch and iter
log_processor = dict(type='EpochLogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
# Checkpoints load strictly: weights that do not fit the model (missing,
# unexpected or differently shaped keys) stop the run, naming them. False
# loads what fits (e.g. --cfg-options load_strict=False).
load_strict = True
randomness = dict(seed=88)
