"""The model zoo on the user's path, offline: `init_detector` with a zoo name (its weights from a file placed in
a temporary `$DETNB_HOME` cache, or served on 127.0.0.1), checkpoint addresses in `init_detector` and in
`init_cfg`, strict loading and its `strict=False` form, and MMDetection's own config files read as written."""
from __future__ import annotations
import hashlib, shutil, socket, sys, warnings
from pathlib import Path
import pytest
import torch
from torch import nn

import detnb.apis.model_zoo as zoo
from detnb.apis.inference import init_detector
from detnb.apis.model_zoo import DETNB_HOME, checkpoint_path, checkpoint_url, model_zoo
from detnb.config import Config, check_types, missing_types
from detnb.datasets.class_names import get_classes
from detnb.registry import MODELS, WEIGHT_INITIALIZERS

MMDET_CONFIGS = Path('/work/venv-parity/lib/python3.11/site-packages/mmdet/.mim/configs')
RETINANET_FILES = ('retinanet/retinanet_r50_fpn_1x_coco.py', 'retinanet/retinanet_tta.py',
                   '_base_/models/retinanet_r50_fpn.py', '_base_/datasets/coco_detection.py',
                   '_base_/schedules/schedule_1x.py', '_base_/default_runtime.py')


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    "An empty detnb cache, where `$DETNB_HOME` points."
    monkeypatch.setenv(DETNB_HOME, str(tmp_path / 'home'))
    return tmp_path / 'home'


@pytest.fixture(scope='module')
def smallest() -> zoo.ZooEntry:
    "The zoo's detnb-config model of the fewest parameters (the cheapest to build and save)."
    return min((e for e in model_zoo().values() if e.config), key=lambda e: e.parameters)


@pytest.fixture(scope='module')
def published(smallest, tmp_path_factory) -> tuple[Path, dict]:
    "A stand-in for the published checkpoint of `smallest`: seeded weights of its config, COCO's classes in meta."
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(smallest.config).model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    path = tmp_path_factory.mktemp('published') / checkpoint_path(smallest.checkpoint).name
    torch.save(dict(state_dict=state, meta=dict(dataset_meta=dict(classes=get_classes('coco')))), path)
    return path, state


def same_state(model: nn.Module, state: dict) -> bool:
    "Whether `model` holds exactly the tensors of `state`."
    own = model.state_dict()
    return own.keys() == state.keys() and all(torch.equal(own[k], v) for k, v in state.items())


def test_zoo_name_loads_its_weights_from_the_cache(home, smallest, published):
    path, state = published
    place = checkpoint_path(smallest.checkpoint)
    assert place == home / 'checkpoints' / path.name
    place.parent.mkdir(parents=True)
    shutil.copy(path, place)
    model = init_detector(smallest.name, device='cpu')
    assert same_state(model, state) and not model.training
    assert model.dataset_meta['classes'] == get_classes('coco')
    assert model.cfg.filename.endswith(smallest.config.removeprefix('detnb::'))
    by_address = init_detector(smallest.config, f'mmdet://{smallest.name}')  # the same file, by address
    assert same_state(by_address, state)


def zoo_with_url(monkeypatch, name: str, url: str) -> None:
    "The zoo's table with the checkpoint of `name` moved to `url`."
    table = zoo._zoo_file()
    rows = [dict(row, checkpoint=url) if row['name'] == name else row for row in table['models']]
    monkeypatch.setattr(zoo, '_zoo_file', lambda: {**table, 'models': rows})


def test_zoo_name_downloads_checks_and_refuses(home, smallest, published, server, monkeypatch):
    path, state = published
    folder, base = server
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    good = f'{smallest.name}_20260101-{digest[:8]}.pth'
    shutil.copy(path, folder / good)
    zoo_with_url(monkeypatch, smallest.name, f'{base}/{good}')
    assert same_state(init_detector(smallest.name), state)
    assert (home / 'checkpoints' / good).is_file()
    bad = f'{smallest.name}_20260101-{"0" * 8 if digest[:8] != "0" * 8 else "1" * 8}.pth'
    shutil.copy(path, folder / bad)
    zoo_with_url(monkeypatch, smallest.name, f'{base}/{bad}')
    with pytest.raises(ValueError, match=f'{base}/{bad}: the downloaded file has SHA-256 {digest}'):
        init_detector(smallest.name)
    assert not (home / 'checkpoints' / bad).exists()


