# BCCD blood-cell detection (Pascal VOC layout, 3 classes), small images for CPU training: at most 416 x 416.
dataset_type = 'VOCDataset'
data_root = 'data/BCCD/'  # MMDetection's layout: the data set (github.com/Shenggan/BCCD_Dataset) under data/
metainfo = dict(classes=('RBC', 'WBC', 'Platelets'), palette=[(220, 20, 60), (0, 0, 142), (250, 170, 30)])
img_scale = (416, 416)  # (width, height): 640 x 480 images become 416 x 312

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
    batch_size=4, num_workers=0,  # on 2 cores, loading in the main process leaves both to the model
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='ImageSets/Main/train.txt',
                 data_prefix=dict(sub_data_root=''), metainfo=metainfo, filter_cfg=dict(filter_empty_gt=True),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='ImageSets/Main/val.txt',
                 data_prefix=dict(sub_data_root=''), metainfo=metainfo, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='VOCMetric', metric='mAP', eval_mode='area')
test_evaluator = val_evaluator
