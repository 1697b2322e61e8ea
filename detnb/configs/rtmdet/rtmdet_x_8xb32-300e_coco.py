# RTMDet-x (94.86 M parameters): RTMDet-l at 1.33 depth and 1.25 width.
_base_ = './rtmdet_l_8xb32-300e_coco.py'
model = dict(
    backbone=dict(deepen_factor=1.33, widen_factor=1.25),
    neck=dict(in_channels=[320, 640, 1280], out_channels=320, num_csp_blocks=4),
    bbox_head=dict(in_channels=320, feat_channels=320))
