"""MMDetection parity for RTMDet-Ins: MMDetection's own `rtmdet-ins_tiny_8xb32-300e_coco` with seeded random weights,
run in detnb from its checkpoint, gives MMDetection's boxes, scores, labels and masks, and the same losses.

The harness is `test_mmdet_parity.py`'s (seeded weights with a sharpened classifier, two real images of different
sizes, a smaller test scale on both sides). Both sides keep every candidate above `score_thr` for NMS (`nms_pre`
30000, RTMDet's detection setting, instead of 1000): flat image regions give many points exactly the same score, and
which of those a cut at 1000 keeps depends on the tie order of a sort, not on the model. Likewise, where
`max_per_img` cuts, the last detections kept may differ (the seeded boxes are four strides wide, so neighbours
overlap with an IoU of exactly 0.6, NMS's threshold, within rounding): there MMDetection's 90 best are compared. The
dynamic-kernel layer `rtm_kernel` is also drawn He-scaled, so that mask logits spread well beyond the threshold
rather than sitting at 0 (probability 0.5). Every matched detection's mask must overlap MMDetection's with an IoU of
at least 0.99 (or differ in at most 3 pixels). The losses of one batch of two images with random boxes and masks
must be equal (MMDetection sums its per-level losses, as detnb reports them); both assigners centre the centre prior
of an instance with a mask at the mask's centre of mass.
"""
from __future__ import annotations
import os, sys
from pathlib import Path
import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import test_mmdet_parity as harness  # noqa: E402  (skips the module without the parity extra)
from test_mmdet_parity import match_detections, spread_scores, with_test_scale  # noqa: E402

mmdet, images = harness.mmdet, harness.images  # the harness's fixtures: MMDetection imported, the two images

CONFIG = 'rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py'  # MMDetection's name, and detnb's
NMS_PRE = 30000  # every candidate above score_thr goes to NMS, on both sides


@pytest.fixture(scope='module')
def mmdet_model(mmdet, images):
    "MMDetection's RTMDet-Ins-tiny built from its own config, with seeded weights."
    from mmengine.config import Config as MMConfig
    from mmdet.registry import MODELS
    cfg = MMConfig.fromfile(os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'configs', CONFIG))
    cfg.test_dataloader.dataset.pipeline = with_test_scale(cfg.test_dataloader.dataset.pipeline)
    cfg.model.backbone.init_cfg = None  # no ImageNet download: the weights are seeded
    cfg.model.test_cfg.nms_pre = NMS_PRE
    torch.manual_seed(0)  # the layers init_weights leaves as built: the same weights whatever ran before
    model = MODELS.build(cfg.model).eval()
    model.cfg, model.dataset_meta = cfg, {'classes': tuple(f'class{i}' for i in range(80))}
    spread_scores(model, images)
    g = torch.Generator().manual_seed(1)
    for layer in model.bbox_head.rtm_kernel:  # mask logits of a few units, not all near 0
        layer.weight.data = torch.randn(layer.weight.shape, generator=g) * (2 / layer.weight[0].numel()) ** 0.5
        layer.bias.data = torch.randn(layer.bias.shape, generator=g) * 0.5
    return model


@pytest.fixture(scope='module')
def detnb_model(mmdet_model, tmp_path_factory):
    "detnb's config of the same name, MMDetection's state_dict loaded with nothing missing or left over."
    from detnb.apis.inference import init_detector
    from detnb.config import Config
    from detnb.engine.checkpoint import load_checkpoint_file, load_model_state
    checkpoint = tmp_path_factory.mktemp('rtmdet_ins') / 'rtmdet_ins.pth'
    torch.save({'state_dict': mmdet_model.state_dict(), 'meta': {'dataset_meta': mmdet_model.dataset_meta}},
               checkpoint)
    cfg = Config.fromfile(f'detnb::{CONFIG}')
    cfg.test_dataloader.dataset.pipeline = with_test_scale(cfg.test_dataloader.dataset.pipeline)
    cfg.model.test_cfg.nms_pre = NMS_PRE
    model = init_detector(cfg)
    report = load_model_state(model, load_checkpoint_file(checkpoint)['state_dict'])
    assert not any(report.values()), f'MMDetection keys do not load strictly into detnb::{CONFIG}: {report}'
    return model


def instances(results) -> list[dict]:
    return [dict(bboxes=r.bboxes, scores=r.scores, labels=r.labels, masks=r.masks) for r in results]


MAX_PER_IMG = 100  # the configs' test_cfg.max_per_img
COMPARED = 90  # where max_per_img cuts, the detections of highest score compared


def best(result: dict, k: int) -> dict:
    "The `k` detections of highest score."
    order = result['scores'].argsort(descending=True)[:k]
    return {key: v[order] for key, v in result.items()}


