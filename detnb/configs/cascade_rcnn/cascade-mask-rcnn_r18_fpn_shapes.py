# Cascade Mask R-CNN trained from scratch on the generated shapes data set (circles, squares, triangles, stars,
# with instance masks), on a CPU: mask-rcnn_r18_fpn_shapes.py's half-width ResNet-18, 64-channel FPN, data and
# schedule, with three light box heads and three mask heads in cascade.
_base_ = ['../_base_/models/cascade-mask-rcnn_r50_fpn.py', '../_base_/default_runtime.py']

# the data set: arguments of detnb.datasets.shapes.make_shapes_dataset; generate it first with
# make_shapes_dataset(root='data/shapes_256', **shapes) (or `detnb make-shapes`), or point data_root elsewhere
shapes = dict(num_train=2000, num_val=100, img_size=256, seed=0, max_objects=4, size_range=(32, 120), min_visible=0.8)
data_root = 'data/shapes_256/'
img_scale = (256, 256)  # (width, height): the generated size, so Resize only records the scale factor
classes = ('circle', 'square', 'triangle', 'star')

model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(depth=18, base_channels=32,  # stages of 32, 64, 128, 256 channels
                  frozen_stages=-1, norm_eval=False, init_cfg=None),  # from scratch: every stage trains
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64,
                  anchor_generator=dict(scales=[4])),  # anchors of 16 to 256 px: the shapes are 32 to 120
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=[dict(stage, in_channels=64, fc_out_channels=256, num_classes=len(classes))  # a list: whole stages
                   for stage in {{_base_.model.roi_head.bbox_head}}],
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(num_convs=2, in_channels=64, conv_out_channels=64, num_classes=len(classes))),
    train_cfg=dict(rpn_proposal=dict(nms_pre=1000, max_per_img=500),
                   rcnn=[dict(stage, sampler=dict(stage['sampler'], num=128))  # a few objects: fewer sampled RoIs
                         for stage in {{_base_.model.train_cfg.rcnn}}]),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))

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
    batch_size=4, num_workers=0,  # on 2 cores, loading in the main process leaves both to the model
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ShapesDataset', data_root=data_root, ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ShapesDataset', data_root=data_root, ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric=['bbox', 'segm'])
test_evaluator = val_evaluator

max_epochs = 4
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.002, weight_decay=0.05),
                     clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.05, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(type='LoggerHook', interval=50), checkpoint=dict(type='CheckpointHook', interval=-1))
randomness = dict(seed=0)
