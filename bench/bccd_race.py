"""The BCCD race: a detnb config trained from scratch for a fixed wall-clock budget, scored with COCO mAP on BCCD val;
with `--with-ultralytics`, Ultralytics' YOLOv8n under the same budget in the same run, and the ratio.

The goal (issue 13): detnb's best efficient config reaches COCO mAP@[.5:.95] >= 0.63 on the 87 val images after 20
minutes of training from random weights on 2 CPU threads at 416 px (YOLOv8n, measured the same way, reached 0.573).

detnb side (`--config`, default `detnb::rtmdet/rtmdet_tiny_bccd.py`): a few training iterations are timed first
(after the first, which sets up), and the config's epoch schedule is fitted to the epochs that the rest of the
budget buys by `detnb.apis.quickstart.compress_schedule`: epoch-based learning-rate phases and the stage-2 switch
(`PipelineSwitchHook`, which keeps at least the last epoch; `YOLOXModeSwitchHook`) scale with it, the warm-up (in
iterations) stays, and validation waits for the last epoch. Training stops at the first iteration
that ends past the budget (a busier machine than the timed iterations saw; at least one iteration runs), as
Ultralytics' `time=` does. The model is then validated once with `CocoMetric` (pycocotools' COCOeval) on the
ground truth that the samples carry, with the EMA weights when the config keeps an EMA.

Ultralytics side (optional; `pip install ultralytics`): BCCD converted to YOLO's layout in a temporary folder (the
images linked, not copied), `YOLO('yolov8n.yaml')` (no pretrained weights) trained with its defaults but for batch
8, 416 px, `time=` the same budget (Ultralytics re-fits its epochs to the time after each epoch and stops at it)
and validation only at the end; `torch` threads as on the detnb side (Ultralytics would otherwise take
cpu_count - 1). Its last weights (EMA) predict the val images (conf 0.001, NMS IoU 0.7, 100 per image), scored by
the same `CocoMetric` against the same ground truth. Offline it needs YOLO_OFFLINE=1 (set here) and an `Arial.ttf`
in its settings folder: the script copies a TrueType font there when one is missing.

Each side trains in its own fresh interpreter, one after the other (both cannot share 2 cores); the load average
is printed before and after each, since other processes' load shrinks what a wall-clock budget buys.

    python bench/bccd_race.py                              # detnb's RTMDet-tiny BCCD config, 20 minutes
    python bench/bccd_race.py --minutes 3 --with-ultralytics
    python bench/bccd_race.py --config detnb::yolox/yolox_tiny_bccd.py
"""
import argparse, copy, json, math, os, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path

from _budget import BudgetedLoader, budget_clock, seconds_per_iter

ROOT = Path(__file__).resolve().parents[1]
BCCD = ROOT.parent / 'shared' / 'data' / 'bccd' / 'BCCD'  # the development data
CONFIG = 'detnb::rtmdet/rtmdet_tiny_bccd.py'
GOAL_MAP = 0.63
CALIBRATION_ITERS = 4
CLASSES = ('RBC', 'WBC', 'Platelets')
KEYS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75', 'coco/bbox_mAP_s', 'coco/bbox_mAP_m')


def loadavg() -> str: return '/'.join(f'{v:.2f}' for v in os.getloadavg())


# ---------------------------------------------------------------- detnb
def race_config(config: str, data: Path, work_dir: Path):
    "`config` on this machine's BCCD, validated by CocoMetric (pycocotools) on the samples' own ground truth."
    from detnb.config import Config
    cfg = Config.fromfile(config)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[key].dataset
        while 'dataset' in dataset: dataset = dataset.dataset  # MultiImageMixDataset and other wrappers
        dataset.data_root = f'{data}/'
    for step in cfg.val_dataloader.dataset.pipeline:  # CocoMetric(ann_file=None) reads each sample's `instances`
        if step['type'] == 'PackDetInputs' and 'instances' not in step['meta_keys']:
            step['meta_keys'] = (*step['meta_keys'], 'instances')
    cfg.val_evaluator = dict(type='CocoMetric', ann_file=None, metric='bbox', classwise=True, backend='pycocotools')
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)  # the last epoch's checkpoint only
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10)
    cfg.work_dir = str(work_dir)
    return cfg


