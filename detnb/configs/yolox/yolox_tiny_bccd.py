# YOLOX-tiny for CPU training on BCCD (3 classes, 416 px): the tiny model and YOLOX's recipe (Mosaic and RandomAffine
# until the last 5 epochs, multi-scale batches, SGD, EMA), shortened to 30 epochs (780 iterations of 8 images).
# Not tuned.
_base_ = './yolox_tiny_8xb8-300e_coco.py'

img_scale = (416, 416)  # width, height: 640 x 480 images become 416 x 312, padded to 416 x 416

model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchSyncRandomResize', random_size_range=(320, 480), size_divisor=32, interval=10)]),
    bbox_head=dict(num_classes=3))

dataset_type = 'VOCDataset'
data_root = 'data/BCCD/'  # MMDetection's layout: the data set (github.com/Shenggan/BCCD_Dataset) under data/
metainfo = dict(classes=('RBC', 'WBC', 'Platelets'), palette=[(220, 20, 60), (0, 0, 142), (250, 170, 30)])

train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0),
    dict(type='RandomAffine', scaling_ratio_range=(0.5, 1.5), border=(-img_scale[0] // 2, -img_scale[1] // 2)),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114.0, 114.0, 114.0))),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', pad_to_square=True, pad_val=dict(img=(114.0, 114.0, 114.0))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0,  # on 2 cores, loading in the main process leaves both to the model
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='MultiImageMixDataset',
        dataset=dict(type=dataset_type, data_root=data_root, ann_file='ImageSets/Main/train.txt',
                     data_prefix=dict(sub_data_root=''), metainfo=metainfo, filter_cfg=dict(filter_empty_gt=True),
                     pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True)]),
        pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='ImageSets/Main/val.txt',
                 data_prefix=dict(sub_data_root=''), metainfo=metainfo, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='VOCMetric', metric='mAP', eval_mode='area')
test_evaluator = val_evaluator

max_epochs = 30
num_last_epochs = 5
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
base_lr = 0.01
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='QuadraticWarmupLR', by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=1, T_max=max_epochs - num_last_epochs,
         end=max_epochs - num_last_epochs, by_epoch=True, convert_to_iter_based=True),
    dict(type='ConstantLR', by_epoch=True, factor=1, begin=max_epochs - num_last_epochs, end=max_epochs),
]
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2), logger=dict(interval=10))
custom_hooks = [
    dict(type='YOLOXModeSwitchHook', num_last_epochs=num_last_epochs, priority=48),
    dict(type='SyncNormHook', priority=48),
    # the momentum ramp's time constant (gamma, 2000 iterations by default) scaled to a run of 780 iterations: with
    # 2000 the average would follow the model step by step to the end
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, gamma=250, update_buffers=True, priority=49)
]
auto_scale_lr = dict(enable=False, base_batch_size=64)
