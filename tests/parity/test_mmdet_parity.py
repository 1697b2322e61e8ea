"""MMDetection parity: MMDetection's own configs and weights, run in detnb, give MMDetection's detections.

For each family detnb implements, MMDetection 3.3.0 builds the model from its own config with seeded random weights
(the classifier made sharper so that scores spread over the whole range), runs `inference_detector` on two real
images of different sizes, and saves its `state_dict` as a checkpoint. detnb loads that checkpoint, with
MMDetection's keys and nothing missing or left over, into detnb's config of the same name and runs its own
`inference_detector`. The detections must agree: same count, same labels, scores within 1e-4, boxes within 1e-2 px.

Needs the `parity` extra (`pip install -e ".[parity]"`: mmengine, mmcv-lite, mmdet); skips without it.
MMDetection runs here through `mmdet_shim` (mmcv-lite has no compiled kernels). Both sides use a smaller test
scale than the configs' 1333 x 800, set the same way on each, to keep the test fast on a CPU.
"""
from __future__ import annotations
import os, sys
from pathlib import Path
import numpy as np
import pytest
import torch

import importlib.util
if importlib.util.find_spec('mmdet') is None or importlib.util.find_spec('mmcv') is None:
    pytest.skip('the parity extra is not installed: pip install -e ".[parity]"', allow_module_level=True)
sys.path.insert(0, str(Path(__file__).parent))
from mmdet_shim import import_mmdet  # noqa: E402

DATA = Path(__file__).resolve().parents[3] / 'shared' / 'data'
IMAGES = [DATA / 'bccd/BCCD/JPEGImages/BloodImage_00000.jpg', DATA / 'coco128/train2017/000000000025.jpg']
TEST_SCALE = (640, 384)  # (w, h) limits of the keep-ratio resize, on both sides
# (MMDetection config, detnb config): the same name where detnb ships it
FAMILIES = {
    'retinanet': 'retinanet/retinanet_r50_fpn_1x_coco.py',
    'fcos': 'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py',
    'atss': 'atss/atss_r50_fpn_1x_coco.py',
    'gfl': 'gfl/gfl_r50_fpn_1x_coco.py',
    'rtmdet': 'rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
    'faster_rcnn': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
}


@pytest.fixture(scope='module')
def mmdet():
    return import_mmdet()


@pytest.fixture(scope='module')
def images() -> list[np.ndarray]:
    if not all(p.exists() for p in IMAGES): pytest.skip(f'the BCCD and coco128 images are not under {DATA}')
    import cv2
    return [cv2.imread(str(p)) for p in IMAGES]


def with_test_scale(pipeline: list[dict]) -> list[dict]:
    "`pipeline` with its `Resize` step limited to `TEST_SCALE`."
    return [dict(step, scale=TEST_SCALE) if step['type'].split('.')[-1] == 'Resize' else step for step in pipeline]


CLASSIFIERS = ('retina_cls', 'conv_cls', 'gfl_cls', 'atss_cls', 'rtm_cls', 'fc_cls')


def classifiers(model: torch.nn.Module) -> list[torch.nn.Module]:
    "The last classification layers of the model's head (one per level where levels have their own)."
    head = model.roi_head.bbox_head if hasattr(model, 'roi_head') else model.bbox_head
    layer = next(getattr(head, n) for n in CLASSIFIERS if hasattr(head, n))
    return list(layer) if isinstance(layer, torch.nn.ModuleList) else [layer]


def spread_scores(model: torch.nn.Module, images: list[np.ndarray], seed: int = 0) -> None:
    "Seeded random weights that make scores spread: He-scaled head towers, a classifier scaled on `images`."
    from mmdet.apis import inference_detector
    torch.manual_seed(seed)
    model.init_weights()  # MMDetection's initialisation: std 0.01 head convolutions, scores all near the prior 0.01
    g = torch.Generator().manual_seed(seed)
    head = model.roi_head.bbox_head if hasattr(model, 'roi_head') else model.bbox_head
    for name, p in head.named_parameters():  # the towers keep the scale of the FPN's features
        if '_convs.' in name and p.dim() == 4: p.data = torch.randn(p.shape, generator=g) * (2 / p[0].numel()) ** 0.5
    for layer in getattr(head, 'rtm_reg', []):  # RTMDet's regression starts at zero: boxes of no size, which
        layer.bias.data.fill_(2.0)               # `min_bbox_size` filters on the last bit; give them two strides
    layers = classifiers(model)
    for layer in layers:
        layer.weight.data = torch.randn(layer.weight.shape, generator=g)
        layer.bias.data.zero_()
    logits = []
    hooks = [layer.register_forward_hook(lambda module, args, out: logits.append(out.detach().flatten()))
             for layer in layers]
    best = []
    for image in images:
        with torch.no_grad(): inference_detector(model, image)
        best.append(torch.cat(logits).topk(100).values)
        logits.clear()
    for hook in hooks: hook.remove()
    low, high = min(b[-1] for b in best), max(b[0] for b in best)
    scale = 5 / (high - low)  # the 100 best logits of every image within -2..3 (scores 0.12..0.95)
    for layer in layers:
        layer.weight.data *= scale
        layer.bias.data.fill_(-2 - scale * low)