def fit_schedule(cfg, epochs: int):
    "`cfg` compressed to `epochs` epochs by `compress_schedule`, validated at the last epoch only (in place)."
    from detnb.apis.quickstart import compress_schedule
    compress_schedule(cfg, epochs)  # the stage-2 switch lands at epochs - 1 at the latest: stage 2 keeps an epoch
    cfg.train_cfg.pop('dynamic_intervals', None)
    cfg.train_cfg.val_interval = epochs
    return cfg


def calibration_rate(cfg, work_dir: Path) -> float:
    "Wall seconds per training iteration of `cfg`, timed on a few iterations of a one-epoch run after the first."
    short = fit_schedule(copy.deepcopy(cfg), 1)
    dataset = short.train_dataloader.dataset
    while 'dataset' in dataset: dataset = dataset.dataset
    dataset.indices = CALIBRATION_ITERS * short.train_dataloader.batch_size
    short.custom_hooks = [h for h in short.get('custom_hooks') or [] if h['type'] != 'PipelineSwitchHook']
    short.work_dir = str(work_dir)
    return seconds_per_iter(short)


def run_detnb(args) -> dict:
    "Train `args.config` for the budget, validate; the figures as a dict."
    from detnb.engine.runner import Runner
    from detnb.registry import DATASETS
    from detnb.train import set_threads
    start = time.perf_counter()
    deadline = start + args.minutes * 60
    threads = set_threads(args.threads)
    work = Path(args.work_dir)
    cfg = race_config(args.config, Path(args.data), work)
    rate = calibration_rate(cfg, work / 'calibration')
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    iters_per_epoch = math.ceil(len(DATASETS.build(dataset_cfg)) / cfg.train_dataloader.batch_size)
    left = deadline - time.perf_counter()
    epochs = max(1, int(left / (rate * iters_per_epoch)))
    print(f'detnb: {rate:.2f} s/iteration, {iters_per_epoch} iterations/epoch: {epochs} of the config\'s '
          f'{cfg.train_cfg.max_epochs} epochs fit in the {left / 60:.1f} min left of {args.minutes:g}', flush=True)
    fit_schedule(cfg, epochs)
    runner = Runner.from_cfg(cfg)
    clock = budget_clock(deadline)
    runner.register_hook(clock)
    runner.train_loop.dataloader = BudgetedLoader(runner.train_loop.dataloader, clock)
    train_start = time.perf_counter()
    runner.train()
    if not clock.metrics: runner.val_loop.run()  # stopped before the last epoch's validation (EMA weights swapped in)
    train_minutes = (time.perf_counter() - start - clock.val_seconds) / 60  # calibration included
    times = clock.iter_times
    return dict(side='detnb', config=args.config, threads=threads, epochs=len(times) / iters_per_epoch,
                planned_epochs=epochs, stopped_early=clock.out_of_time, iters=len(times), calibration_s_per_iter=rate,
                s_per_iter=(times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else rate,
                train_minutes=train_minutes, loop_minutes=(time.perf_counter() - train_start - clock.val_seconds) / 60,
                val_minutes=clock.val_seconds / 60, metrics=clock.metrics)


# ---------------------------------------------------------------- Ultralytics
def bccd_records(data: Path, split: str) -> list[dict]:
    "detnb's VOCDataset entries of a BCCD split: image path and size, boxes and labels (zero-size boxes removed)."
    from detnb.registry import DATASETS
    dataset = DATASETS.build(dict(type='VOCDataset', data_root=f'{data}/', ann_file=f'ImageSets/Main/{split}.txt',
                                  data_prefix=dict(sub_data_root=''), metainfo=dict(classes=CLASSES),
                                  test_mode=split != 'train', pipeline=[]))
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def yolo_dataset(data: Path, folder: Path) -> Path:
    "BCCD in YOLO's layout under `folder` (images linked, labels as normalized cx cy w h); the data yaml."
    for split in ('train', 'val'):
        (folder / 'images' / split).mkdir(parents=True, exist_ok=True)
        (folder / 'labels' / split).mkdir(parents=True, exist_ok=True)
        for rec in bccd_records(data, split):
            name = Path(rec['img_path']).name
            (folder / 'images' / split / name).symlink_to(rec['img_path'])
            lines = []
            for inst in rec['instances']:
                x1, y1, x2, y2 = inst['bbox']
                if x2 <= x1 or y2 <= y1: continue
                w, h = rec['width'], rec['height']
                lines.append(f"{inst['bbox_label']} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                             f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
            (folder / 'labels' / split / name).with_suffix('.txt').write_text('\n'.join(lines) + '\n')
    yaml = folder / 'bccd.yaml'
    yaml.write_text(f'path: {folder}\ntrain: images/train\nval: images/val\n'
                    f'names:\n' + ''.join(f'  {i}: {c}\n' for i, c in enumerate(CLASSES)))
    return yaml


def offline_font() -> None:
    "Ultralytics draws with Arial.ttf from its settings folder and downloads it when missing: put a local TTF there."
    from ultralytics.utils import USER_CONFIG_DIR
    target = Path(USER_CONFIG_DIR) / 'Arial.ttf'
    if target.exists(): return
    fonts = sorted(Path('/usr/share/fonts').rglob('*.ttf'))
    if not fonts: sys.exit('bccd_race: Ultralytics needs Arial.ttf offline; no TrueType font is under /usr/share/fonts')
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(fonts[0], target)


def coco_metrics(data: Path, predict) -> dict:
    "CocoMetric (pycocotools) over BCCD val, the boxes of `predict(img_path) -> (xyxy, scores, labels)` as predictions."
    import numpy as np
    from detnb.evaluation.coco import CocoMetric
    metric = CocoMetric(ann_file=None, metric='bbox', classwise=True, backend='pycocotools')
    metric.dataset_meta = dict(classes=CLASSES)
    for rec in bccd_records(data, 'val'):
        bboxes, scores, labels = predict(rec['img_path'])
        instances = [dict(bbox=i['bbox'], bbox_label=i['bbox_label'], ignore_flag=i.get('ignore_flag', 0))
                     for i in rec['instances']]
        metric.process(None, [dict(img_id=rec['img_id'], ori_shape=(rec['height'], rec['width']), instances=instances,
                                   pred_instances=dict(bboxes=np.asarray(bboxes, np.float32).reshape(-1, 4),
                                                       scores=np.asarray(scores, np.float32),
                                                       labels=np.asarray(labels, np.int64)))])
    return {f'coco/{k}': v for k, v in metric.compute_metrics(metric.results).items()}


def run_ultralytics(args) -> dict:
    "Train YOLOv8n from yolov8n.yaml for the budget and score its last (EMA) weights on BCCD val."
    os.environ.setdefault('YOLO_OFFLINE', '1')
    os.environ.setdefault('YOLO_AUTOINSTALL', '0')
    import torch
    import ultralytics
    from ultralytics import YOLO
    import ultralytics.utils.torch_utils as torch_utils
    offline_font()
    threads = args.threads or 2
    torch_utils.NUM_THREADS = threads  # select_device() sets torch's threads to this (cpu_count - 1 by default)
    torch.set_num_threads(threads)
    work = Path(args.work_dir)
    yaml = yolo_dataset(Path(args.data), work / 'bccd_yolo')
    model = YOLO('yolov8n.yaml')
    start = time.perf_counter()
    # its training time includes its own validation of the last epoch and of best.pt (val=False skips the others)
    model.train(data=str(yaml), imgsz=args.imgsz, batch=8, epochs=1000, time=args.minutes / 60, device='cpu',
                pretrained=False, amp=False, val=False, plots=False, project=str(work), name='yolov8n', exist_ok=True,
                verbose=False)
    train_minutes = (time.perf_counter() - start) / 60
    trainer = model.trainer
    weights = Path(trainer.save_dir) / 'weights' / 'last.pt'
    best = YOLO(str(weights))
    def predict(path: str):
        r = best.predict(path, imgsz=args.imgsz, conf=0.001, iou=0.7, max_det=100, device='cpu', verbose=False)[0]
        return r.boxes.xyxy.numpy(), r.boxes.conf.numpy(), r.boxes.cls.numpy().astype(int)
    val_start = time.perf_counter()
    metrics = coco_metrics(Path(args.data), predict)
    return dict(side='ultralytics', version=ultralytics.__version__, model='yolov8n.yaml (no pretrained weights)',
                threads=torch.get_num_threads(), epochs=trainer.epoch + 1, planned_epochs=trainer.epochs,
                train_minutes=train_minutes, val_minutes=(time.perf_counter() - val_start) / 60, metrics=metrics)


# ---------------------------------------------------------------- the race
def child(side: str, args, work: Path) -> tuple[dict, str, str]:
    "Run one side in a fresh interpreter; its figures, and the load average before and after."
    out = work / f'{side}.json'
    cmd = [sys.executable, __file__, '--side', side, '--minutes', str(args.minutes), '--config', args.config,
           '--data', args.data, '--work-dir', str(work / side), '--result', str(out), '--imgsz', str(args.imgsz)]
    if args.threads: cmd += ['--threads', str(args.threads)]
    before = loadavg()
    proc = subprocess.run(cmd, capture_output=not args.verbose, text=True)
    after = loadavg()
    if proc.returncode != 0:
        tail = '' if args.verbose else f'\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
        sys.exit(f'bccd_race: the {side} side failed ({proc.returncode}){tail}')
    return json.loads(out.read_text()), before, after


def report(result: dict, before: str, after: str) -> None:
    m = result['metrics']
    name = result['config'] if result['side'] == 'detnb' else f"Ultralytics {result['version']} {result['model']}"
    early = ', stopped at the budget' if result.get('stopped_early') else ''
    rate = (f", {result['iters']} iterations, {result['s_per_iter']:.2f} s/iteration (timed before: "
            f"{result['calibration_s_per_iter']:.2f})" if 'iters' in result else '')
    print(f"{name}: {result['epochs']:.4g} epochs (planned {result['planned_epochs']}{early}){rate}, "
          f"{result['threads']} torch threads")
    print(f"  training {result['train_minutes']:.1f} min, validation {result['val_minutes']:.1f} min; "
          f"peak RSS {result['peak_rss_mb']:.0f} MiB; load average (1/5/15 min) {before} before, {after} after")
    print('  ' + ' '.join(f"{k.split('/')[-1]:>11}" for k in KEYS) + ''.join(f' {c:>9}' for c in CLASSES))
    print('  ' + ' '.join(f'{m[k]:11.3f}' for k in KEYS)
          + ''.join(f" {m.get(f'coco/bbox_{c}_precision', float('nan')):9.3f}" for c in CLASSES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=CONFIG, help=f'the detnb config (default {CONFIG})')
    parser.add_argument('--minutes', type=float, default=20, help='training budget in wall-clock minutes (default 20)')
    parser.add_argument('--threads', type=int, default=2, help="torch's CPU threads on both sides (default 2)")
    parser.add_argument('--imgsz', type=int, default=416, help="Ultralytics' image size (default 416: the config's)")
    parser.add_argument('--with-ultralytics', action='store_true', help='also train YOLOv8n under the same budget')
    parser.add_argument('--data', default=str(BCCD), help=f'the BCCD folder (VOC layout; default {BCCD})')
    parser.add_argument('--work-dir', help='keep checkpoints and logs here (default: a temporary folder, removed)')
    parser.add_argument('--verbose', action='store_true', help="show the sides' training logs")
    parser.add_argument('--side', choices=['detnb', 'ultralytics'], help=argparse.SUPPRESS)  # the child's work
    parser.add_argument('--result', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (Path(args.data) / 'ImageSets' / 'Main' / 'val.txt').is_file():
        sys.exit(f'bccd_race: no BCCD data set at {args.data} (ImageSets/Main/val.txt is missing); give --data')
    if args.side:
        result = run_detnb(args) if args.side == 'detnb' else run_ultralytics(args)
        result['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        Path(args.result).write_text(json.dumps(result))
        return
    if args.with_ultralytics:
        try: import ultralytics  # noqa: F401
        except ImportError: sys.exit('bccd_race: --with-ultralytics needs `pip install ultralytics`')
    with tempfile.TemporaryDirectory(prefix='detnb-bench-bccd-race-') as tmp:
        work = Path(args.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f'BCCD race: {args.minutes:g} min of training from scratch per side, {args.threads} threads, '
              f'{os.cpu_count()} CPUs; val = 87 images, COCO metrics by pycocotools', flush=True)
        ours = child('detnb', args, work)
        theirs = child('ultralytics', args, work) if args.with_ultralytics else None
    print()
    report(*ours)
    mine = ours[0]['metrics']['coco/bbox_mAP']
    if theirs:
        report(*theirs)
        other = theirs[0]['metrics']
        print(f"detnb / YOLOv8n: mAP {mine / max(other['coco/bbox_mAP'], 1e-9):.2f}, "
              f"mAP50 {ours[0]['metrics']['coco/bbox_mAP_50'] / max(other['coco/bbox_mAP_50'], 1e-9):.2f} "
              '(>= 1: detnb ahead)')
    print(f'detnb mAP / goal {GOAL_MAP} = {mine / GOAL_MAP:.2f} (>= 1 meets it; the goal is for a 20-minute budget)')


if __name__ == '__main__':
    main()
