default_scope = 'pointhmr_mm'
runner_type = 'PointHMRRunner'  # RNG states in checkpoints, atomic saves

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='SafeCheckpointHook', interval=1, max_keep_ckpts=3,
        save_best='mesh/PA-MPJPE', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
custom_hooks = [dict(type='PreserveTrainRNGHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))  # tools/ switch to gloo without CUDA

# Add dict(type='TensorboardVisBackend') to log to TensorBoard too.
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='MeshVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=88)
