# Quick-start ablation: grid tokens only, learned vertex queries, nothing
# sampled (as configs/ablations/pointhmr_hrnet_w32_grid_only.py).
_base_ = ['../quickstart/pointhmr_quickstart.py']

model = dict(
    neck=dict(sample_vertices=False),
    head=dict(loss_heatmap=None, loss_dice=None))
