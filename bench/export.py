"""detnb eager against onnxruntime on the CPU: latency per image of one detector on the same images.

The detector is the BCCD config of RetinaNet-R18 or FCOS-R18 with seeded random weights, its classifier bias
at -1.5 so that it detects (100 boxes per image, as in `nbs/apis/03_export.ipynb`), exported by `export_onnx`
with free sizes, once with the post-processing in the graph and once with it in numpy. Every side runs the
same BCCD validation images one at a time, from their files, through the whole path a user calls: detnb's
`inference_detector` (test pipeline, data preprocessor, network, `predict_by_feat`) against
`OnnxDetector.predict` (the same pipeline steps, numpy normalization, onnxruntime, post-processing).

Threads are fixed on both sides: `torch.set_num_threads(T)` and onnxruntime's intra-op threads T (inter-op 1).
Time: the median over the images after `--warmup` images; the sides alternate `--repeats` times and the
best median of each is kept (the machine may be shared). The ratio is detnb eager's time over the side's.

    python bench/export.py [--model retinanet|fcos] [--images 20] [--threads 2] [--repeats 3]
"""
import argparse, statistics, sys, tempfile, time, warnings
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
BCCD = ROOT.parent / 'shared' / 'data' / 'bccd' / 'BCCD'
CONFIGS = {'retinanet': 'detnb::retinanet/retinanet_r18_fpn_bccd.py',
           'fcos': 'detnb::fcos/fcos_r18_fpn_gn-head_bccd.py'}
sys.path.insert(0, str(ROOT))

def seeded_detector(config: str) -> nn.Module:
    "The detector of `config` with seeded random weights, its class bias at -1.5 so that it detects."
    from detnb.apis.inference import init_detector
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # no checkpoint: random weights, on purpose
        model = init_detector(config)
    for name in ('retina_cls', 'conv_cls'):
        if hasattr(model.bbox_head, name):
            with torch.no_grad(): getattr(model.bbox_head, name).bias.fill_(-1.5)
    return model

def median_latency(predict, images: list[str], warmup: int) -> float:
    "Median seconds per image of `predict(path)` over `images`, after `warmup` untimed calls."
    for path in images[:warmup]: predict(path)
    times = []
    for path in images:
        start = time.perf_counter()
        predict(path)
        times.append(time.perf_counter() - start)
    return statistics.median(times)

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', choices=tuple(CONFIGS), default='retinanet')
    p.add_argument('--images', type=int, default=20, help='BCCD validation images, timed one at a time')
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--repeats', type=int, default=3)
    args = p.parse_args()
    if not BCCD.is_dir(): sys.exit(f'bench/export.py needs the BCCD data set at {BCCD} (absent)')
    from detnb.apis.export import export_onnx
    from detnb.apis.inference import OnnxDetector, inference_detector
    torch.set_num_threads(args.threads)
    names = (BCCD / 'ImageSets' / 'Main' / 'val.txt').read_text().split()[:args.images]
    images = [str(BCCD / 'JPEGImages' / f'{name}.jpg') for name in names]
    model = seeded_detector(CONFIGS[args.model])
    with tempfile.TemporaryDirectory() as folder:
        sides = {'detnb eager': lambda path: inference_detector(model, path)}
        for postprocess in ('graph', 'numpy'):
            file = export_onnx(model, Path(folder) / f'{postprocess}.onnx', postprocess, dynamic=True)
            sides[f'onnxruntime, {postprocess} post-processing'] = OnnxDetector(file, threads=args.threads).predict
        best = {name: float('inf') for name in sides}
        for _ in range(args.repeats):
            for name, predict in sides.items():
                best[name] = min(best[name], median_latency(predict, images, args.warmup))
    print(f'{args.model} (BCCD config, ResNet-18), {len(images)} BCCD images of 640 x 480 (416 x 312 in the network), '
          f'threads={args.threads}, best of {args.repeats} medians; torch {torch.__version__}')
    eager = best['detnb eager']
    for name, seconds in best.items():
        print(f'{name:<36} {seconds * 1000:8.1f} ms/img   eager / this: {eager / seconds:5.2f}')

if __name__ == '__main__':
    main()
