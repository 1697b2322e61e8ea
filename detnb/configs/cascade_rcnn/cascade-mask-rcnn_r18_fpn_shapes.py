# Cascade Mask R-CNN trained from scratch on the generated shapes data set (circles, squares, triangles, stars,
# with instance masks), on a CPU: mask-rcnn_r18_fpn_shapes.py's half-width ResNet-18, 64-channel FPN, data and
# schedule, with three light box heads and three mask heads in cascade.
_base_ = [
    '../_base_/models/cascade-mask-rcnn_r50_fpn.py',
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
        bbox_head=[dict(stage, in_channels=64, fc_out_channels=256, num_classes=len(classes))  # a list: whole stages
                   for stage in {{_base_.model.roi_head.bbox_head}}],
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(num_convs=2, in_channels=64, conv_out_channels=64, num_classes=len(classes))),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=500),
                   rcnn=[dict(stage, sampler=dict(stage['sampler'], num=128))  # a few objects: fewer sampled RoIs
                         for stage in {{_base_.model.train_cfg.rcnn}}]),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))

default_hooks = dict(logger=dict(type='LoggerHook', interval=50), checkpoint=dict(type='CheckpointHook', interval=-1))
randomness = dict(seed=0)
