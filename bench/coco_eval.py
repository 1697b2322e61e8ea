"""Wall time of `CocoMetric` (box AP) against pycocotools' `COCOeval` on synthetic detections, with equal numbers.

The data: `--images` images (default 5,000) of 640x480, Poisson(7) ground-truth boxes each over 80 classes
(sides log-uniform in [4, 400] pixels, so small, medium and large objects all occur, 1% crowd regions, a COCO
`area` of 0.8 x the box area as a mask would have), and about 20 detections per image: one or two jittered
copies of each box (8% of its size; 10% with a wrong class) and random boxes up to 20. Scores are random.

- pycocotools: `COCO.loadRes` of the results json, then `COCOeval(..., 'bbox')` `evaluate`, `accumulate`,
  `summarize`, with CocoMetric's parameters (every image and class, `maxDets=(100, 300, 1000)`);
- detnb: `CocoMetric(ann_file=..., metric='bbox')` from `process` of the `DetDataSample`s (in batches of 8) to
  `evaluate` (results json, `loadRes`, evaluation), with `backend='fast'` (`FastCOCOeval`, the default) and,
  for reference, `backend='pycocotools'`.

Loading the ground-truth file is outside the timing for both. The 12 numbers must agree within 1e-9 (the
script exits with an error otherwise). Each line prints the seconds and the ratio detnb / pycocotools
(< 1: detnb is faster); the goal for the fast backend is <= 0.5.

    python bench/coco_eval.py                 # 5,000 images
    python bench/coco_eval.py --images 1000 --repeats 3
"""
import argparse, contextlib, io, json, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detnb.evaluation.coco import CocoMetric
from detnb.structures import DetDataSample, InstanceData

CLASSES = tuple(f'class{c}' for c in range(80))
ITEMS = ['mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l', 'AR@100', 'AR@300', 'AR@1000', 'AR_s@1000', 'AR_m@1000', 'AR_l@1000']


def synthetic(num_images: int, seed: int = 0) -> tuple[dict, list[dict]]:
    "A COCO ground-truth dict and, per image, predictions (xyxy float32 boxes, float32 scores, int64 labels)."
    rng = np.random.default_rng(seed)
    W, H = 640, 480
    images, anns, preds = [], [], []
    for i in range(1, num_images + 1):
        images.append(dict(id=i, width=W, height=H, file_name=f'{i:06d}.jpg'))
        n = rng.poisson(7)
        wh = np.minimum(np.exp(rng.uniform(np.log(4), np.log(400), (n, 2))), [W - 1, H - 1])
        xy = rng.uniform(0, 1, (n, 2)) * ([W, H] - wh)
        labels = rng.integers(0, 80, n)
        for j in range(n):
            anns.append(dict(id=len(anns) + 1, image_id=i, category_id=int(labels[j]) + 1, bbox=[*map(float, xy[j]), *map(float, wh[j])],
                             area=float(0.8 * wh[j, 0] * wh[j, 1]), iscrowd=int(rng.random() < 0.01)))
        copies = rng.integers(1, 3, n)
        src = np.repeat(np.arange(n), copies)
        box = np.concatenate([xy, xy + wh], 1)[src]
        size = np.repeat(wh, copies, 0)
        box = box + rng.normal(0, 0.08, box.shape) * np.concatenate([size, size], 1)
        box[:, 2:] = np.maximum(box[:, 2:], box[:, :2] + 1)
        det_labels = np.where(rng.random(len(src)) < 0.9, labels[src], rng.integers(0, 80, len(src)))
        extra = max(0, 20 - len(src))
        ewh = np.exp(rng.uniform(np.log(4), np.log(300), (extra, 2)))
        exy = rng.uniform(0, 1, (extra, 2)) * ([W, H] - ewh)
        box = np.concatenate([box, np.concatenate([exy, exy + ewh], 1)])
        det_labels = np.concatenate([det_labels, rng.integers(0, 80, extra)])
        preds.append(dict(img_id=i, bboxes=box.astype(np.float32), labels=det_labels.astype(np.int64),
                          scores=rng.random(len(box)).astype(np.float32)))
    categories = [dict(id=c + 1, name=name) for c, name in enumerate(CLASSES)]
    return dict(images=images, annotations=anns, categories=categories), preds


