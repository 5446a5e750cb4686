# PointHMR with an HRNet-W48 backbone, trained on METRO's mixture and
# evaluated on Human3.6M protocol 2: the main model. Everything else is the
# W32 recipe, its training mode included (README "Speed and memory").
_base_ = ['./pointhmr_hrnet_w32.py']

model = dict(
    backbone=dict(arch='w48'),
    neck=dict(in_channels=(48, 384)))
