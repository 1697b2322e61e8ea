# YOLOX-s, 300 epochs on COCO (MMDetection: 40.5 box AP; 8.97 M parameters, 8 968 255 counted by detnb and by
# MMDetection). The base of the other YOLOX sizes: CSPDarknet backbone, YOLOXPAFPN neck, YOLOXHead trained with
# SimOTA; Mosaic, RandomAffine and MixUp (MultiImageMixDataset) until the last 15 epochs, when YOLOXModeSwitchHook
# skips them and switches the L1 loss on; a new input size every 10 iterations (BatchSyncRandomResize, 480 to 800);
# SGD with quadratic warm-up, cosine decay, then a constant rate; EMA of the weights.
_base_ = ['../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py', './yolox_tta.py']

img_scale = (640, 640)  # width, height

model = dict(
    type='YOLOX',
    data_preprocessor=dict(
        type='DetDataPreprocessor', pad_size_divisor=32,
        batch_augments=[dict(type='BatchSyncRandomResize', random_size_range=(480, 800), size_divisor=32,
                             interval=10)]),
    backbone=dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.5, out_indices=(2, 3, 4), use_depthwise=False,
                  spp_kernal_sizes=(5, 9, 13), norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
                  act_cfg=dict(type='Swish')),
    neck=dict(type='YOLOXPAFPN', in_channels=[128, 256, 512], out_channels=128, num_csp_blocks=1, use_depthwise=False,
              upsample_cfg=dict(scale_factor=2, mode='nearest'), norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
              act_cfg=dict(type='Swish')),
    bbox_head=dict(
        type='YOLOXHead', num_classes=80, in_channels=128, feat_channels=128, stacked_convs=2, strides=(8, 16, 32),
        use_depthwise=False, norm_cfg=dict(type='BN', momentum=0.03, eps=0.001), act_cfg=dict(type='Swish'),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='sum', loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', mode='square', eps=1e-16, reduction='sum', loss_weight=5.0),
        loss_obj=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='sum', loss_weight=1.0),
        loss_l1=dict(type='L1Loss', reduction='sum', loss_weight=1.0)),
    train_cfg=dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5)),
    # as YOLOX's own code: score threshold 0.01 in validation (0.001 in its test runs)
    test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65)))

data_root = 'data/coco/'
dataset_type = 'CocoDataset'
backend_args = None

train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0),
    dict(type='RandomAffine', scaling_ratio_range=(0.1, 2), border=(-img_scale[0] // 2, -img_scale[1] // 2)),
    dict(type='MixUp', img_scale=img_scale, ratio_range=(0.8, 1.6), pad_val=114.0),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    # multi-scale training happens on the batch (BatchSyncRandomResize); Resize and Pad serve the last epochs,
    # when YOLOXModeSwitchHook skips Mosaic, RandomAffine and MixUp
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114.0, 114.0, 114.0))),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
train_dataset = dict(
    type='MultiImageMixDataset',  # gives Mosaic and MixUp their other images
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img='train2017/'),
                 pipeline=[dict(type='LoadImageFromFile', backend_args=backend_args),
                           dict(type='LoadAnnotations', with_bbox=True)],
                 filter_cfg=dict(filter_empty_gt=False, min_size=32), backend_args=backend_args),
    pipeline=train_pipeline)

test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114.0, 114.0, 114.0))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]

train_dataloader = dict(batch_size=8, num_workers=4, persistent_workers=True,
                        sampler=dict(type='DefaultSampler', shuffle=True), dataset=train_dataset)
val_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img='val2017/'), test_mode=True, pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader

val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json', metric='bbox',
                     backend_args=backend_args)
test_evaluator = val_evaluator

max_epochs = 300
num_last_epochs = 15
interval = 10

train_cfg = dict(max_epochs=max_epochs, val_interval=interval)

base_lr = 0.01  # for 8 GPUs x 8 images
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=base_lr, momentum=0.9, weight_decay=5e-4, nesterov=True),
                     paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))

param_scheduler = [
    # quadratic warm-up over 5 epochs, stepped by iteration (MMDetection writes type='mmdet.QuadraticWarmupLR')
    dict(type='QuadraticWarmupLR', by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    # cosine from epoch 5 to 285
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=5, T_max=max_epochs - num_last_epochs,
         end=max_epochs - num_last_epochs, by_epoch=True, convert_to_iter_based=True),
    # constant for the last 15 epochs
    dict(type='ConstantLR', by_epoch=True, factor=1, begin=max_epochs - num_last_epochs, end=max_epochs),
]

default_hooks = dict(checkpoint=dict(interval=interval, max_keep_ckpts=3))

custom_hooks = [
    dict(type='YOLOXModeSwitchHook', num_last_epochs=num_last_epochs, priority=48),
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True, priority=49)
]

# base_batch_size = 8 GPUs x 8 images: the learning rate above is for it
auto_scale_lr = dict(base_batch_size=64)
