# FCOS as a region proposal network (the MMDetection manual, 3.11.2: evaluating the proposals of a one-stage head):
# the RPN detector with a one-class FCOSHead on FCOS's neck, scored by proposal recall.
_base_ = [
    '../_base_/models/rpn_r50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
val_evaluator = dict(metric='proposal_fast')
test_evaluator = val_evaluator
model = dict(
    # FCOS's neck (fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py): P3 to P7, P6 from the P5 output
    neck=dict(start_level=1, add_extra_convs='on_output', relu_before_extra_convs=True),
    rpn_head=dict(
        _delete_=True,  # none of RPNHead's settings apply
        type='FCOSHead', num_classes=1, in_channels=256, stacked_convs=4, feat_channels=256,
        strides=[8, 16, 32, 64, 128],
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)))
