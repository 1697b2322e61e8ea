# FCOS for CPU training on BCCD (3 classes, 416 px): ResNet-18, a 128-channel FPN and light GroupNorm heads.
# In 20 CPU minutes from scratch, torchvision's FCOS (GroupNorm heads, centre-ness) learned BCCD ten times
# better than its RetinaNet (shared/FACTS.md); the towers here have two 128-channel convolutions each.
_base_ = [
    '../_base_/datasets/bccd_detection.py',
    '../_base_/schedules/adamw_cosine_24e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='FCOS',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(1, 2, 3), frozen_stages=-1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch',
                  init_cfg=None),  # online: init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')
    neck=dict(type='FPN', in_channels=[128, 256, 512], out_channels=128, start_level=0, add_extra_convs='on_output',
              num_outs=5, relu_before_extra_convs=True),
    bbox_head=dict(
        type='FCOSHead', num_classes=3, in_channels=128, stacked_convs=2, feat_channels=128,
        strides=[8, 16, 32, 64, 128], norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        norm_on_bbox=True, centerness_on_reg=True, center_sampling=True,  # FCOS's improvements
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.6),
                  max_per_img=100))
