# PointHMR-Lite: the released W32 recipe with narrow fine decoders, at
# about a quarter of its FLOPs (30.8 vs 110.6 GFLOPs at 224 px, counted by
# tools/analysis/benchmark_train_step.py). Point-guided sampling on the
# 56 px map and the k-hop masks are kept; the two 56 px decoders, 81% of
# the full model's FLOPs, get narrow:
# - heatmap decoder: its BasicBlocks are 64 wide (not 431) and its final
#   1x1 conv widens to the 431 vertex maps;
# - target decoder: 64-wide features (not 512); the sampled vertex tokens
#   are projected to the 512-wide token by a linear layer.
# configs/ablations/pointhmr_lite_hrnet_w32_28px.py is the other design
# measured (28 px maps, 128 wide; same FLOPs), see docs/benchmarks.md.
_base_ = ['./pointhmr_hrnet_w32.py']

lite_dims = 64
model = dict(
    neck=dict(heatmap_hidden_dims=lite_dims, target_dims=lite_dims))
