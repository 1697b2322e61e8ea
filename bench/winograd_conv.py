"""detnb's `conv2d` (NNPACK's Winograd F(6x6, 3x3) kernel where `winograd_applies`) against `F.conv2d`, on the CPU.

A dense head's tower: eight 3x3 convolutions of 256 channels with ReLU, one NCHW image, at inference, for
square maps of growing size; the same tower on a channels-last map (the layout FPN's laterals and levels arrive
in from a channels-last backbone: `conv2d` copies it to NCHW once, at the first convolution, where `F.conv2d` runs
channels-last throughout); then one convolution with each output width a head uses (80: FCOS's classifier,
256: a tower convolution, 720: RetinaNet's classifier, which stays direct: see `WINOGRAD_MAX_CHANNEL_PAIRS`).
Both sides run the same weights in the same process, alternating, median over the iterations; the largest
difference between the two outputs, relative to the output's range, is printed beside the time ratio.

    python bench/winograd_conv.py [--threads 2] [--iters 9]
"""
import argparse, statistics, sys, time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from detnb.models.layers.conv import conv2d, winograd_applies


def tower(convolve, x: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor]) -> torch.Tensor:
    "Eight conv + ReLU layers."
    for w, b in zip(weights, biases): x = torch.relu(convolve(x, w, b, 1, 1))
    return x


def timed(fn, iters: int) -> float:
    "Median seconds of `iters` calls after one warm-up call."
    fn()
    times = []
    for _ in range(iters):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return statistics.median(times)


def relative(a: torch.Tensor, b: torch.Tensor) -> float: return ((a - b).abs().max() / b.abs().max()).item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--iters', type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    weights = [torch.randn(256, 256, 3, 3) * 0.02 for _ in range(8)]
    biases = [torch.randn(256) * 0.01 for _ in range(8)]
    print(f'CPU, {args.threads} threads, torch {torch.__version__}, one NCHW image, median of {args.iters}')
    print(f'{"map":>9} {"layers":>14} {"NNPACK":>7} {"F.conv2d ms":>12} {"conv2d ms":>10} {"ratio":>7} {"rel. diff":>10}')
    with torch.no_grad():
        for layout, sizes in ((torch.contiguous_format, (32, 40, 48, 64, 100)), (torch.channels_last, (48, 64, 100))):
            for size in sizes:
                x = torch.randn(1, 256, size, size).contiguous(memory_format=layout)
                direct = timed(lambda: tower(F.conv2d, x, weights, biases), args.iters)
                ours = timed(lambda: tower(conv2d, x, weights, biases), args.iters)
                diff = relative(tower(conv2d, x, weights, biases), tower(F.conv2d, x, weights, biases))
                name = f'{size}x{size}' + (' NHWC' if layout == torch.channels_last else '')
                print(f'{name:>9} {"8 x 256->256":>14} {str(winograd_applies(x, weights[0], 1, 1)):>7} '
                      f'{direct * 1e3:>12.1f} {ours * 1e3:>10.1f} {ours / direct:>6.3f}x {diff:>10.1e}', flush=True)
        x = torch.randn(1, 256, 64, 64)
        for out_channels in (80, 256, 720):
            w, b = torch.randn(out_channels, 256, 3, 3) * 0.02, torch.zeros(out_channels)
            direct = timed(lambda: F.conv2d(x, w, b, 1, 1), args.iters)
            ours = timed(lambda: conv2d(x, w, b, 1, 1), args.iters)
            diff = relative(conv2d(x, w, b, 1, 1), F.conv2d(x, w, b, 1, 1))
            print(f'{"64x64":>9} {f"256->{out_channels}":>14} {str(winograd_applies(x, w, 1, 1)):>7} '
                  f'{direct * 1e3:>12.1f} {ours * 1e3:>10.1f} {ours / direct:>6.3f}x {diff:>10.1e}', flush=True)


if __name__ == '__main__':
    main()
