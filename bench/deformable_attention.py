"""Multi-scale deformable attention at DINO's sizes (4 levels of an 800 x 1333 image at strides 8-64: 22 223
positions, 8 heads of 32 channels, 4 points; the encoder's 22 223 queries and the decoder's 900): forward + backward
time and peak memory of the CPU path (`multi_scale_deformable_attn`, which on the CPU runs `ms_deform_attn_cpu`:
`MultiScaleDeformableAttnCPUFunction` for the encoder, `MultiScaleDeformableAttnSmallCPUFunction` for the decoder,
whose samples are no larger than the values) against the `grid_sample` reference, measured in the same run. Each
measurement runs in a fresh process, so that peak memory (max RSS above the inputs on the CPU, torch's peak
allocation on a GPU) is its own; the two sides alternate, round after round (the first side changes every round),
so that a loaded machine slows both alike; the ratios are printed per round, then their median and spread. Time is
the wall clock and, on the CPU, the process's CPU time (less sensitive to other processes on a loaded machine); the
best of `--repeats` runs in each process. The goal (0.7 of the reference's time or less) refers to the default
settings: torch's default threads (two on the 2-core machine), batch 1. `--gather` adds an alternative that was
measured and not taken (the four corners of every point through one `F.embedding_bag`). On a GPU, the CUDA kernel
against the reference.

    python bench/deformable_attention.py [--device cuda] [--rounds 3] [--repeats 2] [--batch 1] [--threads 1] [--gather]
"""
import argparse, multiprocessing, resource, statistics, time
import torch
import torch.nn.functional as F

from detnb.models.layers.ms_deform_attn import multi_scale_deformable_attn, multi_scale_deformable_attn_pytorch

SHAPES = [(100, 167), (50, 84), (25, 42), (13, 21)]  # an 800 x 1333 image at strides 8, 16, 32, 64
HEADS, CHANNELS, POINTS = 8, 32, 4
CORNERS = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]])  # (dx, dy)


def gather_attn(value, spatial_shapes, level_start_index, sampling_locations, attention_weights):
    "The alternative: every point's four corners as rows of `value`, weights folded in, summed by `embedding_bag`."
    B, S, heads, C = value.shape
    Q = sampling_locations.shape[1]
    size = spatial_shapes.flip(-1)[:, None, :]  # (L, 1, 2) as (W, H)
    pixel = sampling_locations * size.to(sampling_locations) - 0.5
    first = pixel.floor()
    frac = (pixel - first)[..., None, :]
    corners = first.long()[..., None, :] + CORNERS.to(value.device)  # (B, Q, heads, L, P, 4, 2)
    inside = ((corners >= 0) & (corners < size[:, None])).all(-1)
    bilinear = torch.where(CORNERS.to(value.device).bool(), frac, 1 - frac).prod(-1)
    weights = bilinear * inside * attention_weights[..., None]
    index = level_start_index[:, None, None] + corners[..., 1] * size[:, None, :, 0] + corners[..., 0]
    b = torch.arange(B, device=value.device).view(B, 1, 1, 1, 1, 1)
    h = torch.arange(heads, device=value.device).view(1, 1, heads, 1, 1, 1)
    rows = torch.where(inside, (b * S + index) * heads + h, 0)
    out = F.embedding_bag(rows.view(B * Q * heads, -1), value.reshape(-1, C), mode='sum',
                          per_sample_weights=weights.reshape(B * Q * heads, -1))
    return out.view(B, Q, heads * C)


def inputs(batch, queries, device):
    shapes = torch.tensor(SHAPES, device=device)
    sizes = shapes[:, 0] * shapes[:, 1]
    start = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)[:-1]])
    g = torch.Generator().manual_seed(0)
    value = torch.randn(batch, int(sizes.sum()), HEADS, CHANNELS, generator=g).to(device).requires_grad_()
    loc = torch.rand(batch, queries, HEADS, len(SHAPES), POINTS, 2, generator=g).to(device).requires_grad_()
    weights = torch.rand(batch, queries, HEADS, len(SHAPES), POINTS, generator=g).to(device).requires_grad_()
    return value, shapes, start, loc, weights


METHODS = {'reference': lambda v, s, st, l, w: multi_scale_deformable_attn_pytorch(v, s, l, w),
           'detnb path': multi_scale_deformable_attn,
           'gather': gather_attn}


def measure(method, batch, queries, device, repeats, threads, results):
    "Wall and CPU seconds per forward + backward (best of `repeats`) and the peak memory in MB above the inputs."
    if threads: torch.set_num_threads(threads)
    value, shapes, start, loc, weights = inputs(batch, queries, device)
    run = METHODS[method]
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    if device == 'cuda': torch.cuda.reset_peak_memory_stats(); base = torch.cuda.max_memory_allocated()
    else: base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    walls, cpus = [], []
    for _ in range(repeats):
        sync(); start_wall, start_cpu = time.perf_counter(), time.process_time()
        run(value, shapes, start, loc, weights).sum().backward()
        sync(); walls.append(time.perf_counter() - start_wall); cpus.append(time.process_time() - start_cpu)
        value.grad = loc.grad = weights.grad = None
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if device == 'cuda' else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    results[method] = (min(walls), min(cpus), peak)


def spread(ratios):
    "median [min-max] of a list of ratios."
    return f'{statistics.median(ratios):5.2f} [{min(ratios):.2f}-{max(ratios):.2f}]'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--rounds', type=int, default=3, help='alternating rounds of fresh processes')
    parser.add_argument('--repeats', type=int, default=2, help='timed runs per process (the best counts)')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--threads', type=int, default=0, help="torch's threads in each process (0: torch's default)")
    parser.add_argument('--gather', action='store_true', help='also measure the rejected embedding_bag gather')
    args = parser.parse_args()
    context = multiprocessing.get_context('spawn')
    others = ['detnb path'] + (['gather'] if args.gather and args.device == 'cpu' else [])
    print(f'{args.device}, {args.threads or torch.get_num_threads()} threads, batch {args.batch}, {args.rounds} rounds '
          f'of fresh processes, best of {args.repeats} runs each; ratio = method / reference in the same round')
    manager = context.Manager()
    for name, queries in [('encoder', sum(h * w for h, w in SHAPES)), ('decoder', 900)]:
        ratios = {method: ([], [], []) for method in others}
        print(f'{name}: {queries} queries')
        for round_ in range(args.rounds):
            results = manager.dict()
            order = ['reference', *others] if round_ % 2 == 0 else [*others, 'reference']
            for method in order:
                p = context.Process(target=measure, args=(method, args.batch, queries, args.device, args.repeats,
                                                          args.threads, results))
                p.start(); p.join()
            reference = results['reference']
            for method in ['reference', *others]:
                wall, cpu, peak = results[method]
                line = f'  round {round_ + 1} {method:11s} {wall * 1000:8.1f} ms wall  {cpu * 1000:8.1f} ms cpu  ' \
                       f'peak {peak:8.1f} MB'
                if method != 'reference':
                    for kept, value, ref in zip(ratios[method], (wall, cpu, peak), reference): kept.append(value / ref)
                    line += f'   x{wall / reference[0]:.2f} wall  x{cpu / reference[1]:.2f} cpu  ' \
                            f'x{peak / max(reference[2], 1e-9):.2f} peak'
                print(line, flush=True)
        for method in others:
            wall, cpu, peak = ratios[method]
            print(f'  {method} / reference, median [min-max] over {args.rounds} rounds: time {spread(wall)} wall, '
                  f'{spread(cpu)} cpu; peak memory {spread(peak)}')


if __name__ == '__main__':
    main()