def test_offline_error_names_the_url_and_the_place(home, smallest, monkeypatch):
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        url = f'http://127.0.0.1:{s.getsockname()[1]}/{smallest.name}_20260101-0123abcd.pth'
    zoo_with_url(monkeypatch, smallest.name, url)
    place = home / 'checkpoints' / url.rsplit('/', 1)[-1]
    with pytest.raises(ConnectionError, match=f'could not download {url} .*put it at {place}'):
        init_detector(smallest.name)
    with pytest.raises(ConnectionError, match=f'could not download {url}'):
        init_detector(smallest.config, url)  # a URL given as the checkpoint takes the same way


def test_init_cfg_open_mmlab_address(home):
    source = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    nn.init.normal_(source[0].weight)
    place = checkpoint_path(checkpoint_url('open-mmlab://detectron2/resnet50_caffe'))
    assert place == home / 'checkpoints' / 'resnet50_msra-5891d200.pth'
    place.parent.mkdir(parents=True)
    torch.save(source.state_dict(), place)
    target = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    WEIGHT_INITIALIZERS.build(dict(type='Pretrained', checkpoint='open-mmlab://detectron2/resnet50_caffe'))(target)
    assert same_state(target, source.state_dict())
    with pytest.raises(KeyError, match='open-mmlab://nope: detnb knows the open-mmlab:// weights'):
        WEIGHT_INITIALIZERS.build(dict(type='Pretrained', checkpoint='open-mmlab://nope'))(target)


class ToyRoIHead(nn.Module):
    "A second-stage head: a linear classifier of `num_classes`, the way `head_num_classes` finds it."
    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes, self.fc_cls = num_classes, nn.Linear(4, num_classes + 1)


@pytest.fixture
def two_stage_toy():
    "A detector whose classes are counted in `roi_head`, not `bbox_head` (as in Faster R-CNN); unregistered after."
    @MODELS.register_module(force=True)
    class ZooWiringTwoStage(nn.Module):  # loaded and named, never run
        def __init__(self, num_classes: int = 80):
            super().__init__()
            self.backbone, self.roi_head = nn.Linear(2, 4), ToyRoIHead(num_classes)
    yield ZooWiringTwoStage
    MODELS.remove('ZooWiringTwoStage')


def test_fine_tuning_a_second_stage_head(tmp_path, two_stage_toy):
    coco = two_stage_toy(80)
    torch.save(dict(state_dict=coco.state_dict(), meta=dict(dataset_meta=dict(classes=get_classes('coco')))),
               tmp_path / 'coco.pth')
    cfg = Config(dict(model=dict(type='ZooWiringTwoStage', num_classes=3),
                      test_dataloader=dict(dataset=dict(metainfo=dict(classes=('a', 'b', 'c'))))))
    with pytest.raises(ValueError, match=r'2 keys of different shapes .*roi_head.fc_cls.weight: checkpoint \(81, 4\), '
                                         r'model \(4, 4\)'):
        init_detector(cfg, tmp_path / 'coco.pth')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        model = init_detector(cfg, tmp_path / 'coco.pth', strict=False)
    messages = [str(w.message) for w in caught]
    assert any('roi_head.fc_cls.bias: checkpoint (81,), model (4,)' in m for m in messages), messages
    assert any("names 80 classes, the model's head predicts 3" in m for m in messages), messages
    assert model.dataset_meta['classes'] == ('a', 'b', 'c')
    assert torch.equal(model.backbone.weight, coco.backbone.weight)


@pytest.fixture
def mmdet_retinanet(tmp_path) -> Path:
    "MMDetection's RetinaNet config and its bases, copied from the parity environment into a temporary folder."
    if not MMDET_CONFIGS.is_dir(): pytest.skip(f'MMDetection is not installed ({MMDET_CONFIGS} is missing)')
    for name in RETINANET_FILES:
        (tmp_path / 'configs' / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MMDET_CONFIGS / name, tmp_path / 'configs' / name)
    return tmp_path / 'configs' / RETINANET_FILES[0]


