# Mask R-CNN trained from scratch on the generated shapes data set (circles, squares, triangles, stars, with
# instance masks), on a CPU in minutes: a half-width ResNet-18, a 64-channel FPN, light box and mask heads,
# 256-pixel images (_base_/datasets/shapes_instance.py), 4 epochs of AdamW (_base_/schedules/adamw_cosine_4e.py).
# bench/mask_rcnn_shapes.py trains it and reports the mask AP.
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/shapes_instance.py',
    '../_base_/schedules/adamw_cosine_4e.py',
    '../_base_/default_runtime.py',
]

classes = ('circle', 'square', 'triangle', 'star')

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(depth=18, base_channels=32,  # stages of 32, 64, 128, 256 channels
                  frozen_stages=-1, norm_eval=False, init_cfg=None),  # from scratch: every stage trains
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64,
                  anchor_generator=dict(scales=[4])),  # anchors of 16 to 256 px: the shapes are 32 to 120
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=len(classes)),
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(num_convs=2, in_channels=64, conv_out_channels=64, num_classes=len(classes))),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=500),
                   rcnn=dict(sampler=dict(num=128))),  # a few objects per image: fewer sampled RoIs
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))

default_hooks = dict(logger=dict(type='LoggerHook', interval=50), checkpoint=dict(type='CheckpointHook', interval=-1))
randomness = dict(seed=0)
