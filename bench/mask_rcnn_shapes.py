"""Mask R-CNN trained from scratch on the generated shapes data set for a fixed CPU time budget, scored by COCO mask
(and box) mAP@[.5:.95] on the shapes validation split; the goal is a mask mAP of at least 0.6 in 10 minutes.

The config is `detnb::mask_rcnn/mask-rcnn_r18_fpn_shapes.py`. The budget covers the timing and the training (not
generating the data set, nor the validation). A few iterations of the real training loop are timed first (data
loading, hooks and the machine's load included), and the rest of the budget is turned into a number of iterations
so that the cosine schedule ends when the budget does; the run is then an iteration-based loop of that length,
stopped at the first iteration that ends past the budget if the machine got slower, and validated once at its end.
Printed: iterations, seconds per iteration, training and evaluation time, the box and mask mAP and the mask mAP's
ratio to the goal (>= 1 meets it), and the load average (other processes stretch the time per iteration).

    python bench/mask_rcnn_shapes.py                 # 10 minutes, torch's default threads
    python bench/mask_rcnn_shapes.py --minutes 3 --threads 1
"""
import argparse, contextlib, copy, io, os, sys, tempfile, time
from pathlib import Path

import torch
from _budget import budget_clock, seconds_per_iter

CONFIG, GOAL_SEGM_MAP = 'detnb::mask_rcnn/mask-rcnn_r18_fpn_shapes.py', 0.6
CALIBRATION_ITERS = 6
PLANNING_MARGIN = 1.1  # the loop ran ~7% slower than its timed iterations here: the schedule should end in time


def calibration_rate(cfg, work_dir: Path) -> float:
    "Wall seconds per iteration of the config's training loop (data loading and hooks included), after the first."
    short = copy.deepcopy(cfg)
    short.train_cfg = dict(type='IterBasedTrainLoop', max_iters=CALIBRATION_ITERS, val_interval=CALIBRATION_ITERS)
    short.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    short.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    short.work_dir = str(work_dir)
    return seconds_per_iter(short)


def iteration_schedule(cfg, iters: int) -> None:
    "Train for `iters` iterations (warm-up, then cosine decay to the end), validating once at the end (in place)."
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=min(100, iters // 5)),
        dict(type='CosineAnnealingLR', eta_min_ratio=0.05, by_epoch=False, begin=0, end=iters)]
    cfg.default_hooks.logger.interval = 50
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=iters, by_epoch=False)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--minutes', type=float, default=10., help='the training budget (default 10)')
    parser.add_argument('--threads', type=int, help="torch's CPU threads (default: torch decides)")
    parser.add_argument('--work-dir', help='keep the outputs here (default: a temporary folder, removed)')
    args = parser.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    from detnb.apis.quickstart import prepare_config, quiet_console
    from detnb.engine.runner import Runner
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix='detnb-bench-mask-rcnn-') as tmp:
        work = Path(args.work_dir or Path(tmp) / 'work')
        cfg, paths = prepare_config(CONFIG, work, data_root=Path('~/.cache/detnb').expanduser() / 'shapes-mask-rcnn')
        start = time.perf_counter()  # the budget: calibration and training (not generating the data, nor validation)
        deadline = start + args.minutes * 60
        with contextlib.redirect_stdout(io.StringIO()): rate = calibration_rate(cfg, work / 'calibration')
        iters = max(10, int((deadline - time.perf_counter()) / (rate * PLANNING_MARGIN)))
        iteration_schedule(cfg, iters)
        print(f'{CONFIG}: {rate:.2f} s per iteration of {cfg.train_dataloader.batch_size} images timed, '
              f'{iters} iterations planned in the {args.minutes:g} minutes, {torch.get_num_threads()} threads',
              flush=True)
        with contextlib.redirect_stdout(io.StringIO()): runner = Runner.from_cfg(cfg)
        quiet_console(runner.logger, sys.stdout)  # the log file keeps every line
        clock = budget_clock(deadline)
        runner.register_hook(clock)
        with contextlib.redirect_stdout(io.StringIO()):
            runner.train()
            if not clock.metrics: runner.val_loop.run()  # stopped at the deadline, before the planned validation
    train_seconds = clock.iter_times[-1] - start
    segm, bbox = clock.metrics.get('coco/segm_mAP', float('nan')), clock.metrics.get('coco/bbox_mAP', float('nan'))
    print(f'trained {len(clock.iter_times)} of {iters} iterations in {train_seconds:.0f} s (calibration included; '
          f'{(clock.iter_times[-1] - clock.iter_times[0]) / max(1, len(clock.iter_times) - 1):.2f} s per iteration'
          f'{", stopped at the budget" if clock.out_of_time else ""}), validated in {clock.val_seconds:.0f} s; '
          f'images seen: {len(clock.iter_times) * cfg.train_dataloader.batch_size}')
    print(f'mask mAP {segm:.3f} (goal {GOAL_SEGM_MAP}: ratio {segm / GOAL_SEGM_MAP:.2f}), box mAP {bbox:.3f}, '
          f'mask mAP50 {clock.metrics.get("coco/segm_mAP_50", float("nan")):.3f}')
    print(f'load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} (2 cores)')


if __name__ == '__main__':
    sys.exit(main())
