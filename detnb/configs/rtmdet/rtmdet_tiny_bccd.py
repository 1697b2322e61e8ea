# RTMDet-tiny for CPU training from scratch on BCCD (3 classes, 416 px): the tiny model and RTMDet's recipe
# (CachedMosaic and CachedMixUp, then a lighter stage-2 pipeline for the last epochs through PipelineSwitchHook;
# AdamW, a flat then cosine learning rate, EMA) at 416 px with batches of 8, sized for about 20 minutes on 2 idle CPU
# cores, an estimate from the CPU time of a step (bench/bccd_race.py fits the epochs to a measured wall-clock
# budget). Not tuned on BCCD: MMDetection's recipe at 416 px. The metric is COCO's, computed on the
# ground truth that the validation samples carry (BCCD has no COCO json).
_base_ = './rtmdet_tiny_8xb32-300e_coco.py'

img_scale = (416, 416)  # width, height: 640 x 480 images become 416 x 312, padded to 416 x 416

model = dict(
    bbox_head=dict(num_classes=3),
    # BCCD has at most about 40 cells per image: 100 detections, the 1000 best priors per level before NMS
    test_cfg=dict(nms_pre=1000, score_thr=0.001, nms=dict(type='nms', iou_threshold=0.65), max_per_img=100))

dataset_type = 'VOCDataset'
data_root = 'data/BCCD/'  # MMDetection's layout: the data set (github.com/Shenggan/BCCD_Dataset) under data/
metainfo = dict(classes=('RBC', 'WBC', 'Platelets'), palette=[(220, 20, 60), (0, 0, 142), (250, 170, 30)])

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='CachedMosaic', img_scale=img_scale, pad_val=114.0, max_cached_images=20, random_pop=False),
    dict(type='RandomResize', scale=(832, 832), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=img_scale),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='CachedMixUp', img_scale=img_scale, ratio_range=(1.0, 1.0), max_cached_images=10, random_pop=False,
         pad_val=(114, 114, 114), prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
train_pipeline_stage2 = [  # the last epochs: whole images at the test scale, lightly jittered
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=img_scale),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    # `instances`: CocoMetric(ann_file=None) scores against the ground truth each sample carries
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'instances'))
]
train_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0,  # on 2 cores, loading in the main process leaves both to the model
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='ImageSets/Main/train.txt',
                 data_prefix=dict(sub_data_root=''), metainfo=metainfo, filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline))
val_dataloader = dict(
    _delete_=True, batch_size=8, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='ImageSets/Main/val.txt',
                 data_prefix=dict(sub_data_root=''), metainfo=metainfo, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='CocoMetric', ann_file=None, metric='bbox', classwise=True)
test_evaluator = val_evaluator

# 26 iterations of 8 images per epoch (2.3 CPU seconds each with 1 thread): 30 epochs, the last 5 in stage 2; a flat
# learning rate for the first third (after a warm-up of 100 iterations), then a cosine to 5 %
max_epochs = 30
stage2_num_epochs = 5
base_lr = 0.004
interval = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=interval, dynamic_intervals=[(max_epochs - stage2_num_epochs, 5)])
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05, begin=max_epochs // 3, end=max_epochs,
         T_max=max_epochs - max_epochs // 3, by_epoch=True, convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=interval, max_keep_ckpts=2), logger=dict(interval=10))
custom_hooks = [
    # ExpMomentumEMA's momentum falls from 1 to 0.0002 with time constant gamma: MMDetection's 2000 iterations would
    # leave the average equal to the model for a whole run of ~800; with 250 it averages the last epoch or two
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, gamma=250, update_buffers=True, priority=49),
    dict(type='PipelineSwitchHook', switch_epoch=max_epochs - stage2_num_epochs, switch_pipeline=train_pipeline_stage2)
]
auto_scale_lr = dict(enable=False, base_batch_size=256)
