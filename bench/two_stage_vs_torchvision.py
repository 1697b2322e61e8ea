"""detnb's Faster R-CNN and Mask R-CNN (R50-FPN) against torchvision's, on the CPU: inference time, train-step time and
peak memory (issue #12; the goal: detnb/torchvision <= 0.95x in time and <= 1.0x in memory, in both modes).

Both sides run the same weights on the same batch of two `H x W` images (`--size`, multiples of 64: the converted
config pads to 64, torchvision to 32, so that neither pads). torchvision's models are built as for fine-tuning
(`FrozenBatchNorm2d`, `trainable_backbone_layers=3`, 81 classes: detnb's 80 and the background, so that the heads
are equally wide) with seeded random weights, changed so that they detect: the backbone's batch norms get random
affine parameters and the statistics of the batch, the RPN's objectness and deltas standard deviations 2 and 0.5,
the R-CNN class logits 3, and the background's bias set so that each image has 20 to 60 detections (the mask head
of Mask R-CNN runs on them at inference). The model is converted to detnb with `import_torchvision_detector` and
loaded with `init_detector`. Inference: the batch through the whole model in eval mode (torchvision's `forward`
with `min_size`/`max_size` set to the image size, so that its transform only normalizes, resizes by 1 and pads;
detnb's data preprocessor and `predict`, masks pasted at the image size on both sides). Train step: the batch with
five boxes per image (and their masks, filled ellipses), forward, backward and an SGD step, in train mode.

Every measurement runs in its own subprocess (`_measure.py`, shared with `dense_vs_torchvision.py`). Time: the median
over the timed iterations after one warm-up iteration, with glibc's default allocator, as users run. Memory: the peak
resident memory of the iterations above the resident memory once the model is built and its weights loaded (Linux's
`VmHWM`, reset then, minus `VmRSS` then: "MB" and "memory ratio"; the peak itself, as `dense_vs_torchvision.py`
reports it: "peak MB" and "peak ratio"; elsewhere `ru_maxrss` of the whole process) in a second subprocess that runs
one warm-up and one timed iteration with `MALLOC_MMAP_THRESHOLD_=131072` (every large block mapped on its own and
returned on free, so that the peak follows the live tensors; not timed). The two sides of a comparison alternate,
`--repeats` times, and the best of the repeats is kept for each (the machine may be shared). The RoI samplers are
random: every child seeds torch the same way, but the two sides draw differently (the same counts: 256 anchors and 512
RoIs per image).

    python bench/two_stage_vs_torchvision.py [--size 512x768] [--threads 2] [--repeats 2]
                                             [--models faster_rcnn mask_rcnn] [--modes infer train]
"""
import argparse, json, sys, tempfile
from pathlib import Path

import torch
from torch import nn
from _measure import ROOT, alternating, run_steps, timed_and_peak

NUM_CLASSES = 81  # torchvision's, with the background: detnb's 80
NUM_BOXES = 5
MEAN, STD = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
sys.path.insert(0, str(ROOT))

def torchvision_model(kind: str, norm_layer=None):
    "torchvision's Faster or Mask R-CNN R50-FPN set up for fine-tuning (frozen batch norms, 3 trainable stages)."
    from torchvision.models import resnet50
    from torchvision.models.detection import FasterRCNN, MaskRCNN
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops.misc import FrozenBatchNorm2d
    torch.manual_seed(0)
    body = resnet50(weights=None, norm_layer=norm_layer or FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(body, 3)  # C2-C5, P6 by max pooling: fasterrcnn_resnet50_fpn's
    return (MaskRCNN if kind == 'mask_rcnn' else FasterRCNN)(backbone, num_classes=NUM_CLASSES)

def make_batch(size: tuple[int, int], num_images: int = 2):
    "Fixed BGR uint8 images, five boxes per image, their labels (detnb's: 0-79) and masks (ellipses in the boxes)."
    h, w = size
    g = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g) for _ in range(num_images)]
    xy = torch.rand(num_images, NUM_BOXES, 2, generator=g) * torch.tensor([w, h]) * 0.6
    wh = 32 + torch.rand(num_images, NUM_BOXES, 2, generator=g) * torch.tensor([w, h]) * 0.3
    boxes = torch.minimum(torch.cat([xy, xy + wh], -1), torch.tensor([w, h, w, h]) - 1.)
    labels = torch.randint(0, NUM_CLASSES - 1, (num_images, NUM_BOXES), generator=g)
    yy, xx = torch.arange(h)[:, None] + 0.5, torch.arange(w) + 0.5
    centre, half = (boxes[..., :2] + boxes[..., 2:]) / 2, (boxes[..., 2:] - boxes[..., :2]) / 2
    masks = (((xx - centre[..., 0, None, None]) / half[..., 0, None, None]) ** 2
             + ((yy - centre[..., 1, None, None]) / half[..., 1, None, None]) ** 2 <= 1).to(torch.uint8)
    return images, boxes, labels, masks  # masks: (num_images, 5, h, w)

