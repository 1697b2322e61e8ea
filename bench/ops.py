"""The kernels of `detnb.ops` against the torch / torchvision code they replace: time and peak memory.

On a GPU (with CuPy): NMS at 1k / 10k / 50k boxes against `torchvision.ops.nms`, the fused focal loss forward +
backward at 100k x 80 against the torch composite, pairwise IoU of 5k x 5k boxes against
`detnb.boxes.bbox_overlaps`, and soft-NMS against its torch reference on the CPU; each line prints the ratio
reference / kernel (> 1: the kernel is faster, or uses less memory), measured in the same run, and the goals.

Without a GPU it prints what the CPU runs instead (the torch / torchvision fallbacks) and says so: the CPU
emulation of the kernels (`detnb.testing.cuda_emulation`) checks correctness and is not a benchmark.

    python bench/ops.py            # all of it
    python bench/ops.py --quick    # smaller sizes
"""
import argparse, statistics, time

import torch
import torchvision

from detnb.boxes import bbox_overlaps as bbox_overlaps_torch
from detnb.ops import (bbox_overlaps, nms, sigmoid_focal_loss, sigmoid_focal_loss_torch, soft_nms,
                       soft_nms_reference, use_kernels)


def random_boxes(n: int, device, generator: torch.Generator) -> torch.Tensor:
    "`n` boxes in an 800 x 800 image, sides 1 to 101: the spread of a detector's candidates before NMS."
    xy = torch.rand(n, 2, generator=generator) * 800
    return torch.cat([xy, xy + torch.rand(n, 2, generator=generator) * 100 + 1], 1).to(device)


def measure(fn, device: torch.device, repeats: int) -> tuple[float, int]:
    "Median seconds of `fn()` over `repeats` runs after one warm-up, and its peak extra GPU memory in bytes."
    fn()  # warm-up: compiles the kernels, fills the allocator's cache
    times, peak = [], 0
    for _ in range(repeats):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end) / 1000)
            peak = max(peak, torch.cuda.max_memory_allocated(device) - base)
        else:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(times), peak


def focal_step(loss_fn, pred: torch.Tensor, target: torch.Tensor):
    "One forward and backward pass of a focal loss, as in training."
    pred.grad = None
    loss_fn(pred, target, reduction='mean').backward()


def row(name: str, kernel: tuple[float, int], reference: tuple[float, int], goal: str = ''):
    (t_k, m_k), (t_r, m_r) = kernel, reference
    memory = f'{m_k / 2**20:8.1f} MiB vs {m_r / 2**20:8.1f} MiB  memory x{m_r / max(m_k, 1):6.2f}' if m_r else f'{"":43s}'
    print(f'{name:34s} {t_k * 1e3:9.3f} ms vs {t_r * 1e3:9.3f} ms  speed x{t_r / t_k:7.2f}   {memory}   {goal}')


def gpu(args):
    device = torch.device('cuda')
    gen = torch.Generator().manual_seed(0)
    print(f'GPU: {torch.cuda.get_device_name(device)}; kernel vs reference, median of {args.repeats} runs; '
          'x = reference / kernel (> 1: the kernel is faster / uses less memory)')
    for n in args.nms_sizes:
        boxes, scores = random_boxes(n, device, gen), torch.rand(n, generator=gen).to(device)
        for threshold in (0.5,):
            row(f'nms {n} boxes @ {threshold}', measure(lambda: nms(boxes, scores, threshold), device, args.repeats),
                measure(lambda: torchvision.ops.nms(boxes, scores, threshold), device, args.repeats),
                'goal: speed >= 1 (torchvision.ops.nms)')
    rows, classes = args.focal_shape
    pred = torch.randn(rows, classes, generator=gen).to(device).requires_grad_()
    target = torch.randint(0, classes + 1, (rows,), generator=gen).to(device)
    row(f'focal loss fwd+bwd {rows} x {classes}', measure(lambda: focal_step(sigmoid_focal_loss, pred, target), device, args.repeats),
        measure(lambda: focal_step(sigmoid_focal_loss_torch, pred, target), device, args.repeats),
        'goal: speed >= 2, memory >= 2 (torch composite)')
    b1, b2 = random_boxes(args.iou_size, device, gen), random_boxes(args.iou_size, device, gen)
    for mode in ('iou', 'giou'):
        row(f'{mode} {args.iou_size} x {args.iou_size}', measure(lambda: bbox_overlaps(b1, b2, mode), device, args.repeats),
            measure(lambda: bbox_overlaps_torch(b1, b2, mode), device, args.repeats), '(detnb.boxes, torch)')
    for n in args.soft_nms_sizes:
        boxes, scores = random_boxes(n, device, gen), torch.rand(n, generator=gen).to(device)
        boxes_cpu, scores_cpu = boxes.cpu(), scores.cpu()
        row(f'soft-nms linear {n} boxes', measure(lambda: soft_nms(boxes, scores), device, args.repeats),
            measure(lambda: soft_nms_reference(boxes_cpu, scores_cpu), torch.device('cpu'), 1),
            'goal: speed >= 10 (torch reference on the CPU; its memory is not measured)')


def cpu(args):
    device, gen = torch.device('cpu'), torch.Generator().manual_seed(0)
    args.repeats = min(args.repeats, 3)
    print('No CUDA GPU (or no CuPy) here: the kernels cannot be timed. These are the CPU fallbacks that detnb.ops '
          f'runs instead, {torch.get_num_threads()} torch threads, median of {args.repeats} runs. The CPU emulation '
          'of the kernels checks correctness and is no benchmark.')
    def line(name, seconds, what):
        print(f'{name:34s} {seconds * 1e3:10.1f} ms   {what}')
    for n in args.nms_sizes:
        boxes, scores = random_boxes(n, device, gen), torch.rand(n, generator=gen)
        line(f'nms {n} boxes @ 0.5', measure(lambda: nms(boxes, scores, 0.5), device, args.repeats)[0], 'torchvision.ops.nms')
    rows, classes = args.focal_shape
    pred = torch.randn(rows, classes, generator=gen).requires_grad_()
    target = torch.randint(0, classes + 1, (rows,), generator=gen)
    line(f'focal loss fwd+bwd {rows} x {classes}', measure(lambda: focal_step(sigmoid_focal_loss, pred, target), device, args.repeats)[0],
         'torch composite')
    b1, b2 = random_boxes(args.iou_size, device, gen), random_boxes(args.iou_size, device, gen)
    for mode in ('iou', 'giou'):
        line(f'{mode} {args.iou_size} x {args.iou_size}', measure(lambda: bbox_overlaps(b1, b2, mode), device, args.repeats)[0],
             'detnb.boxes.bbox_overlaps')
    for n in args.soft_nms_sizes:
        boxes, scores = random_boxes(n, device, gen), torch.rand(n, generator=gen)
        line(f'soft-nms linear {n} boxes', measure(lambda: soft_nms(boxes, scores), device, 1)[0], 'torch reference')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='smaller sizes, fewer repeats')
    args = parser.parse_args()
    args.repeats = 3 if args.quick else 10
    args.nms_sizes = (1000, 10_000) if args.quick else (1000, 10_000, 50_000)
    args.focal_shape = (10_000, 80) if args.quick else (100_000, 80)
    args.iou_size = 1000 if args.quick else 5000
    args.soft_nms_sizes = (500,) if args.quick else (1000, 5000)
    on_gpu = torch.cuda.is_available() and use_kernels(torch.zeros(1, device='cuda'))
    gpu(args) if on_gpu else cpu(args)


if __name__ == '__main__':
    main()