def test_mmdet_parity_rtmdet_ins_predictions(mmdet_model, detnb_model, images):
    from mmdet.apis import inference_detector as mmdet_inference
    from detnb.apis.inference import inference_detector
    with torch.no_grad():
        expected = instances(mmdet_inference(mmdet_model, img).pred_instances for img in images)
        actual = instances(inference_detector(detnb_model, img).pred_instances for img in images)
    for i, (e, a, image) in enumerate(zip(expected, actual, images)):
        n = len(e['scores'])
        assert n >= 10 and e['scores'].max() - e['scores'].min() > 0.05, f'image {i}: {n} detections'
        assert len(a['scores']) == n, f'image {i}: detnb {len(a["scores"])} detections, MMDetection {n}'
        if n == MAX_PER_IMG:  # the last detections kept may differ: they tie at the cut, or their boxes sit at
            e, a = best(e, COMPARED), best(a, COMPARED + 5)  # IoU 0.6 (one stride apart) in NMS, within rounding
        rows, cols = match_detections(e, a)
        assert len(rows) == len(e['scores']), f'image {i}: {len(rows)} of {len(e["scores"])} detections matched'
        assert torch.equal(a['labels'][cols], e['labels'][rows]), f'image {i}: labels differ'
        torch.testing.assert_close(a['scores'][cols], e['scores'][rows], atol=1e-4, rtol=0)
        torch.testing.assert_close(a['bboxes'][cols], e['bboxes'][rows], atol=1e-2, rtol=0)
        ours, theirs = a['masks'][cols], e['masks'][rows].to(a['masks'].device)
        assert ours.shape == theirs.shape == (len(rows), *image.shape[:2]), (ours.shape, theirs.shape)
        inter, union = (ours & theirs).flatten(1).sum(1), (ours | theirs).flatten(1).sum(1)
        differ = union - inter
        iou = torch.where(union > 0, inter / union.clamp(min=1), 1.)
        assert ((iou >= 0.99) | (differ <= 3)).all(), f'image {i}: mask IoU {iou.min():.4f}, {differ.max()} pixels'
        fill = theirs.flatten(1).float().mean(1)
        assert (fill > 0).sum() >= len(rows) // 2, f'image {i}: most masks are empty: the test would show nothing'
        print(f'image {i}: {n} detections, {len(rows)} compared: as MMDetection; mask IoU '
              f'{iou.min():.4f} (lowest), {int(differ.sum())} mask pixels differ in all; masks cover {fill.mean():.3f} '
              'of the image on average')


def random_batch(seed: int = 0) -> tuple[torch.Tensor, list[dict]]:
    "A normalized batch of two 320 x 320 images and, per image, boxes, labels and the (ellipse) masks they bound."
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(2, 3, 320, 320, generator=g)
    ys, xs = torch.meshgrid(torch.arange(320.) + .5, torch.arange(320.) + .5, indexing='ij')
    gts = []
    for n in (3, 5):
        centre = torch.rand(n, 2, generator=g) * 200 + 60
        half = torch.rand(n, 2, generator=g) * 50 + 12
        masks = (((xs - centre[:, None, None, 0]) / half[:, None, None, 0]) ** 2
                 + ((ys - centre[:, None, None, 1]) / half[:, None, None, 1]) ** 2) <= 1
        cols, rows = masks.any(1), masks.any(2)
        boxes = torch.stack([cols.float().argmax(1), rows.float().argmax(1),
                             320 - cols.flip(1).float().argmax(1), 320 - rows.flip(1).float().argmax(1)], 1).float()
        gts.append(dict(bboxes=boxes, labels=torch.randint(0, 80, (n,), generator=g), masks=masks.numpy()))
    return inputs, gts


def compare_losses(mmdet_model, detnb_model) -> dict:
    "detnb's losses on `random_batch`, after checking them against MMDetection's."
    from mmdet.structures import DetDataSample as MMSample
    from mmdet.structures.mask import BitmapMasks as MMBitmapMasks
    from mmengine.structures import InstanceData as MMInstanceData
    from detnb.masks import BitmapMasks
    from detnb.structures import DetDataSample, InstanceData
    inputs, gts = random_batch()
    meta = dict(img_shape=(320, 320), pad_shape=(320, 320), batch_input_shape=(320, 320), scale_factor=(1., 1.))
    mm_samples, samples = [], []
    for gt in gts:
        s = MMSample(metainfo=meta)
        s.gt_instances = MMInstanceData(bboxes=gt['bboxes'], labels=gt['labels'],
                                        masks=MMBitmapMasks(gt['masks'].astype(np.uint8), 320, 320))
        mm_samples.append(s)
        s = DetDataSample(metainfo=meta)
        s.gt_instances = InstanceData(bboxes=gt['bboxes'], labels=gt['labels'],
                                      masks=BitmapMasks(gt['masks'].astype(np.uint8), 320, 320))
        samples.append(s)
    with torch.no_grad():  # eval mode: batch norms with their running statistics on both sides
        expected = mmdet_model.loss(inputs, mm_samples)
        actual = detnb_model.loss(inputs, samples)
    expected = {k: sum(v) if isinstance(v, (list, tuple)) else v for k, v in expected.items()}
    assert sorted(actual) == sorted(expected) == ['loss_bbox', 'loss_cls', 'loss_mask']
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=1e-4, atol=1e-5,
                                   msg=lambda m: f'{key}: {float(actual[key])} (detnb) {float(expected[key])}: {m}')
    assert expected['loss_mask'] > 0.1, 'the mask loss is near zero: positives missing?'
    return actual


def test_mmdet_parity_rtmdet_ins_losses(mmdet_model, detnb_model):
    "The losses of one batch with masks (both assigners centre the centre prior at each mask's centre of mass)."
    print({k: round(float(v), 5) for k, v in compare_losses(mmdet_model, detnb_model).items()})
