# Deformable DETR at a size that trains on a CPU: a quarter-width ResNet-18 from scratch (strides 8 to 32, plus a
# stride-64 level from the neck), a 64-channel deformable transformer of two encoder and two decoder layers, 20
# queries, on the generated shapes data set. Set model.with_box_refine / model.as_two_stage for the other variants.
_base_ = ['../detr/detr_r18_shapes.py']
embed_dims, ffn_channels, heads = 64, 128, 4
model = dict(
    _delete_=True,
    type='DeformableDETR',
    num_queries=20,
    num_feature_levels=4,
    with_box_refine=False,
    as_two_stage=False,
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=1),
    backbone=dict(type='ResNet', depth=18, base_channels=16, num_stages=4, out_indices=(1, 2, 3), frozen_stages=-1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch'),
    neck=dict(type='ChannelMapper', in_channels=[32, 64, 128], kernel_size=1, out_channels=embed_dims, act_cfg=None,
              norm_cfg=dict(type='GN', num_groups=16), num_outs=4),
    encoder=dict(num_layers=2, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims, num_heads=heads, batch_first=True),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=ffn_channels, ffn_drop=0.0))),
    decoder=dict(num_layers=2, return_intermediate=True, post_norm_cfg=None, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims, num_heads=heads, dropout=0.0, batch_first=True),
        cross_attn_cfg=dict(embed_dims=embed_dims, num_heads=heads, batch_first=True),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=ffn_channels, ffn_drop=0.0))),
    positional_encoding=dict(num_feats=embed_dims // 2, normalize=True, offset=-0.5),
    bbox_head=dict(
        type='DeformableDETRHead', num_classes=4, embed_dims=embed_dims,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=2.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_iou=dict(type='GIoULoss', loss_weight=2.0)),
    train_cfg=dict(assigner=dict(type='HungarianAssigner', match_costs=[
        dict(type='FocalLossCost', weight=2.0), dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
        dict(type='IoUCost', iou_mode='giou', weight=2.0)])),
    test_cfg=dict(max_per_img=20))
