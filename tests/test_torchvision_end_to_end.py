"""torchvision's detectors through the user's path: `import_torchvision_detector(model)` -> `init_detector` ->
`inference_detector`, `detnb infer` and `detnb test`, as written, give `model([image])`'s detections on real photos.

Each torchvision model is seeded and made to detect on the photo (batch-norm statistics of the photo, a classifier
sharpened so that scores spread, its K best COCO scores above the threshold, the background and the 10 unused ids
never scoring, as in a trained model). Figures: `pytest -s` prints the match rates and the largest score gaps."""
import json, math, os, pickle, subprocess, sys

import cv2
import pytest
import torch
from torch import Tensor, nn
from torchvision.models.detection import fcos_resnet50_fpn, retinanet_resnet50_fpn
from torchvision.ops import box_iou

from detnb.apis.inference import init_detector, inference_detector
from detnb.datasets.class_names import COCO_CLASSES
from detnb.models.torchvision_import import (TORCHVISION_COCO_CATEGORIES, TORCHVISION_COCO_IDS,
                                            import_torchvision_detector)

PHOTOS = ('000000000009.jpg', '000000000036.jpg')  # 640 x 480 landscape, 481 x 640 portrait
BUILDERS = {'retinanet_resnet50_fpn': (retinanet_resnet50_fpn, 250), 'fcos_resnet50_fpn': (fcos_resnet50_fpn, 90)}
UNUSED = [i for i in range(TORCHVISION_COCO_CATEGORIES) if i not in TORCHVISION_COCO_IDS]
# the per-photo checks resize the photos to their own size: torchvision's default, 800 px, would upscale them 1.67x
# and cost 2.8x the time; a size other than the default also checks that the import carries the resize over
OWN_SIZE = dict(min_size=480, max_size=800)


@pytest.fixture(scope='module')
def photos(shared_data) -> list:
    paths = [shared_data / 'coco128' / 'train2017' / name for name in PHOTOS]
    if not all(p.is_file() for p in paths): pytest.skip(f'the coco128 photos {PHOTOS} are not in {shared_data}')
    return paths


def rgb_tensor(path) -> Tensor:
    "The photo as torchvision takes it: RGB, float in [0, 1], C x H x W."
    return torch.from_numpy(cv2.imread(str(path))[..., ::-1].copy()).permute(2, 0, 1) / 255


def made_to_detect(model: nn.Module, image: Tensor, num_candidates: int) -> nn.Module:
    "The seeded model with the photo's batch-norm statistics and a sharpened classifier whose K best scores pass."
    g = torch.Generator().manual_seed(1)
    norms = [m for m in model.backbone.body.modules() if isinstance(m, nn.BatchNorm2d)]
    score_thr = model.score_thresh ** (2 if hasattr(model.head.regression_head, 'bbox_ctrness') else 1)
    with torch.no_grad():
        for m in norms: m.weight.uniform_(0.5, 1.5, generator=g); m.bias.normal_(0, 0.1, generator=g); m.momentum = 1.
        inputs = model.eval().transform([image])[0].tensors
        model.backbone.body.train()(inputs)  # running statistics := those of the photo
        model.eval()
        features = list(model.backbone(inputs).values())
        head, outputs = model.head, model.head(features)
        cls = head.classification_head.cls_logits
        cls.weight.mul_(3.0 / outputs['cls_logits'].std())  # sharpened: the scores spread over (0, 1)
        head.regression_head.bbox_reg.weight.mul_(0.5 / outputs['bbox_regression'].std())
        if 'bbox_ctrness' in outputs: head.regression_head.bbox_ctrness.weight.mul_(2.0 / outputs['bbox_ctrness'].std())
        logits = head.classification_head(features)[..., list(TORCHVISION_COCO_IDS)] - cls.bias[0]
        cls.bias.fill_(math.log(score_thr / (1 - score_thr)) - logits.flatten().topk(num_candidates).values[-1].item())
        cls.bias.view(-1, TORCHVISION_COCO_CATEGORIES)[:, UNUSED] -= 20.  # as trained: never a positive
    return model


def agreement(labels: Tensor, scores: Tensor, bboxes: Tensor, theirs: dict) -> dict:
    "Shares of torchvision's and of detnb's detections with a same-label match of IoU > 0.9; the largest score gap."
    iou = box_iou(theirs['boxes'], bboxes)
    corners_agree = (theirs['boxes'][:, None] - bboxes[None]).abs().amax(-1) <= 0.5
    iou = iou.where(~iou.isnan(), corners_agree.float())  # zero-area boxes (clipped to the border) have no IoU
    match = (iou > 0.9) & (theirs['labels'][:, None] == torch.tensor(TORCHVISION_COCO_IDS)[labels])
    score_gap = (theirs['scores'][:, None] - scores[None]).abs().where(match, torch.inf).amin(1)  # the closest match
    matched = match.any(1)
    return dict(count=len(labels), count_torchvision=len(theirs['boxes']), matched=matched.float().mean().item(),
                matched_ours=match.any(0).float().mean().item(), max_score_diff=score_gap[matched].max().item())


