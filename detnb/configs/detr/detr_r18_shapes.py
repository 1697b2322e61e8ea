# DETR at a size that trains on a CPU: a quarter-width ResNet-18 from scratch, a 64-channel transformer of two
# encoder and two decoder layers, 20 queries, on the generated shapes data set (four classes, 128 px). The model
# parts are those of detr_r50_8xb2-150e_coco.py at this size; generate the data first with
# detnb.datasets.shapes.make_shapes_dataset(root='data/shapes', **shapes).
_base_ = ['../_base_/default_runtime.py']
shapes = dict(num_train=3000, num_val=100, img_size=128, seed=0, max_objects=4, size_range=(24, 80), min_visible=0.8)
data_root = 'data/shapes/'
img_scale = (128, 128)

embed_dims, ffn_channels, heads = 64, 128, 4
model = dict(
    type='DETR',
    num_queries=20,
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=1),
    backbone=dict(type='ResNet', depth=18, base_channels=16, num_stages=4, out_indices=(3, ), frozen_stages=-1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch'),
    neck=dict(type='ChannelMapper', in_channels=[128], kernel_size=1, out_channels=embed_dims, act_cfg=None,
              norm_cfg=None, num_outs=1),
    encoder=dict(num_layers=2, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims, num_heads=heads, dropout=0.0, batch_first=True),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=ffn_channels, num_fcs=2, ffn_drop=0.0,
                     act_cfg=dict(type='ReLU', inplace=True)))),
    decoder=dict(num_layers=2, return_intermediate=True, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims, num_heads=heads, dropout=0.0, batch_first=True),
        cross_attn_cfg=dict(embed_dims=embed_dims, num_heads=heads, dropout=0.0, batch_first=True),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=ffn_channels, num_fcs=2, ffn_drop=0.0,
                     act_cfg=dict(type='ReLU', inplace=True)))),
    positional_encoding=dict(num_feats=embed_dims // 2, normalize=True),
    bbox_head=dict(
        type='DETRHead', num_classes=4, embed_dims=embed_dims,
        loss_cls=dict(type='CrossEntropyLoss', bg_cls_weight=0.1, use_sigmoid=False, loss_weight=1.0, class_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_iou=dict(type='GIoULoss', loss_weight=2.0)),
    train_cfg=dict(assigner=dict(type='HungarianAssigner', match_costs=[
        dict(type='ClassificationCost', weight=1.), dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
        dict(type='IoUCost', iou_mode='giou', weight=2.0)])),
    test_cfg=dict(max_per_img=20))

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
    batch_size=8, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ShapesDataset', data_root=data_root, ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ShapesDataset', data_root=data_root, ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val.json', metric='bbox')
test_evaluator = val_evaluator

# from scratch: every part at the full learning rate, higher than the COCO config's, gradients clipped
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.001, weight_decay=0.0001),
                     clip_grad=dict(max_norm=1.0, norm_type=2))
max_epochs = 12
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[10], gamma=0.1)]
default_hooks = dict(logger=dict(type='LoggerHook', interval=50), checkpoint=dict(type='CheckpointHook', interval=-1))
randomness = dict(seed=0)
