"""Mask R-CNN trained from scratch on the generated shapes data set for a fixed CPU time budget, scored by COCO mask
(and box) mAP@[.5:.95] on the shapes validation split; the goal is a mask mAP of at least 0.6 in 10 minutes.

The config is `detnb::mask_rcnn/mask-rcnn_r18_fpn_shapes.py`. The budget is turned into a number of iterations by
timing a few training steps first (the machine's speed, its load included), so that the cosine schedule ends when
the budget does; the run is then an iteration-based loop of that length, validated at its end. Printed: iterations,
seconds per iteration, training and evaluation time, the box and mask mAP and the mask mAP's ratio to the goal
(>= 1 meets it), and the load average (on a shared machine other processes stretch the time per iteration).

    python bench/mask_rcnn_shapes.py                 # 10 minutes, torch's default threads
    python bench/mask_rcnn_shapes.py --minutes 3 --threads 1
"""
import argparse, contextlib, io, os, sys, tempfile, time
from pathlib import Path

import torch

CONFIG, GOAL_SEGM_MAP = 'detnb::mask_rcnn/mask-rcnn_r18_fpn_shapes.py', 0.6


def seconds_per_iteration(cfg, steps: int = 4) -> float:
    "The time of one training step of the config's model on a batch of its training data (after one warm-up step)."
    from detnb.registry import DATASETS, MODELS
    from detnb.datasets.samplers import pseudo_collate
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(cfg.train_dataloader.batch_size)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        loss, _ = model.parse_losses(model(**model.data_preprocessor(batch, training=True), mode='loss'))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return sum(times[1:]) / steps


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
        start = time.perf_counter()
        cfg, paths = prepare_config(CONFIG, work, data_root=Path('~/.cache/detnb').expanduser() / 'shapes-mask-rcnn')
        per_iter = seconds_per_iteration(cfg)
        iters = max(10, int(args.minutes * 60 / per_iter))
        iteration_schedule(cfg, iters)
        print(f'{CONFIG}: {per_iter:.2f} s per iteration of {cfg.train_dataloader.batch_size} images measured, '
              f'{iters} iterations for {args.minutes:g} minutes, {torch.get_num_threads()} threads', flush=True)
        with contextlib.redirect_stdout(io.StringIO()): runner = Runner.from_cfg(cfg)
        quiet_console(runner.logger, sys.stdout)  # the log file keeps every line
        train_start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()): runner.train()
        total = time.perf_counter() - train_start
        hub = runner.message_hub  # the last validation's metrics
        metrics = {k[len('val/'):]: float(hub.get_scalar(k).current()) for k in hub.log_scalars if k.startswith('val/')}
    segm, bbox = metrics.get('coco/segm_mAP', float('nan')), metrics.get('coco/bbox_mAP', float('nan'))
    print(f'trained and validated in {total:.0f} s ({total / iters:.2f} s per iteration, data set and timing '
          f'{train_start - start:.0f} s before); images seen: {iters * cfg.train_dataloader.batch_size}')
    print(f'mask mAP {segm:.3f} (goal {GOAL_SEGM_MAP}: ratio {segm / GOAL_SEGM_MAP:.2f}), box mAP {bbox:.3f}, '
          f'mask mAP50 {metrics.get("coco/segm_mAP_50", float("nan")):.3f}')
    print(f'load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} (2 cores)')


if __name__ == '__main__':
    sys.exit(main())