def torchvision_inputs(images) -> list[torch.Tensor]:
    "BGR uint8 -> RGB in [0, 1], as torchvision's models take them."
    return [img.flip(0).float() / 255 for img in images]

def detecting_state_dict(kind: str, size: tuple[int, int]) -> dict:
    "The seeded torchvision model's weights, changed so that it detects (see the docstring); as the frozen model's."
    from torchvision.models.detection.image_list import ImageList
    model = torchvision_model(kind, nn.BatchNorm2d)
    images = torchvision_inputs(make_batch(size)[0])
    inputs = (torch.stack(images) - MEAN[:, None, None]) / STD[:, None, None]
    sizes = [size] * len(images)
    g = torch.Generator().manual_seed(1)
    norms = [m for m in model.backbone.body.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for m in norms: m.weight.uniform_(0.5, 1.5, generator=g); m.bias.normal_(0, 0.1, generator=g); m.momentum = 1.
        model.backbone.body.train()(inputs)  # running statistics := those of the batch
        model.eval()
        features, head = model.backbone(inputs), model.rpn.head
        objectness, deltas = head(list(features.values()))
        head.cls_logits.weight.mul_(2 / torch.cat([o.flatten() for o in objectness]).std())
        head.bbox_pred.weight.mul_(0.5 / torch.cat([d.flatten() for d in deltas]).std())
        proposals, _ = model.rpn(ImageList(inputs, sizes), features)
        roi_heads, predictor = model.roi_heads, model.roi_heads.box_predictor
        box_features = roi_heads.box_head(roi_heads.box_roi_pool(features, proposals, sizes))
        predictor.cls_score.weight.mul_(3 / predictor(box_features)[0].std())
        logits, box_regression = predictor(box_features)
        counts = lambda shift: [len(b) for b in roi_heads.postprocess_detections(
            logits + torch.eye(logits.shape[1])[0] * shift, box_regression, proposals, sizes)[0]]
        low, high = -20., 20.  # a higher background logit, fewer detections
        for _ in range(40):
            mid = (low + high) / 2
            found = counts(mid)
            if all(20 <= n <= 60 for n in found): break
            if max(found) > 60: low = mid
            else: high = mid
        predictor.cls_score.bias[0] += mid
    frozen = torchvision_model(kind)
    frozen.load_state_dict(model.state_dict())  # FrozenBatchNorm2d drops num_batches_tracked
    return frozen.state_dict()

def run_child(side: str, kind: str, mode: str, size: tuple[int, int], workdir: str, iters: int) -> dict:
    "One measurement: build, one warm-up iteration, `iters` timed ones; the median time, the peak RSS, detections."
    images, boxes, labels, masks = make_batch(size)
    h, w = size
    if side == 'torchvision':
        model = torchvision_model(kind)
        model.load_state_dict(torch.load(Path(workdir) / f'{kind}_torchvision.pth', weights_only=True))
        model.transform.min_size, model.transform.max_size = (min(size),), max(size)  # scale 1: normalize and pad
        targets = [dict(boxes=b, labels=l + 1, **(dict(masks=m) if kind == 'mask_rcnn' else {}))
                   for b, l, m in zip(boxes, labels, masks)]
        infer = lambda: model(torchvision_inputs(images))  # converted in every step, as detnb's preprocessor does
        loss_fn = lambda: sum(model(torchvision_inputs(images), targets).values())
        count = lambda out: [len(o['boxes']) for o in out]
    else:
        from detnb.apis.inference import init_detector
        from detnb.masks import BitmapMasks
        from detnb.structures import DetDataSample, InstanceData
        model = init_detector(str(Path(workdir) / f'{kind}.py'), str(Path(workdir) / f'{kind}.pth'), device='cpu')
        def batch():
            samples = []
            for b, l, m in zip(boxes, labels, masks):
                gt = InstanceData(bboxes=b, labels=l)
                if kind == 'mask_rcnn': gt.masks = BitmapMasks(m.numpy(), h, w)
                samples.append(DetDataSample(metainfo=dict(img_shape=size, ori_shape=size, scale_factor=(1., 1.)),
                                             gt_instances=gt))
            return model.data_preprocessor(dict(inputs=images, data_samples=samples), training=model.training)
        infer = lambda: model(**batch(), mode='predict')
        loss_fn = lambda: model.parse_losses(model(**batch(), mode='loss'))[0]
        count = lambda out: [len(s.pred_instances) for s in out]
    result, out = run_steps(model, mode, infer, loss_fn, iters)
    return dict(result, detections=count(out) if mode == 'infer' else None)

def measure(side: str, kind: str, mode: str, args, workdir: str) -> dict:
    "Seconds per iteration (default allocator) and peak MB (every large block mapped on its own): see the docstring."
    child_args = ['--child', side, kind, mode, '--size', args.size, '--threads', str(args.threads), '--workdir', workdir]
    timed, peak = timed_and_peak(__file__, child_args, args.infer_iters if mode == 'infer' else args.train_iters)
    return dict(seconds=timed['seconds'], max_rss_mb=peak['max_rss_mb'], above_mb=peak['max_rss_mb'] - peak['baseline_mb'],
                detections=timed['detections'])

def parse_size(text: str) -> tuple[int, int]:
    h, _, w = text.lower().partition('x')
    size = (int(h), int(w or h))
    if any(s % 64 for s in size): raise SystemExit(f'--size: H and W must be multiples of 64 (no padding), got {text}')
    return size

def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', default='512x768', help='HxW of both images, multiples of 64 (e.g. 832x1216)')
    parser.add_argument('--threads', type=int, default=2, help='torch threads in every measurement')
    parser.add_argument('--repeats', type=int, default=2, help='alternating runs of each side; the best is kept')
    parser.add_argument('--infer-iters', type=int, default=2)
    parser.add_argument('--train-iters', type=int, default=2)
    parser.add_argument('--models', nargs='+', default=['faster_rcnn', 'mask_rcnn'], choices=['faster_rcnn', 'mask_rcnn'])
    parser.add_argument('--modes', nargs='+', default=['infer', 'train'], choices=['infer', 'train'])
    parser.add_argument('--child', nargs=3, metavar=('SIDE', 'MODEL', 'MODE'))
    parser.add_argument('--workdir')
    parser.add_argument('--iters', type=int)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = parse_size(args.size)
    if args.child:
        print(json.dumps(run_child(*args.child, size, args.workdir, args.iters)))
        return
    from detnb.models.torchvision_import import import_torchvision_detector
    print(f'CPU, {args.threads} threads, batch of 2 images {size[0]} x {size[1]}, torch {torch.__version__}; '
          f'median of {args.infer_iters} (inference) / {args.train_iters} (train step) iterations, '
          f'best of {args.repeats} alternating runs')
    print(f'{"model":<11} {"mode":<6} {"torchvision s":>14} {"detnb s":>9} {"time ratio":>10} '
          f'{"torchvision MB":>15} {"detnb MB":>9} {"memory ratio":>12}  {"peak MB (tv / detnb)":>20} {"peak ratio":>10}  detections (tv / detnb)')
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.models:
            state_dict = detecting_state_dict(kind, size)
            torch.save(state_dict, Path(tmp) / f'{kind}_torchvision.pth')
            tv_model = torchvision_model(kind)
            tv_model.load_state_dict(state_dict)
            out = Path(tmp) / kind
            config, checkpoint = import_torchvision_detector(tv_model, out)
            (Path(tmp) / f'{kind}.py').symlink_to(config)
            (Path(tmp) / f'{kind}.pth').symlink_to(checkpoint)
            del tv_model, state_dict
            for mode in args.modes:
                runs = alternating(lambda side: measure(side, kind, mode, args, tmp), args.repeats)
                tv, ours = ({k: min(r[key] for r in runs[side]) for k, key in [('seconds', 'seconds'), ('mb', 'above_mb'), ('peak', 'max_rss_mb')]}
                            for side in ('torchvision', 'detnb'))
                dets = f'{runs["torchvision"][0]["detections"]} / {runs["detnb"][0]["detections"]}' if mode == 'infer' else ''
                print(f'{kind:<11} {mode:<6} {tv["seconds"]:>14.3f} {ours["seconds"]:>9.3f} {ours["seconds"] / tv["seconds"]:>9.3f}x '
                      f'{tv["mb"]:>15.0f} {ours["mb"]:>9.0f} {ours["mb"] / tv["mb"]:>11.3f}x  {tv["peak"]:>9.0f} / {ours["peak"]:<8.0f} {ours["peak"] / tv["peak"]:>9.3f}x  {dets}', flush=True)

if __name__ == '__main__':
    main()
