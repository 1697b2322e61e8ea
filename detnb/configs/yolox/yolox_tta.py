# Test-time augmentation of YOLOX (`detnb test CONFIG CHECKPOINT --tta`): three scales x two flips, padded to a
# square after the flip (so that flipped boxes map back), merged by class-wise NMS (MMDetection's yolox_tta.py).
tta_model = dict(type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.65), max_per_img=100))

img_scales = [(640, 640), (320, 320), (960, 960)]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=s, keep_ratio=True) for s in img_scales],
        [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
        [dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114.0, 114.0, 114.0)))],
        [dict(type='LoadAnnotations', with_bbox=True)],
        [dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                                               'flip_direction'))]]),
]
