# The generated shapes data set of shapes_detection.py with instance masks, at 256 x 256 pixels: larger shapes (32 to
# 120 pixels) and 2,000 training images, since each costs four times as much; batches of 4, box and mask AP.
# Generate it first with make_shapes_dataset(root='data/shapes_256', **shapes) (or `detnb make-shapes --config` a
# config that uses it), or point data_root elsewhere.
_base_ = './shapes_detection.py'
shapes = dict(num_train=2000, num_val=100, img_size=256, seed=0, max_objects=4, size_range=(32, 120), min_visible=0.8)
data_root = 'data/shapes_256/'
img_scale = (256, 256)  # (width, height): the generated size, so Resize only records the scale factor

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(batch_size=4, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json', metric=['bbox', 'segm'])
test_evaluator = val_evaluator
