# PointHMR on ResNet-50: stride-4 (256 ch) and stride-32 (2048 ch) stages.
_base_ = ['../pointhmr_hrnet_w32.py']

model = dict(
    backbone=dict(
        _delete_=True, type='mmpretrain.ResNet', depth=50,
        out_indices=(0, 3)),
    neck=dict(in_channels=(256, 2048), in_indices=(0, 1)))
