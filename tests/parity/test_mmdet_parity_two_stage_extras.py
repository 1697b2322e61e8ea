"""MMDetection parity for the two-stage extras: Double-Head R-CNN, FCOS as the RPN, the RPN alone, GRoIE's extractor.

`double_heads/dh-faster-rcnn_r50_fpn_1x_coco.py`: MMDetection's own config with seeded random weights (the harness of
`test_mmdet_parity.py`: a sharpened classifier, two real images of different sizes, a smaller test scale on both
sides), its checkpoint loaded strictly into detnb's config of the same name: same count, labels, scores within 1e-4,
boxes within 1e-2 px. The same for `faster_rcnn/faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py` (an FCOS head proposes).
`rpn/rpn_r50_fpn_1x_coco.py`: MMDetection's RPN, seeded, with its objectness spread (standard deviation 2 on the
images), gives the same proposals in detnb (count, boxes within 1e-2 px, scores within 1e-4).
`GenericRoIExtractor` (GRoIE's `sum` and `concat`, with a 5 x 5 `ConvModule` before and a 1 x 1 one after the
aggregation): MMDetection's module and detnb's with the same weights pool the same features.
"""
from __future__ import annotations
import sys
from pathlib import Path
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import test_mmdet_parity as harness  # noqa: E402  (skips the module without the parity extra)
from test_mmdet_parity import detnb_detections, match_detections, mmdet_detections  # noqa: E402

mmdet, images = harness.mmdet, harness.images  # the harness's fixtures: MMDetection imported, the two images

CONFIGS = {'double_heads': 'double_heads/dh-faster-rcnn_r50_fpn_1x_coco.py',  # MMDetection's names, and detnb's
           'fcos_rpn': 'faster_rcnn/faster-rcnn_r50_fpn_fcos-rpn_1x_coco.py'}


def built_detections(config: str, images, checkpoint: Path) -> list[dict]:
    "`detnb_detections` without `init_detector`, whose class check reads the FCOS RPN's one class (see the report)."
    from detnb.apis.inference import inference_detector
    from detnb.config import Config
    from detnb.datasets.class_names import COCO_CLASSES
    from detnb.engine.checkpoint import load_checkpoint_file, load_model_state
    from detnb.registry import MODELS
    cfg = Config.fromfile(f'detnb::{config}')
    cfg.test_dataloader.dataset.pipeline = harness.with_test_scale(cfg.test_dataloader.dataset.pipeline)
    model = MODELS.build(cfg.model).eval()
    report = load_model_state(model, load_checkpoint_file(checkpoint)['state_dict'])
    assert not any(report.values()), f'MMDetection keys do not load strictly into detnb::{config}: {report}'
    model.cfg, model.dataset_meta = cfg, dict(classes=COCO_CLASSES)
    with torch.no_grad(): results = [inference_detector(model, img).pred_instances for img in images]
    return [dict(bboxes=r.bboxes, scores=r.scores, labels=r.labels) for r in results]


@pytest.mark.parametrize('family', list(CONFIGS))
def test_mmdet_parity_two_stage_extras(family, mmdet, images, tmp_path):
    checkpoint = tmp_path / f'{family}.pth'
    expected = mmdet_detections(mmdet, CONFIGS[family], images, checkpoint)
    actual = (detnb_detections if family != 'fcos_rpn' else built_detections)(CONFIGS[family], images, checkpoint)
    for i, (e, a) in enumerate(zip(expected, actual)):
        n = len(e['scores'])
        assert n >= 10 and e['scores'].max() - e['scores'].min() > 0.05, f'image {i}: {n} detections'
        assert len(a['scores']) == n, f'image {i}: detnb {len(a["scores"])} detections, MMDetection {n}'
        rows, cols = match_detections(e, a)
        assert torch.equal(a['labels'][cols], e['labels'][rows]), f'image {i}: labels differ'
        torch.testing.assert_close(a['scores'][cols], e['scores'][rows], atol=1e-4, rtol=0)
        torch.testing.assert_close(a['bboxes'][cols], e['bboxes'][rows], atol=1e-2, rtol=0)
        print(f'image {i}: {n} detections as MMDetection; largest differences '
              f'{(a["scores"][cols] - e["scores"][rows]).abs().max():.1e} in score, '
              f'{(a["bboxes"][cols] - e["bboxes"][rows]).abs().max():.1e} px in box')


