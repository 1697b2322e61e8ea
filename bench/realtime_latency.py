"""CPU latency per image (batch 1) of detnb's real-time detectors, RTMDet-tiny and YOLOX-tiny, at 416 and 640 px:
detnb as shipped, the same model on torch's default convolutions, and Ultralytics' YOLOv8n when it is installed.

The models are the COCO configs (80 classes, random weights; `detnb::rtmdet/rtmdet_tiny_8xb32-300e_coco.py`,
`detnb::yolox/yolox_tiny_8xb8-300e_coco.py`) and `yolov8n.yaml`, in eval mode. Each runs on one letterboxed
size x size image, already decoded (the image reading and resizing that every detector shares are left out), two ways:

- network: the forward pass to the raw head outputs (detnb's `tensor` mode; YOLOv8n's `model(x)`, which also decodes
  the boxes);
- predict: the data preprocessor (normalization, detnb's channels-last copy), the network, box decoding and NMS
  (detnb's `predict` with the config's `test_cfg`; Ultralytics' `non_max_suppression`), at a score threshold of 0.05
  on both sides. Random weights score every prior near the initial prior probability (0.01 or less on both sides),
  so that almost nothing reaches NMS: this column is the pipeline's overhead, not a trained model's NMS.

Variants: `detnb` as shipped (NNPACK's Winograd kernel for the 3x3 convolutions where `winograd_applies`, a
channels-last input from the data preprocessor, batch norms folded into the convolutions on the fly); `torch conv`:
the same model and weights with `set_winograd(False)` and an NCHW input (every convolution is torch's own);
`YOLOv8n`: Ultralytics' model fused as its predictor fuses it (`model.fuse()`). All variants of one size run in one
process, alternating round by round, and each figure is the median over all rounds after a warm-up; the ratio is
torch conv / detnb (> 1: detnb's layers are faster). The machine may be shared: read the load average printed with
the figures.

    python bench/realtime_latency.py [--threads 2] [--iters 10] [--rounds 5] [--sizes 416 640]
"""
import argparse, os, statistics, sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
CONFIGS = {'RTMDet-tiny': 'detnb::rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
           'YOLOX-tiny': 'detnb::yolox/yolox_tiny_8xb8-300e_coco.py'}
SCORE_THR = 0.05


def detnb_model(config: str):
    "The detnb model of `config` in eval mode, random weights (seed 0), its test score threshold at SCORE_THR."
    from detnb.config import Config
    from detnb.registry import MODELS
    cfg = Config.fromfile(config)
    cfg.model.test_cfg.score_thr = SCORE_THR
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


def detnb_calls(model, image: torch.Tensor, winograd: bool) -> dict:
    "The network and predict calls of a detnb model on `image` (uint8 CHW), with Winograd on (as shipped) or off."
    from detnb.models.layers.conv import set_winograd
    from detnb.structures import DetDataSample
    h, w = image.shape[-2:]
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0),
                                         pad_shape=(h, w), batch_input_shape=(h, w)))
    batch = lambda: model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), False)
    ready = batch()
    inputs = ready['inputs'] if winograd else ready['inputs'].contiguous()  # torch conv: NCHW throughout
    def network():
        set_winograd(winograd)
        return model(inputs, ready['data_samples'], mode='tensor')
    def predict():
        set_winograd(winograd)
        data = batch()
        if not winograd: data['inputs'] = data['inputs'].contiguous()
        return model(**data, mode='predict')
    return dict(network=network, predict=predict)


def ultralytics_calls(image: torch.Tensor) -> dict:
    "The network and predict calls of YOLOv8n (yolov8n.yaml, random weights, fused) on `image` (uint8 CHW)."
    os.environ.setdefault('YOLO_OFFLINE', '1')
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils.nms import non_max_suppression
    torch.manual_seed(0)
    model = DetectionModel('yolov8n.yaml', nc=80, verbose=False).fuse(verbose=False).eval()
    x = image[None].float() / 255
    def network(): return model(x)
    def predict():
        out = model(image[None].float() / 255)
        return non_max_suppression(out, conf_thres=SCORE_THR, iou_thres=0.7, max_det=100)
    return dict(network=network, predict=predict)


def timed(fn, iters: int) -> list[float]:
    "Seconds of each of `iters` calls."
    times = []
    for _ in range(iters):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--threads', type=int, default=2, help="torch's CPU threads (default 2)")
    parser.add_argument('--iters', type=int, default=10, help='timed calls of each variant per round (default 10)')
    parser.add_argument('--rounds', type=int, default=5, help='alternating rounds (default 5)')
    parser.add_argument('--sizes', type=int, nargs='+', default=[416, 640], help='square input sizes (default 416 640)')
    parser.add_argument('--models', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument('--no-ultralytics', action='store_true', help='leave YOLOv8n out even when installed')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import ultralytics
        have_ultralytics = not args.no_ultralytics
    except ImportError: have_ultralytics = False
    models = {name: detnb_model(CONFIGS[name]) for name in args.models}
    print(f'CPU, {args.threads} threads, torch {torch.__version__}, batch 1, random weights, score threshold '
          f'{SCORE_THR}; median of {args.rounds} alternating rounds x {args.iters} calls after a warm-up'
          + (f'; Ultralytics {ultralytics.__version__}' if have_ultralytics else '; Ultralytics not installed'))
    print(f'load average (1/5/15 min) before: {"/".join(f"{v:.2f}" for v in os.getloadavg())}')
    print(f'{"size":>5} {"model":<12} {"what":<8} {"detnb ms":>9} {"torch conv ms":>14} {"ratio":>6} '
          f'{"YOLOv8n ms":>11} '
          f'{"detnb/YOLOv8n":>14}')
    with torch.inference_mode():
        for size in args.sizes:
            seeded = torch.Generator().manual_seed(0)
            image = torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=seeded)
            calls = {}
            for name, model in models.items():
                calls[(name, 'detnb')] = detnb_calls(model, image, winograd=True)
                calls[(name, 'torch conv')] = detnb_calls(model, image, winograd=False)
            if have_ultralytics: calls[('YOLOv8n', 'ultralytics')] = ultralytics_calls(image)
            times = {(key, what): [] for key in calls for what in ('network', 'predict')}
            for fns in calls.values():  # warm-up: first calls allocate and pick kernels
                for fn in fns.values(): timed(fn, 2)
            for _ in range(args.rounds):
                for key, fns in calls.items():
                    for what, fn in fns.items(): times[(key, what)] += timed(fn, args.iters)
            ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
            for name in models:
                for what in ('network', 'predict'):
                    ours, plain = ms[((name, 'detnb'), what)], ms[((name, 'torch conv'), what)]
                    yolo = ms.get((('YOLOv8n', 'ultralytics'), what))
                    tail = f' {yolo:>11.1f} {ours / yolo:>13.2f}x' if yolo else ''
                    print(f'{size:>5} {name:<12} {what:<8} {ours:>9.1f} {plain:>14.1f} {plain / ours:>5.2f}x{tail}',
                          flush=True)
    from detnb.models.layers.conv import set_winograd
    set_winograd(True)
    print(f'load average (1/5/15 min) after: {"/".join(f"{v:.2f}" for v in os.getloadavg())}')


if __name__ == '__main__':
    main()
