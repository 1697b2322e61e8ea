"""MMDetection parity for YOLOX: parameter counts, SimOTA assignments, head losses and detections.

MMDetection 3.3.0 builds YOLOX from its own configs; detnb builds its configs of the same names. The parameter
counts agree exactly for YOLOX-nano, -tiny and -s, part by part; `SimOTAAssigner` gives the same assignment on
random cases; `YOLOXHead` gives the same losses (L1 included) on the same outputs; and YOLOX-tiny with seeded random
weights, saved by MMDetection and loaded strictly into detnb, gives the same detections on two real images (the
harness of `test_mmdet_parity.py`). Needs the `parity` extra; skips without it.
"""
from __future__ import annotations
import os, sys
from pathlib import Path
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import test_mmdet_parity as harness  # noqa: E402  (skips this module too when the parity extra is absent)
from test_mmdet_parity import detnb_detections, match_detections, with_test_scale  # noqa: E402
from mmdet_shim import import_mmdet  # noqa: E402

CONFIG = 'yolox/yolox_{}_8xb8-300e_coco.py'


@pytest.fixture(scope='module')
def mmdet():
    return import_mmdet()


@pytest.fixture(scope='module')
def images() -> list:
    "The harness's two images (BCCD and coco128)."
    if not all(p.exists() for p in harness.IMAGES):
        pytest.skip(f'the BCCD and coco128 images are not under {harness.DATA}')
    import cv2
    return [cv2.imread(str(p)) for p in harness.IMAGES]


def mmdet_config(mmdet, name: str):
    from mmengine.config import Config as MMConfig
    return MMConfig.fromfile(os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'configs', name))


@pytest.mark.parametrize('size', ['nano', 'tiny', 's'])
def test_parameter_counts(size: str, mmdet):
    from mmdet.registry import MODELS as MM_MODELS
    from detnb.config import Config
    from detnb.registry import MODELS
    theirs = MM_MODELS.build(mmdet_config(mmdet, CONFIG.format(size)).model)
    ours = MODELS.build(Config.fromfile(f'detnb::{CONFIG.format(size)}').model)
    count = lambda m: sum(p.numel() for p in m.parameters())
    for part in ('backbone', 'neck', 'bbox_head'):
        assert count(getattr(ours, part)) == count(getattr(theirs, part)), f'YOLOX-{size} {part}'
    assert count(ours) == count(theirs) == dict(nano=912_159, tiny=5_055_855, s=8_968_255)[size]
    assert set(ours.state_dict()) == set(theirs.state_dict())


