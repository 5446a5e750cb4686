# PointHMR with an HRNet-W48 backbone, trained on METRO's mixture and
# evaluated on Human3.6M protocol 2: the main model.
_base_ = [
    './_base_/models/pointhmr_hrnet_w48.py',
    './_base_/datasets/metro_mix_h36m_p2.py',
    './_base_/schedules/adam_60e.py', './_base_/default_runtime.py'
]
sync_bn = 'torch'  # SyncBN across GPUs, as released
