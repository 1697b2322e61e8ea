"""A Jupyter-first, literate object-detection toolbox for PyTorch, written with nbdev

Modules:

- `detnb.engine.optim`: `OptimWrapper` (one `update_params(loss)` call with gradient accumulation and clipping), `AmpOptimWrapper` (mixed precision), and the constructor that turns a config's `optim_wrapper` with its `paramwise_cfg` into one.
- `detnb.engine.schedulers`: Learning-rate and momentum schedules (`LinearLR` warm-up, `MultiStepLR`, `CosineAnnealingLR`, ...) that compose in a list, `begin`/`end` windows, epoch- or iteration-based stepping, and `auto_scale_lr`.
- `detnb.models.backbones.resnet`: The residual networks that most detectors start from, with MMDetection's options (style, frozen stages, norm layers, dilation) and the import of torchvision's ImageNet checkpoints.
- `detnb.models.base`: What every detnb model is built on: `init_cfg` and `init_weights()`, the data preprocessor that turns a collated batch into a normalized, padded tensor, and the `train_step`/`val_step` interface the engine calls.
- `detnb.models.dense_heads.anchor_head`: The part of a one-stage detector that looks at every location of every feature level: class scores and box regressions for each prior, the training targets that go with them, and the post-processing that turns them into detections.
- `detnb.models.dense_heads.atss_head`: RetinaNet's head with one square anchor per location, GroupNorm towers, a centre-ness branch, and positives chosen by the statistics of each object's closest anchors.
- `detnb.models.dense_heads.fcos_head`: An anchor-free head: every location of every level regresses the distances to the four sides of the object it falls in, and a centre-ness branch down-weights the boxes predicted far from an object's centre.
- `detnb.models.layers.conv`: Convolution, normalization and activation layers built from config dicts, and the conv-norm-act block that necks and heads are made of.
- `detnb.models.torchvision_import`: torchvision's RetinaNet and FCOS, weights and test settings, as a detnb config and checkpoint that give the same detections.
- `detnb.ops`: Box overlaps, NMS, soft-NMS and the fused focal loss as CUDA C kernels in `ops/*.cu`, compiled at run time by CuPy on a GPU; torch and torchvision everywhere else.
- `detnb.testing.cuda_emulation`: The unchanged `ops/*.cu` text compiled by g++ for the CPU through a shim header, launched from Python with ctypes, and checked against the torch references, under ThreadSanitizer and AddressSanitizer too."""

__version__ = "0.1.0"
