# Faster R-CNN R-50-FPN whose proposals come from an FCOS head (the MMDetection manual, 3.11.1: a one-stage
# detector as the RPN), 12 epochs on COCO. A trained FCOS checkpoint loads into it: its bbox_head.* become rpn_head.*.
_base_ = [
    '../_base_/models/faster-rcnn_r50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
model = dict(
    # FCOS's neck (fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py): P3 to P7, P6 from the P5 output
    neck=dict(start_level=1, add_extra_convs='on_output', relu_before_extra_convs=True),
    rpn_head=dict(
        _delete_=True,  # none of RPNHead's settings apply
        type='FCOSHead', num_classes=1,  # one class, "object" (the detector sets 1, with a warning, otherwise)
        in_channels=256, stacked_convs=4, feat_channels=256, strides=[8, 16, 32, 64, 128],
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    roi_head=dict(bbox_roi_extractor=dict(featmap_strides=[8, 16, 32, 64, 128])))  # the levels the neck gives
# a slower warm-up (1000 iterations): the loss diverges otherwise
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
