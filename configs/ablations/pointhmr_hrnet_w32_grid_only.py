# Ablation: grid tokens only. Vertex tokens are learned queries (as in
# FastMETRO); nothing is sampled, so there are no heatmap losses.
_base_ = ['../pointhmr_hrnet_w32.py']

model = dict(
    neck=dict(sample_vertices=False),
    head=dict(loss_heatmap=None, loss_dice=None))
