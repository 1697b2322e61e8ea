"""RPN proposal recall on coco128: detnb's proposals are torchvision's, and `CocoMetric(metric='proposal')` scores them
as pycocotools does.

torchvision's `fasterrcnn_resnet50_fpn` with seeded random weights, changed so that its RPN proposes (as the two-stage
parity checks do: the backbone's batch norms get random affine parameters and the statistics of the batch, the
objectness and the deltas are scaled to standard deviations 2 and 0.5 on it), is converted by
`convert_torchvision_faster_rcnn`, and its backbone, FPN and RPN head are loaded strictly into detnb's `RPN` detector
(MMDetection's `_base_/models/rpn_r50_fpn.py` layout: the head is `bbox_head`). On six coco128 images of their own
(different) sizes, halved, both run in float64 on the same preprocessed batch: the proposals are the same boxes, in
the same order. The proposals, rescaled to the original images, are then scored against coco128's annotations:
`CocoMetric(metric='proposal')` (AR@100, AR@300, AR@1000: recall averaged over IoU 0.50:0.95, categories ignored) must
equal pycocotools' `COCOeval` with `useCats=0` and `maxDets=[100, 300, 1000]` run here directly, with both of
CocoMetric's backends; `metric='proposal_fast'` (MMDetection's greedy matching) must equal `eval_recalls`.
"""
from __future__ import annotations
import contextlib, io, json
import cv2
import numpy as np
import pytest
import torch
from torch import nn

IMAGES = ['000000000009.jpg', '000000000025.jpg', '000000000036.jpg', '000000000042.jpg']  # landscape and portrait
SCALE = 0.5  # the images are halved: a shorter float64 run


@pytest.fixture(scope='module')
def coco128(shared_data):
    root = shared_data / 'coco128'
    ann_file = root / 'annotations' / 'instances_train2017.json'
    if not ann_file.is_file() or not all((root / 'train2017' / name).is_file() for name in IMAGES):
        pytest.skip(f'coco128 (annotations and the images {IMAGES}) not found under {root}')
    return root, ann_file


def sharpened(tv_model: nn.Module, inputs: torch.Tensor, sizes: list[tuple[int, int]]) -> nn.Module:
    "The seeded torchvision model with batch-norm statistics of `inputs` and an RPN whose scores and boxes spread."
    from torchvision.models.detection.image_list import ImageList
    g = torch.Generator().manual_seed(1)
    norms = [m for m in tv_model.backbone.body.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in norms: m.weight.uniform_(0.5, 1.5, generator=g); m.bias.normal_(0, 0.1, generator=g); m.momentum = 1.
        tv_model.backbone.body.train()(inputs)  # running statistics := those of the batch
        tv_model.eval()
        objectness, deltas = tv_model.rpn.head(list(tv_model.backbone(inputs).values()))
        tv_model.rpn.head.cls_logits.weight.mul_(2 / torch.cat([o.flatten() for o in objectness]).std())
        tv_model.rpn.head.bbox_pred.weight.mul_(0.5 / torch.cat([d.flatten() for d in deltas]).std())
        assert len(tv_model.rpn(ImageList(inputs, sizes), tv_model.backbone(inputs))[0]) == len(sizes)
    return tv_model


def batch(model: nn.Module, root, coco: dict) -> dict:
    "The halved images, BGR uint8, with their ids and scale factors, through the RPN's data preprocessor."
    from detnb.structures import DetDataSample
    ids = {im['file_name']: im['id'] for im in coco['images']}
    inputs, samples = [], []
    for name in IMAGES:
        img = cv2.imread(str(root / 'train2017' / name))
        h, w = img.shape[:2]
        small = cv2.resize(img, (round(w * SCALE), round(h * SCALE)), interpolation=cv2.INTER_LINEAR)
        sh, sw = small.shape[:2]
        inputs.append(torch.from_numpy(small).permute(2, 0, 1).contiguous())
        samples.append(DetDataSample(metainfo=dict(img_id=ids[name], img_shape=(sh, sw), ori_shape=(h, w),
                                                   scale_factor=(sw / w, sh / h))))
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples))


def pycocotools_ar(coco_gt, proposals: dict[int, np.ndarray]) -> list[float]:
    "AR@100, AR@300, AR@1000 of the proposals (image id -> (k, 5) x1 y1 x2 y2 score) by pycocotools, categories off."
    from pycocotools.cocoeval import COCOeval
    dets = [dict(image_id=img_id, category_id=1, bbox=[float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                 score=float(s)) for img_id, boxes in proposals.items() for x1, y1, x2, y2, s in boxes]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(dets), 'bbox')
        evaluator.params.imgIds, evaluator.params.useCats = list(proposals), 0
        evaluator.params.maxDets = [100, 300, 1000]
        evaluator.evaluate(); evaluator.accumulate(); evaluator.summarize()
    return [float(v) for v in evaluator.stats[6:9]]  # AR at maxDets[0], [1], [2], all areas


