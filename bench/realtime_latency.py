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
the figures; on a loaded machine `--clock cpu` times each call by the CPU time of this process instead of the wall
clock: with `--threads 1` that is about the latency an idle core would give (what the other processes take is left
out); with more threads it is the CPU time of all of them, including what OpenMP's threads spend spinning at each
barrier while a partner waits for a core, which on a loaded machine can be most of it (compare within one run only).

Each size's line `GMACs` gives the multiply-adds of every model's convolutions (counted once, by forward hooks): the
arithmetic that the convolutions must do whatever their kernels. Ultralytics quotes FLOPs as twice its
multiply-adds (YOLOv8n's "8.7 GFLOPs" at 640 are 4.37 GMACs) where MMDetection's "FLOPs" are multiply-adds
(RTMDet-tiny's "8.1 GFLOPs": 8.04 GMACs of convolutions): RTMDet-tiny does 1.84 times YOLOv8n's arithmetic.

`--profile` prints, instead of the table, where detnb's network call spends its time (torch.profiler over `--iters`
calls after a warm-up, per call): the operators by their own time, and the time inside each kind of module
(a convolution block by its kernel, stride and depthwise-ness) including its children.

    python bench/realtime_latency.py [--threads 2] [--iters 10] [--rounds 5] [--sizes 416 640] [--clock wall|cpu]
    python bench/realtime_latency.py --profile [--threads 1] [--sizes 416] [--models RTMDet-tiny]
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


def ultralytics_model():
    "YOLOv8n (yolov8n.yaml, 80 classes, random weights, seed 0), fused as Ultralytics' predictor fuses it, eval mode."
    os.environ.setdefault('YOLO_OFFLINE', '1')
    from ultralytics.nn.tasks import DetectionModel
    torch.manual_seed(0)
    return DetectionModel('yolov8n.yaml', nc=80, verbose=False).fuse(verbose=False).eval()


def ultralytics_calls(model, image: torch.Tensor) -> dict:
    "The network and predict calls of the YOLOv8n `model` on `image` (uint8 CHW)."
    from ultralytics.utils.nms import non_max_suppression
    x = image[None].float() / 255
    def network(): return model(x)
    def predict():
        out = model(image[None].float() / 255)
        return non_max_suppression(out, conf_thres=SCORE_THR, iou_thres=0.7, max_det=100)
    return dict(network=network, predict=predict)


def timed(fn, iters: int, clock=time.perf_counter) -> list[float]:
    "Seconds of each of `iters` calls, by `clock` (wall: `time.perf_counter`; CPU: `time.process_time`)."
    times = []
    for _ in range(iters):
        start = clock(); fn(); times.append(clock() - start)
    return times


def conv_macs(model: torch.nn.Module, call) -> int:
    "Multiply-adds of the 2-D convolutions that one `call()` runs, counted by forward hooks (removed afterwards)."
    macs = []
    def count(conv, inputs, out): macs.append(out.numel() * conv.weight[0].numel())
    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try: call()
    finally:
        for h in hooks: h.remove()
    return sum(macs)


def module_label(module: torch.nn.Module) -> str:
    "A module's kind for the profile: its class, a convolution block with its kernel, stride and depthwise-ness."
    conv = getattr(module, 'conv', None)
    if type(module).__name__ != 'ConvModule' or not isinstance(conv, torch.nn.Conv2d): return type(module).__name__
    k, s = conv.kernel_size, conv.stride[0]
    return f'ConvModule {k[0]}x{k[1]}{" dw" if conv.groups > 1 else ""}{f" s{s}" if s > 1 else ""}'


def profile(model: torch.nn.Module, call, iters: int, rows: int = 20) -> None:
    """Print where `call()` spends its time: operators by their own time, and each part and kind of module of
    `model` with its children, per call. Modules are marked by wrapping their `forward` (not by hooks: a hooked
    convolution is not folded with its norm)."""
    from torch.profiler import ProfilerActivity, record_function
    from torch.profiler import profile as torch_profile
    wrapped = []
    for name, module in model.named_modules():
        if not name or type(module) in (torch.nn.Sequential, torch.nn.ModuleList): continue  # containers: no time
        part = name.split('.')[0]
        label = f'[{part}] {module_label(module)}' if '.' in name else f'[{part}]'
        def forward(*args, _forward=module.forward, _label=label, **kwargs):
            with record_function(_label): return _forward(*args, **kwargs)
        module.forward = forward
        wrapped.append(module)
    try:
        for _ in range(2): call()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof: timed(call, iters)
    finally:
        for module in wrapped: del module.forward
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) / iters / 1e3
    print(f'{"operator":<40} {"self ms":>8} {"share":>6} {"calls":>6}')
    for e in sorted((e for e in events if not e.key.startswith('[')), key=lambda e: -e.self_cpu_time_total)[:rows]:
        ms = e.self_cpu_time_total / iters / 1e3
        print(f'{e.key:<40} {ms:>8.2f} {ms / total:>6.1%} {e.count // iters:>6}')
    print(f'{"module (with children)":<40} {"ms":>8} {"share":>6} {"calls":>6}')
    for e in sorted((e for e in events if e.key.startswith('[')), key=lambda e: -e.cpu_time_total)[:rows]:
        ms = e.cpu_time_total / iters / 1e3
        print(f'{e.key:<40} {ms:>8.2f} {ms / total:>6.1%} {e.count // iters:>6}')
    print(f'total (operators\' own time) {total:.2f} ms per call', flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--threads', type=int, default=2, help="torch's CPU threads (default 2)")
    parser.add_argument('--iters', type=int, default=10, help='timed calls of each variant per round (default 10)')
    parser.add_argument('--rounds', type=int, default=5, help='alternating rounds (default 5)')
    parser.add_argument('--sizes', type=int, nargs='+', default=[416, 640], help='square input sizes (default 416 640)')
    parser.add_argument('--models', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument('--no-ultralytics', action='store_true', help='leave YOLOv8n out even when installed')
    parser.add_argument('--clock', choices=['wall', 'cpu'], default='wall',
                        help="time calls by the wall clock (default) or by this process's CPU time (a loaded machine)")
    parser.add_argument('--profile', action='store_true', help="print where detnb's network call spends its time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.profile:
        with torch.inference_mode():
            models = {name: detnb_model(CONFIGS[name]) for name in args.models}
            for size, (name, model) in [(size, item) for size in args.sizes for item in models.items()]:
                seeded = torch.Generator().manual_seed(0)
                image = torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=seeded)
                print(f'\n{name} at {size} px, network call, {args.threads} threads, load average '
                      f'{"/".join(f"{v:.2f}" for v in os.getloadavg())}')
                profile(model, detnb_calls(model, image, winograd=True)['network'], args.iters)
        return
    clock = time.process_time if args.clock == 'cpu' else time.perf_counter
    try:
        import ultralytics
        have_ultralytics = not args.no_ultralytics
    except ImportError: have_ultralytics = False
    models = {name: detnb_model(CONFIGS[name]) for name in args.models}
    yolov8n = ultralytics_model() if have_ultralytics else None
    print(f'CPU, {args.threads} threads, torch {torch.__version__}, batch 1, random weights, score threshold '
          f'{SCORE_THR}; median of {args.rounds} alternating rounds x {args.iters} calls after a warm-up; '
          f'{args.clock} clock'
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
            macs = {name: conv_macs(model, calls[(name, 'detnb')]['network']) for name, model in models.items()}
            if have_ultralytics:
                calls[('YOLOv8n', 'ultralytics')] = ultralytics_calls(yolov8n, image)
                macs['YOLOv8n'] = conv_macs(yolov8n, calls[('YOLOv8n', 'ultralytics')]['network'])
            print(f'{size:>5} GMACs: ' + ', '.join(f'{k} {v / 1e9:.2f}' for k, v in macs.items()), flush=True)
            times = {(key, what): [] for key in calls for what in ('network', 'predict')}
            for fns in calls.values():  # warm-up: first calls allocate and pick kernels
                for fn in fns.values(): timed(fn, 2)
            for _ in range(args.rounds):
                for key, fns in calls.items():
                    for what, fn in fns.items(): times[(key, what)] += timed(fn, args.iters, clock)
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
