# RTMDet-Ins trained from scratch on the generated shapes data set (circles, squares, triangles, stars, with
# instance masks), on a CPU: RTMDet-Ins-tiny's design at two thirds of its width (64-channel neck and head), 4
# classes, 128-pixel images, no Mosaic or MixUp (the shapes are already varied), 12 epochs.
_base_ = './rtmdet-ins_tiny_8xb32-300e_coco.py'

# the data set: arguments of detnb.datasets.shapes.make_shapes_dataset; generate it first with
# make_shapes_dataset(root='data/shapes/', **shapes) (or `detnb make-shapes`), or point data_root elsewhere
shapes = dict(num_train=3000, num_val=100, img_size=128, seed=0, max_objects=4, size_range=(24, 80), min_visible=0.8)
data_root = 'data/shapes/'
img_scale = (128, 128)  # (width, height): the generated size, so Resize only records the scale factor
classes = ('circle', 'square', 'triangle', 'star')

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(widen_factor=0.25, init_cfg=None),  # stages of 32 to 256 channels, from scratch
    neck=dict(in_channels=[64, 128, 256], out_channels=64),
    bbox_head=dict(num_classes=len(classes), in_channels=64, feat_channels=64),
    test_cfg=dict(nms_pre=500, max_per_img=20))

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
train_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0,  # on 2 cores, loading in the main process leaves both to the model
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ShapesDataset', data_root=data_root, ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ShapesDataset', data_root=data_root, ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json',
                     metric=['bbox', 'segm'])
test_evaluator = val_evaluator

max_epochs = 12
train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=0.004), clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.05, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
custom_hooks = [dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.002, gamma=500, update_buffers=True,
                     priority=49)]
default_hooks = dict(logger=dict(type='LoggerHook', interval=50), checkpoint=dict(type='CheckpointHook', interval=-1))
randomness = dict(seed=0)
