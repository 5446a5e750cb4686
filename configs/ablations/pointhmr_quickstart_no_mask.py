# Quick-start ablation: dense attention, no progressive k-hop masks (as
# configs/ablations/pointhmr_hrnet_w32_no_mask.py).
_base_ = ['../quickstart/pointhmr_quickstart.py']

model = dict(head=dict(mask_hops=(None, None, None, None)))
