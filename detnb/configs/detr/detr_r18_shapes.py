# DETR at a size that trains on a CPU: a quarter-width ResNet-18 from scratch, a 64-channel transformer of two
# encoder and two decoder layers, 20 queries, on the generated shapes data set (four classes, 128 px). The model
# parts are those of detr_r50_8xb2-150e_coco.py at this size; generate the data first with
# detnb.datasets.shapes.make_shapes_dataset(root='data/shapes', **shapes).
_base_ = ['../_base_/datasets/shapes_detection.py', '../_base_/default_runtime.py']

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
