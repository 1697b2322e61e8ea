"""detnb's RetinaNet and FCOS against torchvision's, on the CPU: inference time, train-step time and peak memory.

Both sides run the same weights (a torchvision model converted by `detnb.models.torchvision_import`) on the
same input size. torchvision's models are built as for fine-tuning from ImageNet weights
(`FrozenBatchNorm2d`, `trainable_backbone_layers=3`; detnb: frozen batch norms, `frozen_stages=1`), with
random weights. Inference: one image through the whole model (torchvision's `forward` with `min_size` and
`max_size` set to the image size, so that its transform only normalizes and pads; detnb's data preprocessor
and `predict`). Train step: a batch of two images with five boxes each, forward, backward and an SGD step.

Every measurement runs in its own subprocess (`_measure.py`, shared with `two_stage_vs_torchvision.py`). Time: the
median over the timed iterations after one warm-up iteration, with glibc's default allocator, as users run. Memory:
the peak resident memory of the iterations (Linux's `VmHWM`, reset once the model is built and its weights loaded,
so that loading a checkpoint is not counted; `ru_maxrss` of the whole process elsewhere) in a second subprocess that
runs one warm-up and one timed iteration with `MALLOC_MMAP_THRESHOLD_=131072`: glibc then maps every large block
(every activation) on its own and returns it on free, so that the peak follows the live tensors rather than what
the allocator happened to keep (mapping every block costs page faults, so that run is not timed). The two sides of
a comparison alternate, `--repeats` times, and the best of the repeats is kept for each (the machine may be shared).

    python bench/dense_vs_torchvision.py [--size 512] [--threads 2] [--repeats 3]
"""
import argparse, json, sys, tempfile
from pathlib import Path

import torch
from _measure import ROOT, alternating, run_steps, timed_and_peak

NUM_CLASSES = 90
sys.path.insert(0, str(ROOT))

def torchvision_model(kind: str):
    "torchvision's RetinaNet or FCOS R50-FPN set up for fine-tuning (frozen batch norms, 3 trainable stages)."
    from torchvision.models import resnet50
    from torchvision.models.detection import FCOS, RetinaNet
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7
    from torchvision.ops.misc import FrozenBatchNorm2d
    torch.manual_seed(0)
    body = resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    backbone = _resnet_fpn_extractor(body, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256))
    # 90 classes, not COCO's 91: the import cuts a 91-class classifier to COCO's 80 used classes, and the benchmark
    # compares heads of equal width
    return (RetinaNet if kind == 'retinanet' else FCOS)(backbone, num_classes=NUM_CLASSES)

def detnb_model(kind: str, state_dict_path: str):
    "The detnb twin of `torchvision_model(kind)`, converted from its saved weights."
    from detnb.models.torchvision_import import convert_torchvision_fcos, convert_torchvision_retinanet
    from detnb.registry import MODELS
    convert = convert_torchvision_retinanet if kind == 'retinanet' else convert_torchvision_fcos
    cfg, weights = convert(torch.load(state_dict_path, weights_only=True))
    model = MODELS.build(cfg['model'])
    model.load_state_dict(weights, strict=True)
    return model

def make_batch(size: int, num_images: int):
    "Fixed uint8 images and five boxes per image."
    g = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g) for _ in range(num_images)]
    xy = torch.rand(num_images, 5, 2, generator=g) * size * 0.6
    wh = 32 + torch.rand(num_images, 5, 2, generator=g) * size * 0.3
    boxes = torch.cat([xy, xy + wh], -1).clamp(max=size - 1)
    labels = torch.randint(0, NUM_CLASSES, (num_images, 5), generator=g)
    return images, boxes, labels

