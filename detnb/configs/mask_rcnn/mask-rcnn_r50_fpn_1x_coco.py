# Mask R-CNN R-50-FPN, 12 epochs on COCO (MMDetection: 38.2 box AP, 34.7 mask AP).
_base_ = [
    '../_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