def check(figures: dict) -> None:
    print(figures)
    assert figures['count_torchvision'] > 10, figures
    assert figures['matched'] >= 0.99 and figures['matched_ours'] >= 0.99 and figures['max_score_diff'] <= 1e-3, figures


def imported(name: str, photo, out_dir, **size) -> tuple[nn.Module, tuple]:
    "A seeded torchvision model (`size`: its resize) made to detect on `photo`, and its import's (config, checkpoint)."
    builder, num_candidates = BUILDERS[name]
    torch.manual_seed(0)
    model = made_to_detect(builder(weights=None, weights_backbone=None, num_classes=91, **size), rgb_tensor(photo),
                           num_candidates)
    return model, import_torchvision_detector(model, out_dir)


@pytest.mark.parametrize('name', list(BUILDERS))
def test_inference_detector_gives_torchvision_detections(name, photos, tmp_path):
    for photo in photos:
        tv_model, (config, checkpoint) = imported(name, photo, tmp_path / photo.stem, **OWN_SIZE)
        with torch.no_grad(): theirs = tv_model([rgb_tensor(photo)])[0]
        model = init_detector(config, checkpoint)
        assert model.dataset_meta['classes'][0] == 'person' and len(model.dataset_meta['classes']) == 80
        resize = [t for t in model.cfg.test_dataloader.dataset.pipeline if t['type'] == 'TorchvisionResize']
        assert [(t['min_size'], t['max_size']) for t in resize] == [tuple(OWN_SIZE.values())], resize
        pred = inference_detector(model, photo).pred_instances
        check(dict(model=name, photo=photo.name, **agreement(pred.labels, pred.scores, pred.bboxes, theirs)))


def detnb(*args, cwd) -> subprocess.CompletedProcess:
    "`detnb ARGS` as the console script runs it."
    result = subprocess.run([sys.executable, '-m', 'detnb.cli', *map(str, args)], cwd=cwd, capture_output=True,
                            text=True, timeout=600, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_detnb_infer_and_test_as_written(photos, shared_data, tmp_path):
    tv_model, (config, checkpoint) = imported('retinanet_resnet50_fpn', photos[0], tmp_path / 'model')
    with torch.no_grad(): theirs = [tv_model([rgb_tensor(p)])[0] for p in photos]

    detnb('infer', photos[0], config, '--weights', checkpoint, '--out-dir', tmp_path / 'infer', cwd=tmp_path)
    pred = json.loads((tmp_path / 'infer' / 'preds' / f'{photos[0].stem}.json').read_text())
    assert pred['label_names'] == [COCO_CLASSES[i] for i in pred['labels']]
    check(dict(command='detnb infer', **agreement(torch.tensor(pred['labels']), torch.tensor(pred['scores']),
                                                  torch.tensor(pred['bboxes']), theirs[0])))

    coco = json.loads((shared_data / 'coco128' / 'annotations' / 'instances_train2017.json').read_text())
    images = [im for im in coco['images'] if im['file_name'] in PHOTOS]
    ids = {im['id'] for im in images}
    subset = {**coco, 'images': images, 'annotations': [a for a in coco['annotations'] if a['image_id'] in ids]}
    data = shared_data / 'coco128'
    ann_file = tmp_path / 'two_photos.json'
    ann_file.write_text(json.dumps(subset))
    detnb('test', config, checkpoint, '--work-dir', tmp_path / 'work', '--out', tmp_path / 'results.pkl',
          '--cfg-options', f'test_dataloader.dataset.data_root={data}/',
          'test_dataloader.dataset.data_prefix.img=train2017/',
          f'test_dataloader.dataset.ann_file={ann_file}', f'test_evaluator.ann_file={ann_file}',
          'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False', cwd=tmp_path)
    dumped = pickle.loads((tmp_path / 'results.pkl').read_bytes())
    results = {os.path.basename(r['img_path']): r['pred_instances'] for r in dumped}
    for photo, tv in zip(photos, theirs):
        p = results[photo.name]
        check(dict(command='detnb test', photo=photo.name, **agreement(p['labels'], p['scores'], p['bboxes'], tv)))
