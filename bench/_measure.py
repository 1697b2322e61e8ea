"""The measuring that `dense_vs_torchvision.py` and `two_stage_vs_torchvision.py` share: one measurement's timed loop
and peak resident memory, and the two subprocesses of one measurement (timed with glibc's default allocator; memory
with `MALLOC_MMAP_THRESHOLD_=131072`, so that every large block is mapped on its own and returned on free, and the
peak follows the live tensors rather than what the allocator happened to keep; mapping every block costs page
faults, so that run is not timed). The sides of a comparison alternate, `repeats` times, as the machine may be
shared. Not a benchmark itself: the two scripts import it.
"""
import json, os, resource, statistics, subprocess, sys, time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]

def _status_mb(key: str) -> float | None:
    "A memory line of `/proc/self/status` in MB (Linux), or None elsewhere."
    try: return next(int(l.split()[1]) for l in Path('/proc/self/status').read_text().splitlines() if l.startswith(key)) / 1024
    except (OSError, StopIteration): return None

def reset_peak_rss() -> None:
    "Start the peak resident memory afresh (Linux); elsewhere the peak stays that of the whole process."
    try: Path('/proc/self/clear_refs').write_text('5')
    except OSError: pass

def rss_mb() -> float:
    "The current resident memory (Linux `VmRSS`; 0 elsewhere)."
    return _status_mb('VmRSS:') or 0.

def peak_rss_mb() -> float:
    "The peak resident memory since `reset_peak_rss` (Linux `VmHWM`), or of the whole process (`ru_maxrss`)."
    return _status_mb('VmHWM:') or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def run_steps(model: nn.Module, mode: str, infer: Callable, loss_fn: Callable, iters: int) -> tuple[dict, object]:
    """`mode='infer'`: `infer()` in eval mode without gradients; 'train': `loss_fn()`, backward and an SGD step in train
    mode. One warm-up iteration and `iters` timed ones, torch seeded before them (the RoI samplers draw alike in every
    run): the median seconds, the peak RSS of the iterations, the RSS before them, and the last step's output."""
    if mode == 'infer':
        model.eval()
        step, context = infer, torch.no_grad
    else:
        model.train()
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4, momentum=0.9)
        def step():
            loss = loss_fn()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        context = torch.enable_grad
    torch.manual_seed(0)
    times, out = [], None
    reset_peak_rss()
    baseline = rss_mb()  # the model built and loaded, the batch made
    with context():
        for i in range(iters + 1):
            start = time.perf_counter()
            out = step()
            if i: times.append(time.perf_counter() - start)
    return dict(seconds=statistics.median(times), max_rss_mb=peak_rss_mb(), baseline_mb=baseline), out

def child(script: str, args: list[str], env: dict) -> dict:
    "`script` with `args` in a fresh interpreter: the JSON object its last line prints."
    cmd = [sys.executable, script, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode: raise SystemExit(f'{" ".join(cmd)} failed:\n{out.stderr[-3000:]}')
    return json.loads(out.stdout.strip().splitlines()[-1])

def timed_and_peak(script: str, args: list[str], iters: int) -> tuple[dict, dict]:
    "One measurement's two children: `iters` timed iterations (default allocator), and one for the peak memory."
    env = {k: v for k, v in os.environ.items() if k != 'MALLOC_MMAP_THRESHOLD_'}
    timed = child(script, [*args, '--iters', str(iters)], env)
    peak = child(script, [*args, '--iters', '1'], {**env, 'MALLOC_MMAP_THRESHOLD_': '131072'})
    return timed, peak

def alternating(measure: Callable[[str], dict], repeats: int) -> dict[str, list[dict]]:
    "`measure(side)` for torchvision, then detnb, `repeats` times: every side's results."
    runs = {'torchvision': [], 'detnb': []}
    for _ in range(repeats):
        for side in runs: runs[side].append(measure(side))
    return runs
