"""Test-time augmentation on BCCD: COCO bbox mAP of the tutorial's FCOS on the 87 val images, without and with TTA.

The model is the BCCD tutorial's (`detnb::fcos/fcos_r18_fpn_gn-head_bccd.py`, nbs/tutorials/train_bccd.ipynb),
trained from scratch for a wall-clock budget, or loaded with `--checkpoint`. The budget buys the epochs that fit:
a few training iterations are timed first (after the first, which sets up), and the config's schedule is
compressed to that many epochs (as the tutorial compresses 24 epochs to 12, about 20 minutes on 2 busy cores).
The checkpoint is then tested twice through `detnb test`'s code (`detnb.test.test_config`, the runner,
`CocoMetric` on the ground truth the samples carry): with the config's test pipeline, and with `--tta`, where
`DetTTAModel` merges a `TestTimeAug` of 3 scales x 2 flips by class-wise NMS at the detector's own threshold.
Prints both mAPs and the difference (TTA minus plain).

    python bench/tta_bccd.py                          # train for 20 minutes, then test both ways
    python bench/tta_bccd.py --minutes 8 --threads 1  # a shorter run on a busy machine
    python bench/tta_bccd.py --checkpoint work_dirs/tta_bccd/epoch_12.pth
"""
import argparse, copy, math, sys, tempfile, time
from pathlib import Path

from _budget import seconds_per_iter
from detnb.apis.quickstart import compress_schedule
from detnb.config import Config
from detnb.engine.checkpoint import find_latest_checkpoint
from detnb.engine.runner import Runner
from detnb.registry import DATASETS
from detnb.test import add_test_arguments, test_config
from detnb.train import set_threads

CONFIG = 'detnb::fcos/fcos_r18_fpn_gn-head_bccd.py'
BCCD = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'bccd' / 'BCCD'  # the development data
TTA_SCALES = [320, 416, 512]  # square (w, h) bounds around the config's 416 (640 x 480 -> 416 x 312)
META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction', 'instances')
CALIBRATION_ITERS = 6


def bccd_config(data: Path, work_dir: Path, scales: list[int], flip: bool) -> Config:
    "The tutorial's config on this machine's data: CocoMetric on the samples' ground truth, a tta_model/pipeline."
    cfg = Config.fromfile(CONFIG)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'): cfg[key].dataset.data_root = f'{data}/'
    for step in cfg.test_dataloader.dataset.pipeline:  # CocoMetric(ann_file=None) reads each sample's `instances`
        if step['type'] == 'PackDetInputs': step['meta_keys'] = (*step['meta_keys'], 'instances')
    cfg.test_evaluator = dict(type='CocoMetric', ann_file=None, metric='bbox')
    cfg.tta_model = dict(type='DetTTAModel', tta_cfg=dict(nms=dict(cfg.model.test_cfg.nms), max_per_img=100))
    cfg.tta_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='TestTimeAug', transforms=[
            [dict(type='Resize', scale=(s, s), keep_ratio=True) for s in scales],
            [dict(type='RandomFlip', prob=p) for p in ((1.0, 0.0) if flip else (0.0,))],
            [dict(type='LoadAnnotations', with_bbox=True)],
            [dict(type='PackDetInputs', meta_keys=META_KEYS)]])]
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator'): cfg.pop(key, None)  # tested afterwards, both ways
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)  # the last epoch's checkpoint only
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=20)
    cfg.work_dir = str(work_dir)
    return cfg


def calibration_rate(cfg: Config, work_dir: Path) -> float:
    "Wall seconds per training iteration of `cfg`, timed on a few iterations of a one-epoch run after the first."
    short = compress_schedule(copy.deepcopy(cfg), 1)
    short.train_dataloader.dataset.indices = CALIBRATION_ITERS * short.train_dataloader.batch_size
    short.work_dir = str(work_dir)
    return seconds_per_iter(short)


