# RTMDet-m (24.71 M parameters): RTMDet-l at 0.67 depth and 0.75 width.
_base_ = './rtmdet_l_8xb32-300e_coco.py'
model = dict(
    backbone=dict(deepen_factor=0.67, widen_factor=0.75),
    neck=dict(in_channels=[192, 384, 768], out_channels=192, num_csp_blocks=2),
    bbox_head=dict(in_channels=192, feat_channels=192))