def test_mmdetection_retinanet_config_as_written(mmdet_retinanet):
    cfg = Config.fromfile(mmdet_retinanet)
    assert cfg.default_scope == 'mmdet'
    check_types(cfg)  # everything but the test-time augmentation exists in detnb
    assert missing_types(cfg, keys=('tta_model', 'tta_pipeline')) == {'DetTTAModel': ['tta_model']}
    model = MODELS.build(cfg.model)
    shipped = MODELS.build(Config.fromfile('detnb::retinanet/retinanet_r50_fpn_1x_coco.py').model)
    assert list(model.state_dict()) == list(shipped.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # classes from the config's CocoDataset: nothing to warn about
        detector = init_detector(cfg)
    assert detector.dataset_meta['classes'] == get_classes('coco')
    scoped = mmdet_retinanet.with_name('scoped.py')
    scoped.write_text("_base_ = './retinanet_r50_fpn_1x_coco.py'\n"
                      "model = dict(type='mmdet.RetinaNet', neck=dict(type='mmdet.FPN'),\n"
                      "             backbone=dict(type='mmpretrain.ResNet'), bbox_head=dict(type='RetinaHeadd'))\n")
    with pytest.raises(KeyError, match=r"scoped.py names 2 types that detnb does not have: 'mmpretrain.ResNet' at "
                                       r"model.backbone \(did you mean 'ResNet'\?\); 'RetinaHeadd' at model.bbox_head"):
        init_detector(scoped)


@pytest.fixture
def custom_module(tmp_path, monkeypatch):
    "A module `zoo_wiring_custom` on the path that registers the model type `ZooWiringNeck`; unregistered after."
    (tmp_path / 'zoo_wiring_custom.py').write_text(
        'from torch import nn\nfrom detnb.registry import MODELS\n\n'
        '@MODELS.register_module()\nclass ZooWiringNeck(nn.Identity):\n    "A neck that returns its input."\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield 'zoo_wiring_custom'
    MODELS.remove('ZooWiringNeck')
    sys.modules.pop('zoo_wiring_custom', None)


def test_hand_written_mmdetection_config(tmp_path, custom_module):
    text = f"""
default_scope = 'mmdet'
custom_imports = dict(imports=[{custom_module!r}], allow_failed_imports=False)
model = dict(type='mmdet.RetinaNet',
             data_preprocessor=dict(type='mmdet.DetDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1]),
             backbone=dict(type='mmdet.ResNet', depth=18, out_indices=(1, 2, 3), init_cfg=None),
             neck=dict(type='{{neck}}'),
             bbox_head=dict(type='mmdet.RetinaHead', num_classes=2, in_channels=128, feat_channels=16,
                            stacked_convs=1,
                            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=1,
                                                  ratios=[1.0], strides=[8, 16, 32]),
                            bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
                            loss_cls=dict(type='mmdet.FocalLoss'), loss_bbox=dict(type='mmdet.L1Loss')),
             test_cfg=dict(nms=dict(type='nms', iou_threshold=0.5)))
param_scheduler = [dict(type='mmengine.LinearLR', start_factor=0.1), dict(type='mmengine.CosineLR')]
"""
    (tmp_path / 'unknown.py').write_text(text.replace('{neck}', 'mmdet.NoSuchNeck'))
    cfg = Config.fromfile(tmp_path / 'unknown.py')
    assert (cfg.model.type, cfg.model.backbone.type, cfg.param_scheduler[0].type) == ('RetinaNet', 'ResNet', 'LinearLR')
    with pytest.raises(KeyError, match=r"unknown.py names 2 types that detnb does not have: 'NoSuchNeck' at "
                                       r"model.neck; 'CosineLR' at param_scheduler.1 \(did you mean"):
        check_types(cfg)
    (tmp_path / 'custom.py').write_text(text.replace('{neck}', 'ZooWiringNeck').replace(
        "dict(type='mmengine.CosineLR')", "dict(type='mmengine.CosineAnnealingLR', T_max=10)"))
    cfg = Config.fromfile(tmp_path / 'custom.py')
    check_types(cfg)  # imports the custom module, which registers the neck
    model = MODELS.build(cfg.model)
    assert type(model.neck).__name__ == 'ZooWiringNeck'
    with pytest.warns(UserWarning, match='no class names in the checkpoint or the config: naming the 2 classes'):
        assert init_detector(cfg).dataset_meta['classes'] == ('0', '1')