def train(cfg: Config, minutes: float, work_dir: Path) -> tuple[Path, int, float]:
    "Train for the epochs that fit in `minutes`; the last checkpoint, the epochs and the minutes it took."
    rate = calibration_rate(cfg, work_dir / 'calibration')
    iters_per_epoch = math.ceil(len(DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset)))
                                / cfg.train_dataloader.batch_size)
    epochs = max(1, int(minutes * 60 / (rate * iters_per_epoch)))
    print(f'{rate:.2f} s/iteration, {iters_per_epoch} iterations/epoch: {epochs} epochs fit in {minutes:g} min',
          flush=True)
    runner = Runner.from_cfg(compress_schedule(cfg, epochs))
    start = time.perf_counter()
    runner.train()
    checkpoint = find_latest_checkpoint(work_dir)
    if checkpoint is None: raise FileNotFoundError(f'training saved no checkpoint in {work_dir}')
    return Path(checkpoint), epochs, (time.perf_counter() - start) / 60


def evaluate(config_file: Path, checkpoint: Path, work_dir: Path, tta: bool) -> tuple[dict, float]:
    "The COCO metrics of `detnb test CONFIG CHECKPOINT [--tta]`, and the minutes it took."
    parser = argparse.ArgumentParser()
    add_test_arguments(parser)
    argv = [str(config_file), str(checkpoint), '--work-dir', str(work_dir), *(['--tta'] if tta else [])]
    args = parser.parse_args(argv)
    start = time.perf_counter()
    metrics = Runner.from_cfg(test_config(args)).test()
    return metrics, (time.perf_counter() - start) / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--minutes', type=float, default=20,
                        help='training budget in wall-clock minutes (default 20: the tutorial\'s 12-epoch run)')
    parser.add_argument('--checkpoint', help='test this checkpoint instead of training')
    parser.add_argument('--data', default=str(BCCD), help=f'the BCCD folder (VOC layout; default {BCCD})')
    parser.add_argument('--threads', type=int, help="torch's CPU threads (default: the cores the load leaves free)")
    parser.add_argument('--work-dir', help='keep checkpoints and logs here (default: a temporary folder)')
    parser.add_argument('--scales', type=int, nargs='+', default=TTA_SCALES,
                        help=f'TTA: square bounds of the resized views (default {TTA_SCALES})')
    parser.add_argument('--no-flip', action='store_true', help='TTA: no horizontally flipped views')
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / 'ImageSets' / 'Main' / 'val.txt').is_file():
        sys.exit(f'tta_bccd: no BCCD data set at {data} (ImageSets/Main/val.txt is missing); give --data')
    threads = set_threads(args.threads)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix='detnb-bench-tta-bccd-'))
    cfg = bccd_config(data, work, args.scales, not args.no_flip)
    config_file = work / 'fcos_r18_bccd_tta.py'
    config_file.parent.mkdir(parents=True, exist_ok=True)
    cfg.dump(config_file)
    if args.checkpoint: checkpoint, trained = Path(args.checkpoint), f'checkpoint {args.checkpoint}'
    else:
        checkpoint, epochs, minutes = train(cfg, args.minutes, work)
        trained = f'trained from scratch: {epochs} epochs in {minutes:.1f} min (budget {args.minutes:g} min)'
    plain, plain_min = evaluate(config_file, checkpoint, work / 'test', tta=False)
    tta, tta_min = evaluate(config_file, checkpoint, work / 'test_tta', tta=True)
    print(f'\nFCOS R-18 on BCCD val (87 images), {threads} torch threads; {trained}')
    views = f"{len(args.scales)} scales {args.scales} x {'1 (no flip)' if args.no_flip else '2 flips'}"
    print(f'TTA: {views}, NMS IoU {cfg.tta_model.tta_cfg.nms.iou_threshold}')
    print(f"{'':>14} {'mAP':>7} {'mAP50':>7} {'mAP75':>7} {'mAP_s':>7} {'minutes':>8}")
    keys = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75', 'coco/bbox_mAP_s')
    for name, m, t in (('without TTA', plain, plain_min), ('with TTA', tta, tta_min)):
        print(f'{name:>14} ' + ' '.join(f'{m[k]:7.3f}' for k in keys) + f' {t:8.1f}')
    print(f"{'difference':>14} " + ' '.join(f'{tta[k] - plain[k]:+7.3f}' for k in keys))


if __name__ == '__main__':
    main()
