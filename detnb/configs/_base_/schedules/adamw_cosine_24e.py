# A schedule for training from scratch on a small data set: 24 epochs of AdamW (lr 0.002, weight decay 0.05, gradients
# clipped at norm 35), a linear warm-up over the first 200 iterations, then a cosine decay to 5 % of the rate, stepped
# every iteration; validation every 4 epochs.
max_epochs = 24
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.002, weight_decay=0.05),
                     clip_grad=dict(max_norm=35, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=200),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.05, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]

# enable=True scales lr by (actual batch size / base_batch_size)
auto_scale_lr = dict(enable=False, base_batch_size=16)
