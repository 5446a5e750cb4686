# Ablation: dense attention, no progressive k-hop masks.
_base_ = ['../pointhmr_hrnet_w32.py']

model = dict(head=dict(mask_hops=(None, None, None, None)))
