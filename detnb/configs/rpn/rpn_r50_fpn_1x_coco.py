# RPN R-50-FPN, 12 epochs on COCO (MMDetection: AR@1000 58.2), scored by proposal recall.
_base_ = [
    '../_base_/models/rpn_r50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
# AR@100, AR@300, AR@1000 of the proposals (recall averaged over IoU 0.5:0.95, classes ignored)
val_evaluator = dict(metric='proposal_fast')
test_evaluator = val_evaluator
