# Runtime settings shared by every detnb config: registry scope, default hooks, environment, logging.
default_scope = 'detnb'  # type names are looked up in detnb's registries first

# hooks that every run has; set one to None in a child config to switch it off
default_hooks = dict(
    timer=dict(type='IterTimerHook'),  # times data loading and each iteration
    logger=dict(type='LoggerHook', interval=50),  # logs every 50 iterations
    param_scheduler=dict(type='ParamSchedulerHook'),  # steps the learning-rate / momentum schedulers
    checkpoint=dict(type='CheckpointHook', interval=1),  # saves a checkpoint every epoch
    sampler_seed=dict(type='DistSamplerSeedHook'),  # reseeds the sampler each epoch in distributed runs
    visualization=dict(type='DetVisualizationHook'),  # draws predictions during validation and testing
    num_class_check=dict(type='NumClassCheckHook'),  # stops at once when a head's num_classes is not the dataset's
    invalid_loss=dict(type='CheckInvalidLossHook', interval=1),  # stops training at the first NaN or infinite loss
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),  # no OpenCV threads inside dataloader workers
    dist_cfg=dict(backend='nccl'),
    # NNPACK's Winograd 3x3 convolutions on the CPU, for large feature maps where they pay (see
    # detnb.models.layers.conv); False gives torch's direct convolution everywhere
    winograd=True,
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)  # smooths logged values over 50 iterations

log_level = 'INFO'
load_from = None  # a checkpoint to start from (weights only)
resume = False  # True: resume training from load_from, or from the latest checkpoint in work_dir