def mmdet_detections(mmdet, config: str, images, checkpoint: Path) -> list[dict]:
    "MMDetection's detections of its seeded model, which it also saves to `checkpoint`."
    from mmengine.config import Config as MMConfig
    from mmdet.apis import inference_detector
    from mmdet.registry import MODELS
    cfg = MMConfig.fromfile(os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'configs', config))
    cfg.test_dataloader.dataset.pipeline = with_test_scale(cfg.test_dataloader.dataset.pipeline)
    cfg.model.backbone.init_cfg = None  # no ImageNet download: the weights are seeded below
    model = MODELS.build(cfg.model).eval()
    model.cfg, model.dataset_meta = cfg, {'classes': tuple(f'class{i}' for i in range(80))}
    spread_scores(model, images)
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': model.dataset_meta}}, checkpoint)
    with torch.no_grad(): results = [inference_detector(model, img).pred_instances for img in images]
    return [dict(bboxes=r.bboxes, scores=r.scores, labels=r.labels) for r in results]


def detnb_detections(config: str, images, checkpoint: Path) -> list[dict]:
    "detnb's detections with MMDetection's checkpoint loaded strictly into detnb's config of the same name."
    from detnb.apis.inference import inference_detector, init_detector
    from detnb.config import Config
    from detnb.engine.checkpoint import load_checkpoint_file, load_model_state
    cfg = Config.fromfile(f'detnb::{config}')
    cfg.test_dataloader.dataset.pipeline = with_test_scale(cfg.test_dataloader.dataset.pipeline)
    model = init_detector(cfg)
    report = load_model_state(model, load_checkpoint_file(checkpoint)['state_dict'])
    assert not any(report.values()), f'MMDetection keys do not load strictly into detnb::{config}: {report}'
    with torch.no_grad(): results = [inference_detector(model, img).pred_instances for img in images]
    return [dict(bboxes=r.bboxes, scores=r.scores, labels=r.labels) for r in results]


def match_detections(expected: dict, actual: dict) -> tuple[np.ndarray, np.ndarray]:
    "A one-to-one pairing of the two sets of detections that minimises the box distance among same-label pairs."
    from scipy.optimize import linear_sum_assignment
    box_gap = (expected['bboxes'][:, None] - actual['bboxes'][None]).abs().amax(-1).double()
    score_gap = (expected['scores'][:, None] - actual['scores'][None]).abs().double()
    other_label = expected['labels'][:, None] != actual['labels'][None]
    cost = box_gap + 1e3 * score_gap + 1e6 * other_label  # ties in score (flat image regions) pair by position
    return linear_sum_assignment(cost.numpy())


@pytest.mark.parametrize('family', list(FAMILIES))
def test_mmdet_parity(family: str, mmdet, images, tmp_path):
    config = FAMILIES[family]
    checkpoint = tmp_path / f'{family}.pth'
    expected = mmdet_detections(mmdet, config, images, checkpoint)
    actual = detnb_detections(config, images, checkpoint)
    for i, (e, a) in enumerate(zip(expected, actual)):
        n = len(e['scores'])
        spread = e['scores'].max() - e['scores'].min()
        assert n >= 10 and spread > 0.05, f'{family} image {i}: {n} detections, scores within {spread:.3f}'
        assert len(a['scores']) == n, f'{family} image {i}: detnb {len(a["scores"])} detections, MMDetection {n}'
        rows, cols = match_detections(e, a)
        assert torch.equal(a['labels'][cols], e['labels'][rows]), f'{family} image {i}: labels differ'
        torch.testing.assert_close(a['scores'][cols], e['scores'][rows], atol=1e-4, rtol=0)
        torch.testing.assert_close(a['bboxes'][cols], e['bboxes'][rows], atol=1e-2, rtol=0)
