"""MMDetection parity for Cascade R-CNN and Cascade Mask R-CNN: MMDetection's own `cascade-rcnn_r50_fpn_1x_coco` and
`cascade-mask-rcnn_r50_fpn_1x_coco` with seeded random weights, run in detnb from their checkpoints, give MMDetection's
detections (masks included) and MMDetection's training losses.

The harness is `test_mmdet_parity.py`'s (two real images of different sizes, a smaller test scale on both sides).
Random weights would leave the cascade idle (MMDetection starts its box regressors at a standard deviation of 0.001),
so each stage's `fc_reg` is redrawn and scaled on the images to deltas of standard deviation 0.5: every stage moves
the boxes, and the next stage pools other features. The RPN's objectness is scaled to a standard deviation of 2, so
that its scores do not tie. The three stages' `fc_cls` are redrawn and scaled together so
that their averaged logits, which give the scores, spread as the harness's do. The detections must agree: same count,
same labels, scores within 1e-4, boxes within 1e-2 px; masks the same pixels.

The losses: one batch of two generated shapes images (with noise) with their boxes and masks, in training mode, the
same seed before each side's `loss`. detnb's `RandomSampler` draws as MMDetection's does (`torch.randperm` of the
candidates, positives then negatives, image by image), so the RPN samples the same anchors. The RoI samplers keep
every proposal on both sides (`num` raised): the RPN's proposals come sorted by score, and a few pairs of them whose
scores differ in the last bit of float32 (between the two libraries' convolutions) come in the other order, which
would make the same random draw pick other RoIs. Every entry of the two loss dicts must agree.
"""
from __future__ import annotations
import os, sys
from pathlib import Path
import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
import test_mmdet_parity as harness  # noqa: E402  (skips the module without the parity extra)
from test_mmdet_parity import match_detections, with_test_scale  # noqa: E402

mmdet, images = harness.mmdet, harness.images  # the harness's fixtures: MMDetection imported, the two images

CONFIGS = {'cascade_rcnn': 'cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',  # MMDetection's names, and detnb's
           'cascade_mask_rcnn': 'cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py'}


def layer_outputs(model: torch.nn.Module, images: list[np.ndarray], layers: list[torch.nn.Module]
                  ) -> list[list[torch.Tensor]]:
    "The outputs of each of `layers` at every call (levels, stages, images) of MMDetection's inference on `images`."
    from mmdet.apis import inference_detector
    outputs = [[] for _ in layers]
    hooks = [layer.register_forward_hook(lambda m, a, out, i=i: outputs[i].append(out.detach()))
             for i, layer in enumerate(layers)]
    for image in images:
        with torch.no_grad(): inference_detector(model, image)
    for hook in hooks: hook.remove()
    return outputs


def sharpen_cascade(model: torch.nn.Module, images: list[np.ndarray], seed: int = 0) -> None:
    "Seeded weights with which the RPN ranks, every stage moves the boxes and the averaged class logits spread."
    torch.manual_seed(seed)
    model.init_weights()
    g = torch.Generator().manual_seed(seed)
    heads = list(model.roi_head.bbox_head)
    for head in heads:
        for layer in (head.fc_cls, head.fc_reg):
            layer.weight.data = torch.randn(layer.weight.shape, generator=g)
            layer.bias.data.zero_()
    # the RPN's objectness at standard deviation 2 (initialised at 0.01, its scores would tie in float32 near 0.5,
    # and MMDetection and detnb would order tied proposals differently); each stage's deltas at 0.5
    rpn_cls = model.rpn_head.rpn_cls
    objectness, *deltas = layer_outputs(model, images, [rpn_cls] + [head.fc_reg for head in heads])
    rpn_cls.weight.data *= 2 / torch.cat([o.flatten() for o in objectness]).std()
    for head, stage_deltas in zip(heads, deltas): head.fc_reg.weight.data *= 0.5 / torch.cat(stage_deltas).std()
    logits = layer_outputs(model, images, [head.fc_cls for head in heads])  # per stage, one tensor per image
    best = [(sum(stage[i] for stage in logits) / len(logits)).flatten().topk(100).values for i in range(len(images))]
    low, high = min(b[-1] for b in best), max(b[0] for b in best)
    scale = 5 / (high - low)  # the 100 best averaged logits of every image within -2..3, as the harness
    for head in heads:
        head.fc_cls.weight.data *= scale
        head.fc_cls.bias.data.fill_(-2 - scale * low)


