# PointHMR with an HRNet-W48 backbone: the main model.
_base_ = ['./_base_/models/pointhmr_hrnet_w48.py']
