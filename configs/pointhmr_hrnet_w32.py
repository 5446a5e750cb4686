# The released PointHMR-HR32 architecture with the released recipe.
_base_ = [
    './_base_/models/pointhmr_hrnet_w32.py',
    './_base_/datasets/metro_mix_h36m_p2.py',
    './_base_/schedules/adam_60e.py', './_base_/default_runtime.py'
]
sync_bn = 'torch'
