# The quick start with PointHMR-Lite's changes (configs/pointhmr_lite_
# hrnet_w32.py): narrow heatmap-decoder blocks widened to V by the 1x1
# conv, and narrow target features projected to the token width. Same
# data, schedule and recipe as the quick start.
#   python tools/train.py configs/quickstart/pointhmr_lite_quickstart.py
_base_ = ['./pointhmr_quickstart.py']

lite_dims = 32
model = dict(
    neck=dict(heatmap_hidden_dims=lite_dims, target_dims=lite_dims))
