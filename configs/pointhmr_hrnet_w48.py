# PointHMR with an HRNet-W48 backbone, trained on METRO's mixture and
# evaluated on Human3.6M protocol 2: the main model. Everything else is the
# W32 recipe, its training mode included (docs/training_and_testing.md).
_base_ = ['./pointhmr_hrnet_w32.py']

model = dict(
    # no W48 counterpart of ROMP's W32 file: mmpretrain's initialisation
    backbone=dict(arch='w48', init_cfg={{_base_.hrnet_init}}),
    neck=dict(in_channels=(48, 384)))
