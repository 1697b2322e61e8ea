# DINO at a size that trains on a CPU: a quarter-width ResNet-18 from scratch (strides 8 to 32, plus a stride-64 level
# from the neck), a 64-channel transformer of two encoder and two decoder layers, 30 matching queries and at most 24
# denoising queries per group set, on the generated shapes data set. The model parts are those of
# dino-4scale_r50_8xb2-12e_coco.py at this size.
_base_ = ['../detr/detr_r18_shapes.py']
embed_dims, ffn_channels, heads = 64, 128, 4
model = dict(
    _delete_=True,
    type='DINO',
    num_queries=30,
    with_box_refine=True,
    as_two_stage=True,
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=1),
    backbone=dict(type='ResNet', depth=18, base_channels=16, num_stages=4, out_indices=(1, 2, 3), frozen_stages=-1,
                  norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch'),
    neck=dict(type='ChannelMapper', in_channels=[32, 64, 128], kernel_size=1, out_channels=embed_dims, act_cfg=None,
              norm_cfg=dict(type='GN', num_groups=16), num_outs=4),
    encoder=dict(num_layers=2, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims, num_heads=heads, num_levels=4, dropout=0.0),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=ffn_channels, ffn_drop=0.0))),
    decoder=dict(num_layers=2, return_intermediate=True, post_norm_cfg=None, layer_cfg=dict(
        self_attn_cfg=dict(embed_dims=embed_dims, num_heads=heads, dropout=0.0),
        cross_attn_cfg=dict(embed_dims=embed_dims, num_heads=heads, num_levels=4, dropout=0.0),
        ffn_cfg=dict(embed_dims=embed_dims, feedforward_channels=ffn_channels, ffn_drop=0.0))),
    positional_encoding=dict(num_feats=embed_dims // 2, normalize=True, offset=0.0, temperature=20),
    bbox_head=dict(
        type='DINOHead', num_classes=4, embed_dims=embed_dims,
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0),
        loss_iou=dict(type='GIoULoss', loss_weight=2.0)),
    dn_cfg=dict(label_noise_scale=0.5, box_noise_scale=1.0, group_cfg=dict(dynamic=True, num_dn_queries=24)),
    train_cfg=dict(assigner=dict(type='HungarianAssigner', match_costs=[
        dict(type='FocalLossCost', weight=2.0), dict(type='BBoxL1Cost', weight=5.0, box_format='xywh'),
        dict(type='IoUCost', iou_mode='giou', weight=2.0)])),
    test_cfg=dict(max_per_img=30))
