"""A Jupyter-first, literate object-detection toolbox for PyTorch, written with nbdev

Modules:

- `detnb.datasets.wrappers`: `ConcatDataset`, `RepeatDataset` and `ClassBalancedDataset` change which images an epoch sees, not what they hold; `MultiImageMixDataset` hands a mixing transform the other images it needs.
- `detnb.engine.optim`: `OptimWrapper` (one `update_params(loss)` call with gradient accumulation and clipping), `AmpOptimWrapper` (mixed precision), and the constructor that turns a config's `optim_wrapper` with its `paramwise_cfg` into one.
- `detnb.engine.schedulers`: Learning-rate and momentum schedules (`LinearLR` warm-up, `MultiStepLR`, `CosineAnnealingLR`, ...) that compose in a list, `begin`/`end` windows, epoch- or iteration-based stepping, and `auto_scale_lr`.
- `detnb.models.backbones.resnet`: The residual networks that most detectors start from, with MMDetection's options (style, frozen stages, norm layers, dilation) and the import of torchvision's ImageNet checkpoints.
- `detnb.models.base_model`: A model's `forward` in three modes (`loss`, `predict`, `tensor`), and the `train_step`, `val_step` and `test_step` that the training and evaluation loops call.
- `detnb.models.base_module`: The `nn.Module` that every detnb component derives from: it carries an `init_cfg` and applies it in `init_weights()`, children after parents, and records which initializer wrote each parameter.
- `detnb.models.data_preprocessors.data_preprocessor`: The model's first module: it moves a collated batch to the model's device, converts BGR to RGB, normalizes and pads the images into one batch tensor, and writes the batch shapes into the data samples.
- `detnb.models.dense_heads.anchor_head`: The part of a one-stage detector that looks at every location of every feature level: class scores and box regressions for each prior, the training targets that go with them, and the post-processing that turns them into detections.
- `detnb.models.dense_heads.atss_head`: RetinaNet's head with one square anchor per location, GroupNorm towers, a centre-ness branch, and positives chosen by the statistics of each object's closest anchors.
- `detnb.models.dense_heads.dino_head`: Deformable DETR's head with two more sets of losses: the denoising queries' reconstruction, and the encoder's proposals scored over all classes.
- `detnb.models.dense_heads.fcos_head`: An anchor-free head: every location of every level regresses the distances to the four sides of the object it falls in, and a centre-ness branch down-weights the boxes predicted far from an object's centre.
- `detnb.models.dense_heads.rpn_head`: The Region Proposal Network: objectness and box deltas for every anchor from one shared convolution, and the few hundred proposals per image that the second stage of a two-stage detector classifies.
- `detnb.models.dense_heads.rtmdet_ins_head`: RTMDet's boxes plus, at every point, the parameters of a small convolutional network that draws that point's instance mask from a shared mask feature.
- `detnb.models.detectors.cascade_rcnn`: Faster R-CNN's backbone, neck and RPN with a cascade of three box heads, each trained at a higher IoU on the boxes of the one before; with mask heads, Cascade Mask R-CNN. The three modes, MMDetection's configs and checkpoint keys, and a training smoke test.
- `detnb.models.detectors.two_stage`: Backbone, neck, a region proposal network and a RoI head: Faster R-CNN, Mask R-CNN and the RPN alone, in their three modes, FCOS as the RPN, and torchvision's Faster R-CNN (v1 and v2) converted and checked detection for detection.
- `detnb.models.layers.conv`: Convolution, normalization and activation layers built from config dicts, and the conv-norm-act block that necks and heads are made of.
- `detnb.models.layers.transformer`: Positional encodings, the feed-forward network, multi-head attention, and the encoders and decoders of DETR and Deformable DETR, with MMDetection's names and checkpoint keys.
- `detnb.models.losses.cross_entropy_loss`: Softmax cross-entropy over classes, per-class sigmoid (binary) cross-entropy, and the per-roi mask cross-entropy, with the five-step loss semantics of `00_utils`.
- `detnb.models.losses.dice_loss`: The mask loss of RTMDet-Ins: one minus the Dice coefficient of a predicted mask and its target, per instance (Milletari et al., *V-Net*, 3DV 2016).
- `detnb.models.losses.focal_loss`: The classification loss of one-stage detectors: a per-class sigmoid cross-entropy that fades on the examples already classified well (Lin et al., *Focal Loss for Dense Object Detection*, ICCV 2017).
- `detnb.models.losses.gfocal_loss`: The two losses of GFL (Li et al., NeurIPS 2020): quality focal loss trains the class score to be the IoU of the predicted box, distribution focal loss trains each box side as a distribution over distances.
- `detnb.models.losses.iou_loss`: Box regression losses that score a predicted box by the metric it is evaluated on, its overlap with the ground truth, computed through `detnb.ops.bbox_overlaps`.
- `detnb.models.losses.smooth_l1_loss`: The box regression losses of the anchor-based heads, on the encoded box deltas: $|x|$, and smooth L1 (Girshick, *Fast R-CNN*, ICCV 2015), quadratic near zero.
- `detnb.models.losses.utils`: The rules that every detnb loss shares: element weights, `reduction`, `avg_factor` and `loss_weight`, the `weighted_loss` decorator that adds them to an element-wise loss, and `BaseLoss`.
- `detnb.models.roi_heads.bbox_heads`: The second stage of Faster R-CNN: from each RoI's pooled features, a score for every class and the background, and a refined box per class; their training targets, their losses, and per-class NMS.
- `detnb.models.roi_heads.cascade_roi_head`: The second stage of Cascade R-CNN and Cascade Mask R-CNN: three box heads in sequence, each trained at a higher IoU threshold on the boxes the previous one regressed; at test time the boxes refined three times and the class scores of the three stages averaged.
- `detnb.models.roi_heads.double_head_roi_head`: Double-Head R-CNN's second stage: fully connected layers classify, convolutions regress, and the regression branch reads each RoI enlarged 1.3 times.
- `detnb.models.roi_heads.mask_heads`: Mask R-CNN's mask branch: a small fully convolutional network that predicts a $28 \times 28$ mask for each RoI, its training targets cut out of the ground-truth masks, its loss, and the paste of the predicted masks back into the image.
- `detnb.models.roi_heads.roi_extractors`: RoIAlign and RoIPool through `torchvision.ops`, and `SingleRoIExtractor`: the feature pyramid level of each region by its size, and a fixed-size feature per region.
- `detnb.models.roi_heads.standard_roi_head`: The second stage of Faster and Mask R-CNN as one module: proposals matched to the ground truth and sampled, RoI features pooled from the pyramid, the box head's (and the mask head's) losses; at test time, per-class detections from the proposals, and their masks.
- `detnb.models.test_time_augs.det_tta`: `DetTTAModel`: the detector run on several augmented views of each image (scales, flips), the views' detections mapped back to the image and merged by class-wise NMS.
- `detnb.models.torchvision_import`: torchvision's RetinaNet, FCOS, Faster R-CNN and Mask R-CNN, weights and test settings, as a detnb config and checkpoint that give the same detections (and masks).
- `detnb.models.weight_init`: The initializers that an `init_cfg` builds (constant, normal, uniform, Xavier, Kaiming, the focal-loss prior, a checkpoint) and `initialize`, which applies an `init_cfg` to a module.
- `detnb.ops`: Box overlaps, NMS, soft-NMS and the fused focal loss as CUDA C kernels in `ops/*.cu`, compiled at run time by CuPy on a GPU; torch and torchvision everywhere else.
- `detnb.testing.cuda_emulation`: The unchanged `ops/*.cu` text compiled by g++ for the CPU through a shim header, launched from Python with ctypes, and checked against the torch references, under ThreadSanitizer and AddressSanitizer too.
- `detnb.testing.toys`: One toy dataset, model and metric, and their config, for the tests of the engine (runner, loops, hooks, checkpoints, resuming, distributed runs), shipped in the package as `numpy.testing` ships its helpers.
- `detnb.tools.benchmark`: `benchmark`: images per second of a config's detector on this machine, through its test dataloader; and `fuse_conv_bn`, which folds batch norms into the convolutions before them.
- `detnb.tools.robustness`: `test_robustness`: a detector's accuracy on images corrupted by the 15 ImageNet-C corruptions at 5 severities, summarized as mPC and rPC; the corruptions themselves, and the `Corrupt` transform that applies them.
- `detnb.utils`: Small helpers that any part of detnb may use: `format_table` draws a plain-text table, `print_log` sends a message to the screen, a logger or nowhere."""

__version__ = "0.2.0"
