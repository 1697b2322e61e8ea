"""Every detector config shipped in `detnb/configs` loads, builds, and runs a forward pass in `tensor` mode;
one `data_root` override moves its data; the BCCD variants also build their data sets from the development data."""
import pytest
import torch

from detnb.config import Config, package_configs_dir
from detnb.registry import DATASETS, MODELS

CONFIGS = sorted(str(p.relative_to(package_configs_dir())) for p in package_configs_dir().rglob('*.py')
                 if '_base_' not in p.parts and p.name != '__init__.py')
DENSE = ['retinanet/retinanet_r50_fpn_1x_coco.py', 'retinanet/retinanet_r18_fpn_bccd.py',
         'fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py', 'fcos/fcos_r18_fpn_gn-head_bccd.py',
         'atss/atss_r50_fpn_1x_coco.py', 'gfl/gfl_r50_fpn_1x_coco.py']


def test_dense_configs_shipped():
    assert set(DENSE) <= set(CONFIGS), sorted(set(DENSE) - set(CONFIGS))


def detr_like(head_type: str) -> bool:
    "DETR, Deformable DETR and DINO heads: set prediction over queries."
    return 'DETR' in head_type or head_type == 'DINOHead'


def one_stage(name: str) -> bool:
    cfg = Config.fromfile(f'detnb::{name}')
    return 'model' in cfg and 'bbox_head' in cfg.model and not detr_like(cfg.model.bbox_head.type)


def detr(name: str) -> bool:
    cfg = Config.fromfile(f'detnb::{name}')
    return 'model' in cfg and detr_like(cfg.model.get('bbox_head', {}).get('type', ''))


@pytest.mark.parametrize('name', [c for c in CONFIGS if detr(c)])
def test_detr_config_builds_and_runs(name):
    "DETR-style configs: `tensor` mode gives class logits and normalized boxes per decoder layer and query."
    cfg = Config.fromfile(f'detnb::{name}')
    model = MODELS.build(cfg.model).eval()
    torch.manual_seed(0)
    # DINO selects num_queries (900) of the encoder's positions: 240 x 320 gives 1600 at strides 8 to 64
    size = (240, 320) if cfg.model.type == 'DINO' else (120, 150)
    data = model.data_preprocessor(dict(inputs=[torch.randint(0, 256, (3, *size), dtype=torch.uint8)]))
    with torch.no_grad(): cls_scores, boxes = model(data['inputs'], mode='tensor')[:2]
    layers = cfg.model.decoder.num_layers
    queries = cfg.model.get('num_queries', None) or cfg.model.bbox_head.get('num_query', None)
    assert cls_scores.shape[:2] == (layers, 1) and boxes.shape[:2] == (layers, 1) and boxes.shape[-1] == 4
    if queries and not cfg.model.get('as_two_stage', False): assert cls_scores.shape[2] == queries
    assert torch.isfinite(cls_scores).all() and ((boxes >= 0) & (boxes <= 1)).all()


