# The quick-start twin of configs/ablations/pointhmr_lite_hrnet_w32_28px.py:
# the fine decoders read the backbone's second branch (1/8 of the crop,
# 32 channels) instead of the first.
_base_ = ['../quickstart/pointhmr_lite_quickstart.py']

lite_dims = 64
model = dict(
    neck=dict(in_channels=(32, 128), in_indices=(1, 3),
              heatmap_hidden_dims=lite_dims, target_dims=lite_dims),
    # the fine decoders' branch is 1/8 of the crop
    mesh_targets=dict(heatmap_stride=8))
