# PointHMR-Lite, the 28 px design: both fine decoders read HRNet's 28 px
# branch (64 channels), 128 wide, so vertex heatmaps are 28 x 28 (the loss
# compares them at 56 px, x2 nearest). Same FLOPs as the 56 px Lite.
_base_ = ['../pointhmr_lite_hrnet_w32.py']

lite_dims = 128
model = dict(
    neck=dict(in_channels=(64, 256), in_indices=(1, 3),
              heatmap_hidden_dims=lite_dims, target_dims=lite_dims),
    # the fine decoders' branch is 1/8 of the crop
    mesh_targets=dict(heatmap_stride=8))
