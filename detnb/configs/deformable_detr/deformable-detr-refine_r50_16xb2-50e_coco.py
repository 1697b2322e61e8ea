# Deformable DETR R-50 with iterative box refinement, 50 epochs on COCO (MMDetection: 46.2 box AP).
_base_ = 'deformable-detr_r50_16xb2-50e_coco.py'
model = dict(with_box_refine=True)