def seeded_mmdet_model(mmdet, config: str, images: list[np.ndarray], checkpoint: Path) -> torch.nn.Module:
    "MMDetection's detector of `config` with sharpened seeded weights, saved to `checkpoint`."
    from mmengine.config import Config as MMConfig
    from mmdet.registry import MODELS
    cfg = MMConfig.fromfile(os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'configs', config))
    cfg.test_dataloader.dataset.pipeline = with_test_scale(cfg.test_dataloader.dataset.pipeline)
    cfg.model.backbone.init_cfg = None  # no ImageNet download: the weights are seeded
    model = MODELS.build(cfg.model).eval()
    model.cfg, model.dataset_meta = cfg, {'classes': tuple(f'class{i}' for i in range(80))}
    sharpen_cascade(model, images)
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': model.dataset_meta}}, checkpoint)
    return model


def detnb_model(config: str, checkpoint: Path) -> torch.nn.Module:
    "detnb's detector of `config` with MMDetection's checkpoint, every key loaded and none left over."
    from detnb.apis.inference import init_detector
    from detnb.config import Config
    from detnb.engine.checkpoint import load_checkpoint_file, load_model_state
    cfg = Config.fromfile(f'detnb::{config}')
    cfg.test_dataloader.dataset.pipeline = with_test_scale(cfg.test_dataloader.dataset.pipeline)
    model = init_detector(cfg)
    report = load_model_state(model, load_checkpoint_file(checkpoint)['state_dict'])
    assert not any(report.values()), f'MMDetection keys do not load strictly into detnb::{config}: {report}'
    return model


def as_dict(result, with_masks: bool) -> dict:
    return dict(bboxes=result.bboxes, scores=result.scores, labels=result.labels,
                **({'masks': result.masks} if with_masks else {}))


@pytest.mark.parametrize('family', list(CONFIGS))
def test_mmdet_parity_cascade(family: str, mmdet, images, tmp_path):
    from mmdet.apis import inference_detector as mmdet_inference
    from detnb.apis.inference import inference_detector
    config, with_masks = CONFIGS[family], 'mask' in family
    theirs = seeded_mmdet_model(mmdet, config, images, tmp_path / f'{family}.pth')
    ours = detnb_model(config, tmp_path / f'{family}.pth')
    with torch.no_grad():
        expected = [as_dict(mmdet_inference(theirs, img).pred_instances, with_masks) for img in images]
        actual = [as_dict(inference_detector(ours, img).pred_instances, with_masks) for img in images]
    for i, (e, a, image) in enumerate(zip(expected, actual, images)):
        n = len(e['scores'])
        assert n >= 10 and e['scores'].max() - e['scores'].min() > 0.05, f'{family} image {i}: {n} detections'
        assert len(a['scores']) == n, f'{family} image {i}: detnb {len(a["scores"])} detections, MMDetection {n}'
        rows, cols = match_detections(e, a)
        assert torch.equal(a['labels'][cols], e['labels'][rows]), f'{family} image {i}: labels differ'
        torch.testing.assert_close(a['scores'][cols], e['scores'][rows], atol=1e-4, rtol=0)
        torch.testing.assert_close(a['bboxes'][cols], e['bboxes'][rows], atol=1e-2, rtol=0)
        message = (f'{family} image {i}: {n} detections as MMDetection; largest differences '
                   f'{(a["scores"][cols] - e["scores"][rows]).abs().max():.1e} in score, '
                   f'{(a["bboxes"][cols] - e["bboxes"][rows]).abs().max():.1e} px in box')
        if with_masks:
            ours_masks, their_masks = a['masks'][cols], e['masks'][rows].to(a['masks'].device)
            assert ours_masks.shape == their_masks.shape == (n, *image.shape[:2])
            differ = int((ours_masks != their_masks).sum())
            assert differ == 0, f'{family} image {i}: {differ} mask pixels differ'
            message += f'; masks pixel-equal ({int(their_masks.sum())} mask pixels)'
        print(message)


