"""MMDetection 3.3.0 on a CPU with mmcv-lite, for the parity tests only (not part of detnb).

mmcv-lite keeps mmcv's Python wrappers but ships no compiled kernels (`mmcv._ext`), and `mmdet/__init__` asserts an
mmcv version below 2.2.0, the version of the only mmcv-lite on PyPI. `import_mmdet()` supplies the few kernels that
MMDetection's inference and losses call, through torchvision and torch, and shows the version check 2.1.0 while
`mmdet` imports. Any other kernel raises `NotImplementedError` naming it, so a test never runs a silent stand-in.
"""
from __future__ import annotations
import importlib, sys, types
import torch
import torchvision


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, offset: int = 0) -> torch.Tensor:
    "mmcv's `nms` kernel: indices kept, by decreasing score; `offset=1` counts box sides as `x2 - x1 + 1`."
    if offset: boxes = torch.cat([boxes[:, :2], boxes[:, 2:4] + offset], 1)
    return torchvision.ops.nms(boxes, scores, iou_threshold)


def roi_align_forward(input, rois, output, argmax_y, argmax_x, aligned_height, aligned_width, spatial_scale,
                      sampling_ratio, pool_mode, aligned):
    "mmcv's `roi_align_forward` kernel (average pooling) through `torchvision.ops.roi_align`, written into `output`."
    if pool_mode != 1: raise NotImplementedError('parity shim: RoIAlign max pooling')
    output.copy_(torchvision.ops.roi_align(input, rois, (aligned_height, aligned_width), spatial_scale,
                                           sampling_ratio, aligned))


def _focal_terms(input, target, gamma, alpha):
    "Probabilities, one-hot targets (class `num_classes` is background) and the focal weights of mmcv's kernel."
    p = input.sigmoid()
    onehot = torch.nn.functional.one_hot(target, input.size(1) + 1)[:, :-1].to(input.dtype)
    return p, onehot


def sigmoid_focal_loss_forward(input, target, weight, output, gamma, alpha):
    "mmcv's `sigmoid_focal_loss_forward` kernel: the element-wise sigmoid focal loss, written into `output`."
    p, t = _focal_terms(input, target, gamma, alpha)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(input, t, reduction='none')
    loss = torch.where(t > 0, alpha * (1 - p) ** gamma, (1 - alpha) * p ** gamma) * ce
    if weight.numel(): loss = loss * weight[:, None]
    output.copy_(loss)


def sigmoid_focal_loss_backward(input, target, weight, grad_input, gamma, alpha):
    "mmcv's `sigmoid_focal_loss_backward` kernel, through autograd on the forward's formula."
    x = input.detach().requires_grad_(True)
    with torch.enable_grad():
        p, t = _focal_terms(x, target, gamma, alpha)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(x, t, reduction='none')
        loss = torch.where(t > 0, alpha * (1 - p) ** gamma, (1 - alpha) * p ** gamma) * ce
        if weight.numel(): loss = loss * weight[:, None]
        grad_input.copy_(torch.autograd.grad(loss.sum(), x)[0])


class _Kernels(types.ModuleType):
    "`mmcv._ext`: the kernels above; any other name raises `NotImplementedError` when called."
    def __getattr__(self, name: str):
        if name.startswith('__'): raise AttributeError(name)  # module attributes (`__file__`...) that inspect reads
        def missing(*args, **kwargs): raise NotImplementedError(f'parity shim: mmcv._ext.{name} is not provided')
        return missing


def import_mmdet() -> types.ModuleType:
    "Import `mmdet` (and register its modules) on a CPU with mmcv-lite; returns the `mmdet` module."
    import mmcv
    if 'mmcv._ext' not in sys.modules:
        ext = _Kernels('mmcv._ext')
        for f in (nms, roi_align_forward, sigmoid_focal_loss_forward, sigmoid_focal_loss_backward):
            setattr(ext, f.__name__, f)
        sys.modules['mmcv._ext'] = ext
    version = mmcv.__version__
    mmcv.__version__ = '2.1.0'  # mmdet 3.3.0 asks for mmcv < 2.2.0; mmcv-lite 2.2.0 has the same Python API
    try: mmdet = importlib.import_module('mmdet')
    finally: mmcv.__version__ = version
    from mmdet.utils import register_all_modules
    register_all_modules()
    return mmdet
