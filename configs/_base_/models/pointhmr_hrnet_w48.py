# PointHMR on HRNet-W48: the same branches carry 48 and 384 channels.
_base_ = ['./pointhmr_hrnet_w32.py']

model = dict(
    backbone=dict(arch='w48'),
    neck=dict(in_channels=(48, 384)))
