"""Images per second of a RetinaNet-style training data pipeline on BCCD: detnb against torchvision v2.

Both sides do the same work per image of BCCD's train split (640x480 JPEGs, Pascal VOC boxes):

- detnb: `LoadImageFromFile`, `LoadAnnotations(with_bbox=True)`, `Resize(scale=(416, 416), keep_ratio=True)`,
  `RandomFlip(prob=0.5)`, `PackDetInputs`, then collate into lists (MMDetection's pipeline, as configs write it);
- torchvision: `read_file` + `decode_jpeg`, boxes as `tv_tensors.BoundingBoxes`, `v2.Resize(size=None,
  max_size=416)` (the same 416x312 output), `v2.RandomHorizontalFlip(0.5)`, then collate into lists.

The annotations are parsed from the VOC xml once, before timing, for both. Each configuration runs one
warm-up epoch, then is timed over `--epochs` epochs, with `torch.utils.data.DataLoader` at 0 and 2 workers;
the two libraries' epochs alternate, so that a change of machine load affects both alike.
Each line prints images/s and the ratio detnb / torchvision (> 1: detnb is faster); the goal is >= 1.0.

    python bench/data_pipeline.py                 # 0 and 2 workers, 3 timed epochs
    python bench/data_pipeline.py --epochs 1 --workers 0
"""
import argparse, time
import xml.etree.ElementTree as ET
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.io import decode_jpeg, read_file
from torchvision.transforms import v2

from detnb.datasets.transforms.loading import Compose

ROOT = Path(__file__).resolve().parents[1]
BCCD = ROOT.parent / 'shared' / 'data' / 'bccd' / 'BCCD'
CLASSES = ('RBC', 'WBC', 'Platelets')


def read_voc(split: str = 'train') -> list[dict]:
    "BCCD's `split` as middle-format entries (boxes as VOC writes them, `difficult` -> ignore)."
    entries = []
    for name in (BCCD / 'ImageSets' / 'Main' / f'{split}.txt').read_text().split():
        root = ET.parse(BCCD / 'Annotations' / f'{name}.xml').getroot()
        size = root.find('size')
        instances = [dict(bbox=[float(o.find('bndbox').find(k).text) for k in ('xmin', 'ymin', 'xmax', 'ymax')],
                          bbox_label=CLASSES.index(o.find('name').text.strip()),
                          ignore_flag=int(getattr(o.find('difficult'), 'text', 0) or 0))
                     for o in root.iter('object')]
        entries.append(dict(img_path=str(BCCD / 'JPEGImages' / f'{name}.jpg'), img_id=name, instances=instances,
                            height=int(size.find('height').text), width=int(size.find('width').text)))
    return entries


class PipelineDataset(Dataset):
    "Entries through a detnb pipeline (each sample gets a fresh copy of its entry)."
    def __init__(self, entries: list[dict], pipeline: list[dict]):
        self.entries, self.pipeline = entries, Compose(pipeline)
    def __len__(self) -> int: return len(self.entries)
    def __getitem__(self, i: int) -> dict: return self.pipeline(dict(self.entries[i]))


def collate(batch: list[dict]) -> dict:
    "The contract's collate: lists of image tensors and of `DetDataSample`."
    return dict(inputs=[b['inputs'] for b in batch], data_samples=[b['data_samples'] for b in batch])


class TorchvisionDataset(Dataset):
    "The same samples, decoded and transformed with torchvision v2."
    def __init__(self, entries: list[dict]):
        self.entries = entries
        self.transforms = v2.Compose([v2.Resize(size=None, max_size=416), v2.RandomHorizontalFlip(0.5)])
    def __len__(self) -> int: return len(self.entries)
    def __getitem__(self, i: int):
        entry = self.entries[i]
        img = tv_tensors.Image(decode_jpeg(read_file(entry['img_path'])))
        instances = entry['instances']
        boxes = tv_tensors.BoundingBoxes(
            torch.tensor([inst['bbox'] for inst in instances], dtype=torch.float32).reshape(-1, 4),
            format='XYXY',
            canvas_size=img.shape[-2:],
        )
        target = dict(boxes=boxes, labels=torch.tensor([inst['bbox_label'] for inst in instances], dtype=torch.int64))
        return self.transforms(img, target)


def tv_collate(batch: list) -> tuple[list, list]:
    return [img for img, _ in batch], [target for _, target in batch]


def make_loader(dataset: Dataset, collate_fn, workers: int, batch_size: int) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, collate_fn=collate_fn,
                      persistent_workers=workers > 0)


def epoch_seconds(loader: DataLoader) -> float:
    "Seconds to run through one epoch of `loader`."
    start = time.perf_counter()
    for _ in loader: pass
    return time.perf_counter() - start


def compare(loaders: dict, epochs: int) -> dict:
    "Images/s of each loader: a warm-up epoch each, then timed epochs in turns, so that load drift hits all alike."
    for loader in loaders.values(): epoch_seconds(loader)  # warm-up: starts the workers, fills the page cache
    seconds = dict.fromkeys(loaders, 0.0)
    for _ in range(epochs):
        for name, loader in loaders.items(): seconds[name] += epoch_seconds(loader)
    return {name: epochs * len(loader.dataset) / seconds[name] for name, loader in loaders.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=3, help='timed epochs per configuration')
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 2], help='DataLoader worker counts')
    parser.add_argument('--batch-size', type=int, default=2)
    args = parser.parse_args()
    if not BCCD.is_dir(): raise SystemExit(f'BCCD not found at {BCCD}: this benchmark needs the development data')

    entries = read_voc('train')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                dict(type='Resize', scale=(416, 416), keep_ratio=True), dict(type='RandomFlip', prob=0.5),
                dict(type='PackDetInputs')]
    sample = PipelineDataset(entries, pipeline)[0]
    tv_img, tv_target = TorchvisionDataset(entries)[0]
    assert tuple(sample['inputs'].shape) == tuple(tv_img.shape) == (3, 312, 416), (sample['inputs'].shape, tv_img.shape)
    print(f'BCCD train: {len(entries)} images, {sum(len(e["instances"]) for e in entries)} boxes; '
          f'output {tuple(sample["inputs"].shape)}; torch threads {torch.get_num_threads()}, '
          f'batch size {args.batch_size}, {args.epochs} timed epochs')
    print(f'{"workers":>7}  {"detnb img/s":>11}  {"torchvision img/s":>17}  {"ratio":>6}  goal')
    for workers in args.workers:
        speed = compare(
            dict(
                detnb=make_loader(PipelineDataset(entries, pipeline), collate, workers, args.batch_size),
                torchvision=make_loader(TorchvisionDataset(entries), tv_collate, workers, args.batch_size),
            ),
            args.epochs,
        )
        ours, ref = speed['detnb'], speed['torchvision']
        verdict = 'met' if ours >= ref else 'NOT met'
        print(f'{workers:>7}  {ours:>11.1f}  {ref:>17.1f}  {ours / ref:>5.2f}x  >= 1.0x {verdict}')


if __name__ == '__main__':
    main()
