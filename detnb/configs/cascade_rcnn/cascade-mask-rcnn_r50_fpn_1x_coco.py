# Cascade Mask R-CNN R-50-FPN, 12 epochs on COCO (MMDetection: 41.2 box AP, 35.9 mask AP).
_base_ = [
    '../_base_/models/cascade-mask-rcnn_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
