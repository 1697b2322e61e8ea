# `detnb quickstart`: FCOS trained from scratch on the generated shapes data set, on a CPU, in a few minutes.
# The design (measured on 2 CPU cores, see nbs/apis/02_quickstart.ipynb): a quarter-width ResNet-18, light
# GroupNorm heads, 128-pixel images, many generated images seen few times, AdamW with a cosine schedule and
# an exponential moving average of the weights. The data (_base_/datasets/shapes_detection.py): 3,000 generated
# training images and 100 for validation (`shapes`: the arguments of make_shapes_dataset), in batches of 8.
_base_ = ['../_base_/datasets/shapes_detection.py', '../_base_/default_runtime.py']

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