@pytest.mark.parametrize('name', [c for c in CONFIGS if one_stage(c)])
def test_config_builds_and_runs(name):
    cfg = Config.fromfile(f'detnb::{name}')
    model = MODELS.build(cfg.model).eval()  # no init_weights: nothing is downloaded
    torch.manual_seed(0)
    # RTMDet's preprocessor does not pad (its pipeline pads to 640 x 640): give it a size its levels divide
    size = (120, 150) if cfg.model.data_preprocessor.get('pad_size_divisor', 1) > 1 else (128, 160)
    data = model.data_preprocessor(dict(inputs=[torch.randint(0, 256, (3, *size), dtype=torch.uint8)]))
    height, width = data['inputs'].shape[-2:]
    assert (height, width) == (128, 160)
    with torch.no_grad(): outs = model(data['inputs'], mode='tensor')
    tensors = [o for o in outs if isinstance(o, torch.Tensor)]  # one map for all levels: RTMDet-Ins's mask feature
    outs = [o for o in outs if not isinstance(o, torch.Tensor)]
    head = cfg.model.bbox_head
    priors = head.get('anchor_generator', None) or head.get('prior_generator', None) or {}
    num_levels = len(head.get('strides', None) or priors['strides'])
    assert all(len(level_outputs) == num_levels for level_outputs in outs)
    cls_channels = model.bbox_head.num_base_priors * model.bbox_head.cls_out_channels
    stride = priors['strides'][0] if priors else head.strides[0]
    stride = stride[0] if isinstance(stride, (tuple, list)) else stride
    assert outs[0][0].shape == (1, cls_channels, -(-height // stride), -(-width // stride))
    assert all(torch.isfinite(t).all() for level_outputs in outs for t in level_outputs)
    assert all(t.shape[0] == 1 and torch.isfinite(t).all() for t in tensors)


@pytest.mark.parametrize('name', [c for c in CONFIGS if 'roi_head' in Config.fromfile(f'detnb::{c}').get('model', {})])
def test_two_stage_config_builds_and_runs(name):
    "Two-stage configs: `tensor` mode gives the RPN's maps per level and the RoI head's scores and box deltas."
    cfg = Config.fromfile(f'detnb::{name}')
    model = MODELS.build(cfg.model).eval()
    torch.manual_seed(0)
    data = model.data_preprocessor(dict(inputs=[torch.randint(0, 256, (3, 120, 150), dtype=torch.uint8)]))
    with torch.no_grad(): outs = model(data['inputs'], mode='tensor')
    rpn = cfg.model.rpn_head  # an RPN head (scores, deltas), or an FCOS head serving as one (and centre-ness)
    rpn_cls, rpn_reg = outs[:2]
    roi_cls, roi_reg, *masks = outs[3 if rpn.type == 'FCOSHead' else 2:]
    num_levels = len(rpn.get('strides', None) or rpn.anchor_generator.strides)
    assert len(rpn_cls) == len(rpn_reg) == num_levels
    bbox_head = cfg.model.roi_head.bbox_head
    bbox_head = bbox_head[-1] if isinstance(bbox_head, list) else bbox_head  # Cascade R-CNN: one head per stage
    num_classes = bbox_head.num_classes
    reg_channels = 4 if bbox_head.get('reg_class_agnostic', False) else 4 * num_classes
    assert roi_cls.shape[-1] == num_classes + 1 and roi_reg.shape[-1] == reg_channels
    assert all(torch.isfinite(t).all() for t in [*rpn_cls, *rpn_reg, roi_cls, roi_reg])


@pytest.mark.parametrize('name', [c for c in CONFIGS if 'data_root' in Config.fromfile(f'detnb::{c}')])
def test_data_root_carries(name):
    "`--cfg-options data_root=...` moves every dataloader and every evaluator file made from `data_root` (#19)."
    cfg = Config.fromfile(f'detnb::{name}')
    old = cfg.data_root
    shipped = {key: cfg[key].get('ann_file') for key in ('val_evaluator', 'test_evaluator')}
    cfg.merge_from_arg_list(['data_root=/x/'])
    def inner(dataset):  # through wrappers such as YOLOX's MultiImageMixDataset
        while 'data_root' not in dataset and 'dataset' in dataset: dataset = dataset.dataset
        return dataset
    assert [inner(cfg[k].dataset).data_root for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')] == [
        '/x/'] * 3
    for key, ann_file in shipped.items():
        expected = '/x/' + ann_file[len(old):] if ann_file and ann_file.startswith(old) else ann_file
        assert cfg[key].get('ann_file') == expected, key


def test_data_root_carries_in_the_bccd_retinanet():
    cfg = Config.fromfile('detnb::retinanet/retinanet_r18_fpn_bccd.py')
    cfg.merge_from_arg_list(['data_root=/data/bccd/', 'val_dataloader.dataset.ann_file=ImageSets/Main/test.txt'])
    assert cfg.data_root == '/data/bccd/'
    assert {cfg[k].dataset.data_root for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')} == {
        '/data/bccd/'}
    assert cfg.val_dataloader.dataset.ann_file == 'ImageSets/Main/test.txt'
    assert cfg.test_dataloader.dataset.ann_file == 'ImageSets/Main/val.txt'


def test_a_misspelled_override_names_the_key():
    cfg = Config.fromfile('detnb::retinanet/retinanet_r18_fpn_bccd.py')
    with pytest.raises(ValueError, match=r"the config has no key 'optim_wraper'; did you mean 'optim_wrapper'\?"):
        cfg.merge_from_arg_list(['optim_wraper.optimizer.lr=0.5'])
    with pytest.raises(ValueError, match=r"model.bbox_head has no key 'num_clases'; did you mean 'num_classes'\?"):
        cfg.merge_from_arg_list(['model.bbox_head.num_clases=4'])
    cfg.merge_from_arg_list(['+optim_wraper.optimizer.lr=0.5'])  # a new key on purpose
    assert cfg.optim_wraper == dict(optimizer=dict(lr=0.5)) and cfg.optim_wrapper.optimizer.lr == 0.002


@pytest.mark.parametrize('name', [c for c in CONFIGS if c.endswith('_bccd.py')])
def test_bccd_datasets_build(name, shared_data):
    bccd = shared_data / 'bccd' / 'BCCD'
    if not (bccd / 'ImageSets' / 'Main' / 'train.txt').is_file(): pytest.skip(f'BCCD not found at {bccd}')
    cfg = Config.fromfile(f'detnb::{name}')
    cfg.merge_from_arg_list([f'data_root={bccd}/'])  # the config says data/BCCD/: point it at ours
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(train) > 100 and len(val) > 50
    assert train.metainfo['classes'] == ('RBC', 'WBC', 'Platelets')
    sample = train[0]
    assert max(sample['inputs'].shape[-2:]) == 416 and len(sample['data_samples'].gt_instances) > 0