def shapes_batch(num: int = 2, size: tuple[int, int] = (256, 320)):
    "Normalized inputs (num, 3, h, w) of generated shapes images with noise, and each image's boxes, labels and masks."
    from detnb.datasets.shapes import draw_shapes_image
    rng, images, targets = np.random.default_rng(0), [], []
    for _ in range(num):
        img, objects = draw_shapes_image(rng, *size, max_objects=4, size_range=(40, 120), min_visible=0.8)
        masks = np.stack([o['mask'] for o in objects]).astype(np.uint8)
        ys, xs = [np.array([np.nonzero(m.any(a))[0][[0, -1]] for m in masks]) for a in (1, 0)]
        boxes = torch.tensor(np.stack([xs[:, 0], ys[:, 0], xs[:, 1] + 1, ys[:, 1] + 1], 1), dtype=torch.float32)
        noisy = img + rng.normal(0, 8, img.shape)  # flat backgrounds tie the RPN's scores: MMDetection and detnb
        images.append(torch.from_numpy(noisy).permute(2, 0, 1).float())  # would order tied proposals differently
        targets.append((boxes, torch.tensor([o['label'] for o in objects]), masks))
    mean, std = torch.tensor([123.675, 116.28, 103.53])[:, None, None], torch.tensor([58.395, 57.12, 57.375])[:, None, None]
    return (torch.stack(images) - mean) / std, targets


@pytest.mark.parametrize('family', list(CONFIGS))
def test_mmdet_loss_parity_cascade(family: str, mmdet, images, tmp_path):
    "The same loss dict (RPN, and every stage's classification, box, accuracy and mask entries) on one batch."
    from mmdet.structures import DetDataSample as MMDetDataSample
    from mmdet.structures.mask import BitmapMasks as MMBitmapMasks
    from mmengine.structures import InstanceData as MMInstanceData
    from detnb.masks import BitmapMasks
    from detnb.structures import DetDataSample, InstanceData
    config = CONFIGS[family]
    theirs = seeded_mmdet_model(mmdet, config, images, tmp_path / f'{family}.pth').train()
    ours = detnb_model(config, tmp_path / f'{family}.pth').train()
    inputs, targets = shapes_batch()
    h, w = inputs.shape[-2:]
    meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), batch_input_shape=(h, w), scale_factor=(1., 1.))
    their_samples = [MMDetDataSample(metainfo=meta, gt_instances=MMInstanceData(
        bboxes=boxes, labels=labels, masks=MMBitmapMasks(masks, h, w))) for boxes, labels, masks in targets]
    our_samples = [DetDataSample(metainfo=meta, gt_instances=InstanceData(
        bboxes=boxes, labels=labels, masks=BitmapMasks(masks, h, w))) for boxes, labels, masks in targets]
    for sampler in [*theirs.roi_head.bbox_sampler, *ours.roi_head.bbox_sampler]: sampler.num = 10 ** 6  # keep all RoIs
    torch.manual_seed(0)
    expected = theirs.loss(inputs, their_samples)
    torch.manual_seed(0)
    actual = ours.loss(inputs, our_samples)
    assert sorted(actual) == sorted(expected), (sorted(actual), sorted(expected))
    for key, value in expected.items():  # MMDetection keeps the RPN's losses per level
        value = sum(v.sum() for v in value) if isinstance(value, (list, tuple)) else value.sum()
        torch.testing.assert_close(actual[key].sum(), value, atol=1e-5, rtol=1e-4, msg=lambda m: f'{key}: {m}')
    print(family, {k: round(float(v.sum()), 5) for k, v in actual.items()})
