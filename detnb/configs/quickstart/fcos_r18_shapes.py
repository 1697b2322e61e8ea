# `detnb quickstart`: FCOS trained from scratch on the generated shapes data set, on a CPU, in a few minutes.
# The design (measured on 2 CPU cores, see nbs/82_apis_quickstart.ipynb): a quarter-width ResNet-18, light
# GroupNorm heads, 128-pixel images, many generated images seen few times, AdamW with a cosine schedule and
# an exponential moving average of the weights.
_base_ = ['../_base_/default_runtime.py']

# the data set: arguments of detnb.datasets.shapes.make_shapes_dataset. `detnb quickstart` generates it into
# detnb's cache and points data_root there; for `detnb train`, generate it first with
# make_shapes_dataset(root='data/shapes', **shapes)
shapes = dict(num_train=3000, num_val=100, img_size=128, seed=0, max_objects=4, size_range=(24, 80), min_visible=0.8)
data_root = 'data/shapes/'
img_scale = (128, 128)  # (width, height): the generated size, so Resize only records the scale factor

model = dict(
    type='FCOS',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='ResNet', depth=18, base_channels=16,  # stages of 16, 32, 64, 128 channels
                  num_stages=4, out_indices=(1, 2, 3), frozen_stages=-1,  # from scratch: every stage trains
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch'),
    neck=dict(type='FPN', in_channels=[32, 64, 128], out_channels=64, start_level=0, add_extra_convs='on_output',
              num_outs=5, relu_before_extra_convs=True),
    bbox_head=dict(type='FCOSHead', num_classes=4, in_channels=64, feat_channels=64, stacked_convs=2,
                   strides=[8, 16, 32, 64, 128], norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
                   norm_on_bbox=True, centerness_on_reg=True, center_sampling=True,
                   loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
                   loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
                   loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.6),
                  max_per_img=100))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=8, num_workers=0,  # on 2 cores, loading in the main process leaves both to the model
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ShapesDataset', data_root=data_root, ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ShapesDataset', data_root=data_root, ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='bbox')
test_evaluator = val_evaluator

max_epochs = 5
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)  # validate at the end
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.002, weight_decay=0.05),
                     clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),  # warm-up over 50 iterations
    dict(type='CosineAnnealingLR', eta_min_ratio=0.05, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),  # decays every iteration
]
custom_hooks = [  # evaluate and save the average of the recent weights
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.002, gamma=500, update_buffers=True, priority=49)]
default_hooks = dict(logger=dict(type='LoggerHook', interval=50),
                     checkpoint=dict(type='CheckpointHook', interval=-1))  # the last epoch's checkpoint only
randomness = dict(seed=0)
