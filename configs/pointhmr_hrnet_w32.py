# The released PointHMR-HR32 architecture.
_base_ = ['./_base_/models/pointhmr_hrnet_w32.py']
