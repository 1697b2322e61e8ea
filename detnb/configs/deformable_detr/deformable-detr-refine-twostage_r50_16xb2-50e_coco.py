# Two-stage Deformable DETR R-50 with box refinement, 50 epochs on COCO (MMDetection: 47.0 box AP).
_base_ = 'deformable-detr-refine_r50_16xb2-50e_coco.py'
model = dict(as_two_stage=True)
