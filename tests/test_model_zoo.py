"""The model zoo as a user meets it, offline: `detnb download` and `detnb list-models` through their argument
parsers, a local HTTP server on 127.0.0.1 standing in for download.openmmlab.com, `$DETNB_HOME` moving the cache,
files placed in the cache by hand, and an MMDetection-style checkpoint whose meta holds an object of a class
defined here, which must be reported and never run."""
from __future__ import annotations
import argparse, hashlib, shutil, socket, warnings
from pathlib import Path
import pytest
import torch
from torch import nn

from detnb.apis.model_zoo import (DETNB_HOME, add_download_arguments, add_list_models_arguments, checkpoint_url,
                                  load_mmdet_checkpoint, model_zoo, resolve_checkpoint, run_download, run_list_models)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    "An empty detnb cache, where `$DETNB_HOME` points."
    monkeypatch.setenv(DETNB_HOME, str(tmp_path / 'home'))
    return tmp_path / 'home'


def closed_port_url(name: str) -> str:
    "A URL of 127.0.0.1 at a port where nothing listens."
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return f'http://127.0.0.1:{s.getsockname()[1]}/{name}'


def parse(add_arguments, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_download_into_detnb_home(home, server, capsys):
    folder, base = server
    payload = bytes(range(256)) * 4096  # 1 MiB
    name = f'model_20260101_120000-{hashlib.sha256(payload).hexdigest()[:8]}.pth'
    (folder / name).write_bytes(payload)
    assert run_download(parse(add_download_arguments, f'{base}/{name}')) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(home / 'checkpoints' / name)
    assert (home / 'checkpoints' / name).read_bytes() == payload
    assert '1/1' in err  # the progress bar, on stderr
    (folder / name).unlink()  # from now on only the cache has it
    assert run_download(parse(add_download_arguments, f'{base}/{name}')) == 0
    assert capsys.readouterr().out.strip() == str(home / 'checkpoints' / name)


def test_checksum_mismatch_keeps_nothing(home, server):
    folder, base = server
    (folder / 'model-0123abcd.pth').write_bytes(b'not the published weights')
    actual = hashlib.sha256(b'not the published weights').hexdigest()
    with pytest.raises(ValueError, match=f'SHA-256 {actual}, which does not begin with 0123abcd'):
        run_download(parse(add_download_arguments, f'{base}/model-0123abcd.pth'))
    assert list((home / 'checkpoints').iterdir()) == []


def test_offline_error_names_url_and_place(home):
    url = closed_port_url('retinanet_r50_fpn_1x_coco_20200130-c2398f9e.pth')
    with pytest.raises(ConnectionError) as error:
        run_download(parse(add_download_arguments, url))
    assert f'could not download {url}' in str(error.value)
    assert f'put it at {home / "checkpoints" / "retinanet_r50_fpn_1x_coco_20200130-c2398f9e.pth"}' in str(error.value)


def test_file_placed_by_hand_resolves_without_network(home):
    entry = model_zoo()['retinanet_r50_fpn_1x_coco']
    placed = home / 'checkpoints' / entry.checkpoint.rsplit('/', 1)[-1]
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b'placed by hand')
    for address in ('retinanet_r50_fpn_1x_coco', 'mmdet://retinanet_r50_fpn_1x_coco', entry.checkpoint):
        assert resolve_checkpoint(address) == placed
    other = home / 'checkpoints' / checkpoint_url('open-mmlab://detectron2/resnet50_caffe').rsplit('/', 1)[-1]
    shutil.copy(placed, other)
    assert resolve_checkpoint('open-mmlab://detectron2/resnet50_caffe') == other


def test_list_models(capsys):
    assert run_list_models(parse(add_list_models_arguments, 'retinanet')) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ['name', 'box', 'AP', 'params', 'verified', 'source']
    assert [line.split() for line in lines[1:]] == [['retinanet_r50_fpn_1x_coco', '36.5', '38.0M', 'no', 'mmdet'],
                                                    ['retinanet_resnet50_fpn.COCO_V1', '36.4', '34.0M', 'no',
                                                     'torchvision']]
    assert run_list_models(parse(add_list_models_arguments, 'centernet')) == 1
    assert "no model of the zoo contains 'centernet'" in capsys.readouterr().err


class PluginState:
    "An object of a class MMDetection's meta might hold; unpickling it must not run its `__setstate__`."
    calls: list = []

    def __init__(self): self.value = 'from a plugin'
    def __setstate__(self, state): PluginState.calls.append(state)


class TinyDetector(nn.Module):
    "A head with `num_classes`, as detnb's detectors have."
    def __init__(self, num_classes: int = 2):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.bbox_head = nn.Conv2d(4, num_classes, 1)
        self.bbox_head.num_classes = num_classes


def test_mmdet_checkpoint_with_foreign_meta(tmp_path):
    torch.manual_seed(0)
    source = TinyDetector()
    path = tmp_path / 'tiny.pth'
    torch.save({'meta': {'CLASSES': ('cat', 'dog'), 'plugin': PluginState()}, 'state_dict': source.state_dict()}, path)
    target = TinyDetector()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        report = load_mmdet_checkpoint(target, path)
    assert PluginState.calls == []
    assert report['foreign_objects'] == [f'{__name__}.PluginState']
    assert f'1 pickled classes skipped, not run: {__name__}.PluginState' in str(caught[0].message)
    assert target.dataset_meta == {'classes': ('cat', 'dog')}  # MMDetection 2.x's meta.CLASSES
    assert all(torch.equal(v, target.state_dict()[k]) for k, v in source.state_dict().items())


def test_partial_load_names_what_it_left(tmp_path):
    path = tmp_path / 'backbone_only.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in TinyDetector().backbone.state_dict().items()}}, path)
    with pytest.raises(ValueError, match='2 keys missing from the checkpoint .*: bbox_head.weight, bbox_head.bias'):
        load_mmdet_checkpoint(TinyDetector(), path)
    with pytest.warns(UserWarning, match='bbox_head.weight, bbox_head.bias'):
        report = load_mmdet_checkpoint(TinyDetector(3), path, strict=False)
    assert report['missing_keys'] == ['bbox_head.weight', 'bbox_head.bias'] and report['dataset_meta'] == {}
