"""MMDetection parity for Mask R-CNN: MMDetection's own `mask-rcnn_r50_fpn_1x_coco` with seeded random weights, run in
detnb from its checkpoint, gives MMDetection's boxes, scores, labels and masks.

The harness is `test_mmdet_parity.py`'s (the same seeded weights with a sharpened classifier, two real images of
different sizes, a smaller test scale on both sides); this file adds the masks: every matched detection's mask must
overlap MMDetection's with an IoU of at least 0.99 (both paste in float32, so pixels whose probability is within
rounding of `mask_thr_binary` may differ; a mask of a few pixels may differ by up to 3 of them).
"""
from __future__ import annotations
import os, sys
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).parent))
import test_mmdet_parity as harness  # noqa: E402  (skips the module without the parity extra)
from test_mmdet_parity import match_detections, spread_scores, with_test_scale  # noqa: E402

mmdet, images = harness.mmdet, harness.images  # the harness's fixtures: MMDetection imported, the two images

CONFIG = 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'  # MMDetection's name, and detnb's


def mmdet_instances(mmdet, images, checkpoint: Path) -> list[dict]:
    "MMDetection's detections with masks from its seeded Mask R-CNN, which it also saves to `checkpoint`."
    from mmengine.config import Config as MMConfig
    from mmdet.apis import inference_detector
    from mmdet.registry import MODELS
    cfg = MMConfig.fromfile(os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'configs', CONFIG))
    cfg.test_dataloader.dataset.pipeline = with_test_scale(cfg.test_dataloader.dataset.pipeline)
    cfg.model.backbone.init_cfg = None  # no ImageNet download: the weights are seeded
    model = MODELS.build(cfg.model).eval()
    model.cfg, model.dataset_meta = cfg, {'classes': tuple(f'class{i}' for i in range(80))}
    spread_scores(model, images)
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': model.dataset_meta}}, checkpoint)
    with torch.no_grad(): results = [inference_detector(model, img).pred_instances for img in images]
    return [dict(bboxes=r.bboxes, scores=r.scores, labels=r.labels, masks=r.masks) for r in results]


def detnb_instances(images, checkpoint: Path) -> list[dict]:
    "detnb's detections with masks, MMDetection's checkpoint loaded strictly into detnb's config of the same name."
    from detnb.apis.inference import inference_detector, init_detector
    from detnb.config import Config
    from detnb.engine.checkpoint import load_checkpoint_file, load_model_state
    cfg = Config.fromfile(f'detnb::{CONFIG}')
    cfg.test_dataloader.dataset.pipeline = with_test_scale(cfg.test_dataloader.dataset.pipeline)
    model = init_detector(cfg)
    report = load_model_state(model, load_checkpoint_file(checkpoint)['state_dict'])
    assert not any(report.values()), f'MMDetection keys do not load strictly into detnb::{CONFIG}: {report}'
    with torch.no_grad(): results = [inference_detector(model, img).pred_instances for img in images]
    return [dict(bboxes=r.bboxes, scores=r.scores, labels=r.labels, masks=r.masks) for r in results]


def test_mmdet_parity_mask_rcnn(mmdet, images, tmp_path):
    checkpoint = tmp_path / 'mask_rcnn.pth'
    expected = mmdet_instances(mmdet, images, checkpoint)
    actual = detnb_instances(images, checkpoint)
    for i, (e, a, image) in enumerate(zip(expected, actual, images)):
        n = len(e['scores'])
        assert n >= 10 and e['scores'].max() - e['scores'].min() > 0.05, f'image {i}: {n} detections'
        assert len(a['scores']) == n, f'image {i}: detnb {len(a["scores"])} detections, MMDetection {n}'
        rows, cols = match_detections(e, a)
        assert torch.equal(a['labels'][cols], e['labels'][rows]), f'image {i}: labels differ'
        torch.testing.assert_close(a['scores'][cols], e['scores'][rows], atol=1e-4, rtol=0)
        torch.testing.assert_close(a['bboxes'][cols], e['bboxes'][rows], atol=1e-2, rtol=0)
        ours, theirs = a['masks'][cols], e['masks'][rows].to(a['masks'].device)
        assert ours.shape == theirs.shape == (n, *image.shape[:2]), (ours.shape, theirs.shape)
        inter, union = (ours & theirs).flatten(1).sum(1), (ours | theirs).flatten(1).sum(1)
        differ = union - inter
        iou = torch.where(union > 0, inter / union.clamp(min=1), 1.)
        assert ((iou >= 0.99) | (differ <= 3)).all(), f'image {i}: mask IoU {iou.min():.4f}, {differ.max()} pixels'
        print(f'image {i}: {n} detections as MMDetection; mask IoU {iou.min():.4f} (lowest), '
              f'{int(differ.sum())} mask pixels differ in all')
