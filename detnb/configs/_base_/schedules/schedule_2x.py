# The "2x" schedule: 24 epochs, learning rate divided by 10 after epochs 16 and 22.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=24, val_interval=1)  # validate after every epoch
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    # linear warm-up from 0.001 x lr over the first 500 iterations
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    # step decay by epochs
    dict(type='MultiStepLR', begin=0, end=24, by_epoch=True, milestones=[16, 22], gamma=0.1),
]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),  # lr for 16 images per batch
)

# enable=True scales lr by (actual batch size / base_batch_size)
auto_scale_lr = dict(enable=False, base_batch_size=16)
