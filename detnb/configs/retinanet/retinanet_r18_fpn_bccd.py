# RetinaNet for CPU training on BCCD (3 classes, 416 px): ResNet-18, a 128-channel FPN and light heads.
# On a CPU the head's convolutions cost more than a ResNet-18 (four 256-channel convolutions per tower at five
# levels do), so the towers have two 128-channel convolutions each.
_base_ = [
    '../_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/bccd_detection.py',
    '../_base_/schedules/adamw_cosine_24e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(depth=18, out_indices=(1, 2, 3),  # C3 to C5
                  frozen_stages=-1, norm_eval=False,  # every stage trains (from scratch here)
                  init_cfg=None),  # online: init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')
    neck=dict(in_channels=[128, 256, 512], out_channels=128, start_level=0, add_extra_convs='on_input'),
    bbox_head=dict(num_classes=3, in_channels=128, feat_channels=128, stacked_convs=2))