def samples(preds: list[dict]) -> list[DetDataSample]:
    return [DetDataSample(metainfo=dict(img_id=p['img_id'], ori_shape=(480, 640)),
                          pred_instances=InstanceData(bboxes=torch.from_numpy(p['bboxes']), scores=torch.from_numpy(p['scores']),
                                                      labels=torch.from_numpy(p['labels']))) for p in preds]


def run_metric(ann_file: str, data: list[DetDataSample], backend: str) -> tuple[float, np.ndarray]:
    "Seconds from process() to evaluate() of CocoMetric, and its 12 numbers."
    metric = CocoMetric(ann_file=ann_file, metric='bbox', metric_items=ITEMS, backend=backend)
    metric.dataset_meta = dict(classes=CLASSES)
    start = time.perf_counter()
    for i in range(0, len(data), 8): metric.process({}, data[i:i + 8])
    with contextlib.redirect_stdout(io.StringIO()): res = metric.evaluate(len(data))
    return time.perf_counter() - start, np.array([res[f'coco/bbox_{k}'] for k in ITEMS])


def run_pycocotools(ann_file: str, results_file: str) -> tuple[float, np.ndarray]:
    "Seconds of loadRes + COCOeval evaluate / accumulate / summarize, and the 12 stats."
    coco = COCO(ann_file)
    start = time.perf_counter()
    e = COCOeval(coco, coco.loadRes(results_file), 'bbox')
    e.params.maxDets = [100, 300, 1000]
    e.evaluate(); e.accumulate(); e.summarize()
    return time.perf_counter() - start, e.stats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=5000)
    parser.add_argument('--repeats', type=int, default=1, help='timed runs of each side (the best is kept)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    gt, preds = synthetic(args.images, args.seed)
    tmp = Path(tempfile.mkdtemp())
    ann_file, results_file = str(tmp / 'gt.json'), str(tmp / 'results.json')
    Path(ann_file).write_text(json.dumps(gt))
    results = [dict(image_id=p['img_id'], bbox=[x1, y1, x2 - x1, y2 - y1], score=s, category_id=int(c) + 1)
               for p in preds for (x1, y1, x2, y2), s, c in zip(p['bboxes'].astype(np.float64).tolist(), p['scores'].astype(np.float64).tolist(), p['labels'])]
    Path(results_file).write_text(json.dumps(results))
    data = samples(preds)
    print(f'{args.images} images, {len(gt["annotations"])} boxes ({len(gt["annotations"]) / args.images:.1f} per image), '
          f'{len(results)} detections ({len(results) / args.images:.1f} per image), 80 classes')

    times = {'pycocotools COCOeval': [], 'CocoMetric fast': [], 'CocoMetric pycocotools': []}
    stats = {}
    for _ in range(args.repeats):  # the sides alternate, so that a change of machine load affects all alike
        with contextlib.redirect_stdout(io.StringIO()):
            t, stats['pycocotools COCOeval'] = run_pycocotools(ann_file, results_file)
        times['pycocotools COCOeval'].append(t)
        for backend in ('fast', 'pycocotools'):
            t, stats[f'CocoMetric {backend}'] = run_metric(ann_file, data, backend)
            times[f'CocoMetric {backend}'].append(t)
    ref_time, ref = min(times['pycocotools COCOeval']), stats['pycocotools COCOeval']
    failed = False
    for name, ts in times.items():
        diff = np.abs(stats[name] - ref).max()
        failed |= diff > 1e-9
        print(f'{name:<24} {min(ts):7.2f} s   ratio {min(ts) / ref_time:5.3f}   max |stat - pycocotools| {diff:.1e}')
    print('stats:', ' '.join(f'{v:.4f}' for v in ref))
    if failed: sys.exit('the numbers differ from pycocotools by more than 1e-9')


if __name__ == '__main__':
    main()