def test_mmdet_parity_rpn(mmdet, images, tmp_path):
    import os
    from mmengine.config import Config as MMConfig
    from mmdet.apis import inference_detector as mm_inference
    from mmdet.registry import MODELS as MM_MODELS
    from detnb.apis.inference import inference_detector, init_detector
    from detnb.config import Config
    from detnb.engine.checkpoint import load_checkpoint_file, load_model_state
    config = 'rpn/rpn_r50_fpn_1x_coco.py'
    cfg = MMConfig.fromfile(os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'configs', config))
    cfg.test_dataloader.dataset.pipeline = harness.with_test_scale(cfg.test_dataloader.dataset.pipeline)
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = MM_MODELS.build(cfg.model).eval()
    model.init_weights()
    model.cfg, model.dataset_meta = cfg, {'classes': ('object',)}
    logits = []
    hook = model.bbox_head.rpn_cls.register_forward_hook(lambda m, a, out: logits.append(out.detach().flatten()))
    with torch.no_grad():
        for image in images: mm_inference(model, image)
    hook.remove()
    with torch.no_grad(): model.bbox_head.rpn_cls.weight.mul_(2 / torch.cat(logits).std())  # objectness spreads
    checkpoint = tmp_path / 'rpn.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': model.dataset_meta}}, checkpoint)
    with torch.no_grad(): expected = [mm_inference(model, image).pred_instances for image in images]
    ours_cfg = Config.fromfile(f'detnb::{config}')
    ours_cfg.test_dataloader.dataset.pipeline = harness.with_test_scale(ours_cfg.test_dataloader.dataset.pipeline)
    ours = init_detector(ours_cfg)
    report = load_model_state(ours, load_checkpoint_file(checkpoint)['state_dict'])
    assert not any(report.values()), report
    with torch.no_grad(): actual = [inference_detector(ours, image).pred_instances for image in images]
    for i, (e, a) in enumerate(zip(expected, actual)):
        assert len(a) == len(e) >= 300, (i, len(a), len(e))
        e = dict(bboxes=e.bboxes, scores=e.scores, labels=e.labels)
        a = dict(bboxes=a.bboxes, scores=a.scores, labels=a.labels)
        rows, cols = match_detections(e, a)
        torch.testing.assert_close(a['scores'][cols], e['scores'][rows], atol=1e-4, rtol=0)
        torch.testing.assert_close(a['bboxes'][cols], e['bboxes'][rows], atol=1e-2, rtol=0)
        print(f'image {i}: {len(a["scores"])} proposals as MMDetection; largest differences '
              f'{(a["scores"][cols] - e["scores"][rows]).abs().max():.1e} in score, '
              f'{(a["bboxes"][cols] - e["bboxes"][rows]).abs().max():.1e} px in box')


@pytest.mark.parametrize('aggregation', ['sum', 'concat'])
def test_mmdet_parity_generic_roi_extractor(mmdet, aggregation):
    from mmdet.registry import MODELS as MM_MODELS
    from detnb.registry import MODELS
    channels, strides = 8, [4, 8, 16, 32]
    out_channels = channels if aggregation == 'sum' else channels * len(strides)
    cfg = dict(type='GenericRoIExtractor', aggregation=aggregation, out_channels=out_channels,
               featmap_strides=strides, roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
               pre_cfg=dict(type='ConvModule', in_channels=channels, out_channels=channels, kernel_size=5, padding=2,
                            inplace=False),
               post_cfg=dict(type='ConvModule', in_channels=out_channels, out_channels=out_channels, kernel_size=1))
    torch.manual_seed(0)
    theirs = MM_MODELS.build(cfg).double().eval()
    ours = MODELS.build(cfg).double().eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)  # the same names: pre_module.conv.weight, ...
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(2, channels, 256 // s, 320 // s, generator=g, dtype=torch.float64) for s in strides]
    xy = torch.rand(40, 2, generator=g, dtype=torch.float64) * torch.tensor([280., 220.])
    wh = torch.rand(40, 2, generator=g, dtype=torch.float64) * 200 + 4
    rois = torch.cat([torch.arange(40).remainder(2)[:, None].double(), xy, xy + wh], 1)
    with torch.no_grad():
        for scale in (None, 1.3):
            expected, actual = theirs(feats, rois, roi_scale_factor=scale), ours(feats, rois, roi_scale_factor=scale)
            assert actual.shape == expected.shape == (40, out_channels, 7, 7)
            torch.testing.assert_close(actual, expected, atol=1e-12, rtol=0)
