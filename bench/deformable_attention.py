"""Multi-scale deformable attention at DINO's sizes (4 levels of an 800 x 1333 image at strides 8-64: 22 223
positions, 8 heads of 32 channels, 4 points): forward + backward time and peak memory of the CPU path
(`multi_scale_deformable_attn`, which on the CPU is the `grid_sample` reference) against the reference, and of a
gather alternative (the four corners of every point through one `F.embedding_bag`) that was measured and not
taken; on a GPU, the CUDA kernel against the reference. Each measurement runs in a fresh process, so that peak
memory (max RSS on the CPU, torch's peak allocation on a GPU) is its own.

    python bench/deformable_attention.py [--device cuda] [--repeats 3] [--batch 1]
"""
import argparse, multiprocessing, resource, time
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


def measure(method, batch, queries, device, repeats, results):
    "Seconds per forward + backward (best of `repeats`) and the peak memory in MB above the inputs."
    value, shapes, start, loc, weights = inputs(batch, queries, device)
    run = METHODS[method]
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    if device == 'cuda': torch.cuda.reset_peak_memory_stats(); base = torch.cuda.max_memory_allocated()
    else: base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = []
    for _ in range(repeats):
        sync(); start_time = time.perf_counter()
        run(value, shapes, start, loc, weights).sum().backward()
        sync(); times.append(time.perf_counter() - start_time)
        value.grad = loc.grad = weights.grad = None
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if device == 'cuda' else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    results[method] = (min(times), peak)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--batch', type=int, default=1)
    args = parser.parse_args()
    context = multiprocessing.get_context('spawn')
    methods = ['reference', 'detnb path'] + (['gather'] if args.device == 'cpu' else [])
    for name, queries in [('encoder', sum(h * w for h, w in SHAPES)), ('decoder', 900)]:
        results = context.Manager().dict()
        for method in methods:
            p = context.Process(target=measure, args=(method, args.batch, queries, args.device, args.repeats, results))
            p.start(); p.join()
        ref_time, ref_mem = results['reference']
        print(f'{name}: batch {args.batch}, {queries} queries, {args.device}, {torch.get_num_threads()} threads')
        for method in methods:
            t, m = results[method]
            print(f'  {method:11s} {t * 1000:9.1f} ms  x{t / ref_time:5.2f}   '
                  f'peak {m:8.1f} MB  x{m / max(ref_mem, 1e-9):5.2f}')


if __name__ == '__main__':
    main()