def random_case(g: torch.Generator, n_gts: int, h: int = 96, w: int = 128, classes: int = 5):
    "Priors (cell centres of strides 8, 16, 32), class probabilities, predicted boxes jittered around them, boxes."
    points = []
    for s in (8, 16, 32):
        ys, xs = torch.meshgrid(torch.arange(h // s), torch.arange(w // s), indexing='ij')
        n = xs.numel()
        points.append(torch.stack([xs.flatten() * s + s / 2, ys.flatten() * s + s / 2, torch.full((n,), s),
                                   torch.full((n,), s)], 1).float())
    priors = torch.cat(points)
    xy = torch.rand(n_gts, 2, generator=g) * torch.tensor([w - 8., h - 8.])
    wh = 2 + torch.rand(n_gts, 2, generator=g) * 60  # small boxes too, which contain no point
    gt = torch.cat([xy, (xy + wh).minimum(torch.tensor([w, h]))], 1)
    centres = priors[:, :2] + torch.randn(len(priors), 2, generator=g) * 4
    sizes = torch.rand(len(priors), 2, generator=g) * 50 + 2
    boxes = torch.cat([centres - sizes / 2, centres + sizes / 2], 1)
    return (priors, torch.rand(len(priors), classes, generator=g), boxes, gt,
            torch.randint(classes, (n_gts,), generator=g))


def test_sim_ota_assigner(mmdet):
    from mmengine.structures import InstanceData as MMInstanceData
    from mmdet.models.task_modules.assigners import SimOTAAssigner as MMSimOTAAssigner
    from detnb.models.task_modules.sim_ota_assigner import SimOTAAssigner
    from detnb.structures import InstanceData
    ours, theirs = SimOTAAssigner(center_radius=2.5), MMSimOTAAssigner(center_radius=2.5)
    g = torch.Generator().manual_seed(0)
    for case in range(40):
        n_gts = [1, 2, 5, 10, 20][case % 5]
        priors, scores, boxes, gt, labels = random_case(g, n_gts)
        a = ours.assign(InstanceData(priors=priors, scores=scores, bboxes=boxes),
                        InstanceData(bboxes=gt, labels=labels))
        e = theirs.assign(MMInstanceData(priors=priors, scores=scores, bboxes=boxes),
                          MMInstanceData(bboxes=gt, labels=labels))
        assert torch.equal(a.gt_inds, e.gt_inds), f'case {case} ({n_gts} boxes): gt_inds differ'
        assert torch.equal(a.labels, e.labels), f'case {case}: labels differ'
        pos = e.gt_inds > 0
        torch.testing.assert_close(a.max_overlaps[pos], e.max_overlaps[pos])


def test_yolox_head_losses(mmdet):
    from mmengine.structures import InstanceData as MMInstanceData
    from mmdet.registry import MODELS as MM_MODELS
    from detnb.registry import MODELS
    from detnb.structures import InstanceData
    head_cfg = dict(type='YOLOXHead', num_classes=4, in_channels=16, feat_channels=16, stacked_convs=2,
                    train_cfg=dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5)),
                    test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65)))
    theirs, ours = MM_MODELS.build(head_cfg), MODELS.build(head_cfg)
    torch.manual_seed(0)
    theirs.init_weights()
    assert not any(ours.load_state_dict(theirs.state_dict(), strict=True))
    feats = [torch.randn(2, 16, 96 // s, 128 // s) for s in (8, 16, 32)]
    boxes = [torch.tensor([[4., 6., 40., 50.], [30., 10., 75., 60.], [90., 40., 94., 44.]]), torch.zeros(0, 4)]
    labels = [torch.tensor([3, 1, 0]), torch.zeros(0, dtype=torch.long)]
    metas = [dict(img_shape=(96, 128), pad_shape=(96, 128), batch_input_shape=(96, 128))] * 2
    for use_l1 in (False, True):
        theirs.use_l1 = ours.use_l1 = use_l1
        expected = theirs.loss_by_feat(*theirs(feats), [MMInstanceData(bboxes=b, labels=l) for b, l in
                                                        zip(boxes, labels)], metas)
        actual = ours.loss_by_feat(*ours(feats), [InstanceData(bboxes=b, labels=l) for b, l in zip(boxes, labels)],
                                   metas)
        assert sorted(actual) == sorted(expected)
        for key in expected: torch.testing.assert_close(actual[key], expected[key], rtol=1e-5, atol=1e-5)


def mmdet_yolox_detections(mmdet, config: str, images, checkpoint: Path) -> list[dict]:
    "MMDetection's detections of its seeded YOLOX (classifiers spread as in the harness, objectness near 0.9)."
    from mmdet.apis import inference_detector
    from mmdet.registry import MODELS
    cfg = mmdet_config(mmdet, config)
    cfg.test_dataloader.dataset.pipeline = with_test_scale(cfg.test_dataloader.dataset.pipeline)
    model = MODELS.build(cfg.model).eval()
    model.cfg, model.dataset_meta = cfg, {'classes': tuple(f'class{i}' for i in range(80))}
    harness.spread_scores(model, images)
    g = torch.Generator().manual_seed(1)
    for conv in model.bbox_head.multi_level_conv_obj:  # objectness logits around 2: probabilities about 0.9
        conv.weight.data = torch.randn(conv.weight.shape, generator=g) * 0.05
        conv.bias.data.fill_(2.0)
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': model.dataset_meta}}, checkpoint)
    with torch.no_grad(): results = [inference_detector(model, img).pred_instances for img in images]
    return [dict(bboxes=r.bboxes, scores=r.scores, labels=r.labels) for r in results]


def test_yolox_tiny_detections(mmdet, images, tmp_path, monkeypatch):
    monkeypatch.setattr(harness, 'CLASSIFIERS', harness.CLASSIFIERS + ('multi_level_conv_cls',))
    config = CONFIG.format('tiny')
    checkpoint = tmp_path / 'yolox_tiny.pth'
    expected = mmdet_yolox_detections(mmdet, config, images, checkpoint)
    actual = detnb_detections(config, images, checkpoint)
    for i, (e, a) in enumerate(zip(expected, actual)):
        n = len(e['scores'])
        spread = e['scores'].max() - e['scores'].min()
        assert n >= 10 and spread > 0.05, f'image {i}: {n} detections, scores within {spread:.3f}'
        assert len(a['scores']) == n, f'image {i}: detnb {len(a["scores"])} detections, MMDetection {n}'
        rows, cols = match_detections(e, a)
        assert torch.equal(a['labels'][cols], e['labels'][rows]), f'image {i}: labels differ'
        torch.testing.assert_close(a['scores'][cols], e['scores'][rows], atol=1e-4, rtol=0)
        torch.testing.assert_close(a['bboxes'][cols], e['bboxes'][rows], atol=1e-2, rtol=0)