def run_child(side: str, kind: str, mode: str, size: int, weights: str, iters: int) -> dict:
    "One measurement: build, one warm-up iteration, `iters` timed ones; the median time and the peak RSS."
    images, boxes, labels = make_batch(size, 1 if mode == 'infer' else 2)
    if side == 'torchvision':
        model = torchvision_model(kind)
        model.load_state_dict(torch.load(weights, weights_only=True))
        model.transform.min_size, model.transform.max_size = (size,), size  # no resize: normalize and pad only
        rgb = lambda: [img.flip(0).float() / 255 for img in images]  # BGR uint8 -> RGB in [0, 1], in every step as detnb's
        targets = [dict(boxes=b, labels=l) for b, l in zip(boxes, labels)]
        infer = lambda: model(rgb())
        loss_fn = lambda: sum(model(rgb(), targets).values())
    else:
        from detnb.structures import DetDataSample, InstanceData
        model = detnb_model(kind, weights)
        def batch():
            samples = [DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1., 1.)),
                                     gt_instances=InstanceData(bboxes=b, labels=l)) for b, l in zip(boxes, labels)]
            return model.data_preprocessor(dict(inputs=images, data_samples=samples), training=model.training)
        infer = lambda: model(**batch(), mode='predict')
        loss_fn = lambda: model.parse_losses(model(**batch(), mode='loss'))[0]
    return run_steps(model, mode, infer, loss_fn, iters)[0]

def measure(side: str, kind: str, mode: str, args, weights: str) -> dict:
    "Seconds per iteration (default allocator) and peak MB (every large block mapped on its own): see the docstring."
    child_args = ['--child', side, kind, mode, '--size', str(args.size), '--threads', str(args.threads), '--weights', weights]
    timed, peak = timed_and_peak(__file__, child_args, args.infer_iters if mode == 'infer' else args.train_iters)
    return dict(seconds=timed['seconds'], max_rss_mb=peak['max_rss_mb'])

def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=512, help='square input size (a multiple of 128)')
    parser.add_argument('--threads', type=int, default=2, help='torch threads in every measurement')
    parser.add_argument('--repeats', type=int, default=3, help='alternating runs of each side; the best is kept')
    parser.add_argument('--infer-iters', type=int, default=10)
    parser.add_argument('--train-iters', type=int, default=4)
    parser.add_argument('--models', default='retinanet,fcos')
    parser.add_argument('--modes', default='infer,train')
    parser.add_argument('--child', nargs=3, metavar=('SIDE', 'MODEL', 'MODE'))
    parser.add_argument('--weights')
    parser.add_argument('--iters', type=int)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(run_child(*args.child, args.size, args.weights, args.iters)))
        return
    if args.size % 128: raise SystemExit(f'--size must be a multiple of 128 (torchvision infers anchor strides), got {args.size}')
    print(f'CPU, {args.threads} threads, {args.size} x {args.size} input, torch {torch.__version__}; '
          f'inference: 1 image, train step: 2 images; median of {args.infer_iters} / {args.train_iters} iterations, '
          f'best of {args.repeats} alternating runs')
    print(f'{"model":<10} {"mode":<6} {"torchvision s":>14} {"detnb s":>9} {"time ratio":>10} '
          f'{"torchvision MB":>15} {"detnb MB":>9} {"memory ratio":>12}')
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.models.split(','):
            weights = str(Path(tmp) / f'{kind}.pth')
            torch.save(torchvision_model(kind).state_dict(), weights)
            for mode in args.modes.split(','):
                runs = alternating(lambda side: measure(side, kind, mode, args, weights), args.repeats)
                tv = dict(seconds=min(r['seconds'] for r in runs['torchvision']), mb=min(r['max_rss_mb'] for r in runs['torchvision']))
                ours = dict(seconds=min(r['seconds'] for r in runs['detnb']), mb=min(r['max_rss_mb'] for r in runs['detnb']))
                print(f'{kind:<10} {mode:<6} {tv["seconds"]:>14.3f} {ours["seconds"]:>9.3f} {ours["seconds"] / tv["seconds"]:>9.3f}x '
                      f'{tv["mb"]:>15.0f} {ours["mb"]:>9.0f} {ours["mb"] / tv["mb"]:>11.3f}x', flush=True)

if __name__ == '__main__':
    main()
