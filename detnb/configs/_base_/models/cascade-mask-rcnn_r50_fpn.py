# Cascade Mask R-CNN (Cai & Vasconcelos, TPAMI 2019) with a ResNet-50 FPN, as MMDetection: Cascade R-CNN with a
# mask head per stage (FCNMaskHead on 14 x 14 RoIAlign features); at test time the stages' masks are averaged.
_base_ = './cascade-rcnn_r50_fpn.py'
model = dict(
    data_preprocessor=dict(pad_mask=True),
    roi_head=dict(
        mask_roi_extractor=dict(type='SingleRoIExtractor',  # finer pooling than the boxes': masks need pixels
                                roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
                                out_channels=256, featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(type='FCNMaskHead', num_convs=4, in_channels=256, conv_out_channels=256, num_classes=80,
                       loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(rcnn=[dict(stage, mask_size=28)  # side of the mask targets, every stage
                         for stage in {{_base_.model.train_cfg.rcnn}}]),
    test_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))  # a pixel belongs to the mask at probability 0.5 or more