def test_rpn_proposals_and_recall(coco128):
    from pycocotools.coco import COCO
    from torchvision.models.detection import fasterrcnn_resnet50_fpn
    from torchvision.models.detection.image_list import ImageList
    from detnb.datasets.class_names import COCO_CLASSES
    from detnb.evaluation.coco import CocoMetric
    from detnb.evaluation.recall import eval_recalls
    from detnb.models.detectors.two_stage import convert_torchvision_faster_rcnn
    from detnb.registry import MODELS
    root, ann_file = coco128
    coco = json.loads(ann_file.read_text())
    torch.manual_seed(0)
    tv_model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91)
    cfg, _ = convert_torchvision_faster_rcnn(tv_model.state_dict())
    m = cfg['model']
    rpn = MODELS.build(dict(type='RPN', **{k: m[k] for k in ('data_preprocessor', 'backbone', 'neck', 'rpn_head',
                                                            'train_cfg', 'test_cfg')}))
    data = batch(rpn, root, coco)
    sizes = [s.metainfo['img_shape'] for s in data['data_samples']]
    assert len(set(sizes)) == len(sizes), sizes  # images of different sizes, padded together
    sharpened(tv_model, data['inputs'].float(), sizes)
    _, weights = convert_torchvision_faster_rcnn(tv_model.state_dict())
    rpn.load_state_dict({('bbox_head.' + k[len('rpn_head.'):] if k.startswith('rpn_head.') else k): v
                         for k, v in weights.items() if not k.startswith('roi_head.')}, strict=True)
    rpn, tv_model = rpn.double().eval(), tv_model.double().eval()
    inputs = data['inputs'].double()
    with torch.no_grad():
        theirs, _ = tv_model.rpn(ImageList(inputs, sizes), tv_model.backbone(inputs))
        ours = rpn.bbox_head.predict(rpn.extract_feat(inputs), data['data_samples'], rescale=False)
        samples = rpn(inputs, data['data_samples'], mode='predict')  # rescaled to the original images
    for o, t in zip(ours, theirs):
        assert len(o) == len(t) and 100 < len(o) <= 1000, (len(o), len(t))
        torch.testing.assert_close(o.bboxes, t, atol=1e-6, rtol=0)  # the same boxes, in the same order
        assert (o.labels == 0).all()
    print('proposals per image, as torchvision:', [len(o) for o in ours], 'largest box difference',
          f'{max((o.bboxes - t).abs().max().item() for o, t in zip(ours, theirs)):.1e} px')

    proposals = {s.metainfo['img_id']: np.hstack([s.pred_instances.bboxes.numpy(),
                                                  s.pred_instances.scores.numpy()[:, None]]) for s in samples}
    coco_gt = COCO()
    coco_gt.dataset = coco
    with contextlib.redirect_stdout(io.StringIO()): coco_gt.createIndex()
    expected = pycocotools_ar(coco_gt, proposals)
    results = {}
    for metric, backend in (('proposal', 'fast'), ('proposal', 'pycocotools'), ('proposal_fast', 'fast')):
        evaluator = CocoMetric(ann_file=str(ann_file), metric=metric, backend=backend)
        evaluator.dataset_meta = dict(classes=COCO_CLASSES)
        evaluator.process({}, samples)
        with contextlib.redirect_stdout(io.StringIO()): results[metric, backend] = evaluator.compute_metrics(
            evaluator.results)
    for backend in ('fast', 'pycocotools'):
        got = [results['proposal', backend][f'AR@{n}'] for n in (100, 300, 1000)]
        np.testing.assert_allclose(got, expected, atol=1e-12, rtol=0)
    gts = [np.array([[x, y, x + w, y + h] for x, y, w, h in
                     (a['bbox'] for a in coco_gt.imgToAnns[s.metainfo['img_id']] if not a.get('iscrowd', 0))],
                    np.float64).reshape(-1, 4) for s in samples]
    with contextlib.redirect_stdout(io.StringIO()):
        greedy = eval_recalls(gts, [proposals[s.metainfo['img_id']] for s in samples], [100, 300, 1000],
                              np.linspace(0.5, 0.95, 10)).mean(1)
    np.testing.assert_allclose([results['proposal_fast', 'fast'][f'AR@{n}'] for n in (100, 300, 1000)], greedy,
                               atol=1e-12, rtol=0)
    assert 0 < expected[0] <= expected[1] <= expected[2] < 1, expected
    print('AR@100/300/1000: CocoMetric proposal', [round(v, 4) for v in expected], '(= pycocotools useCats=0);',
          'proposal_fast', [round(float(v), 4) for v in greedy], '(= eval_recalls)')
