"""MMDetection parity for the DETR family: its layers, heads and detectors, with the same weights, give detnb's numbers.

Per component: MMDetection 3.3.0 builds its layer (positional encodings, DETR, Deformable DETR and DINO encoders and
decoders, DINO's denoising query generator) from a config, detnb builds its own from the same config, MMDetection's
`state_dict` loads strictly into detnb's, and the outputs must agree. Per detector: DETR, Deformable DETR (plain, with
box refinement, two-stage) and DINO from MMDetection's own configs with seeded random weights give the same detections
in detnb from detnb's config of the same name, and the same training losses on one batch. DINO's detections are
compared in float64 (see `FLOAT64`): its queries follow the order of the encoder's top-k scores, which float32
rounding can swap.

DINO's denoising queries are random (label and box noise drawn from torch's global generator). detnb's
`CdnQueryGenerator` draws the same tensors in the same order as MMDetection's (one uniform number per noisy label, a
class per label chosen to change, then the signs and the magnitudes of the box noise), so the same seed gives the same
queries: `test_cdn_query_generator` checks that directly, and the detector tests run each side's `pre_decoder` (the
only step that draws random numbers) under `torch.random.fork_rng` with the same seed.

Needs the `parity` extra (`pip install -e ".[parity]"`); MMDetection runs through `mmdet_shim` (mmcv-lite).
"""
from __future__ import annotations
import copy, os, sys
from pathlib import Path
import pytest
import torch

import importlib.util
if importlib.util.find_spec('mmdet') is None or importlib.util.find_spec('mmcv') is None:
    pytest.skip('the parity extra is not installed: pip install -e ".[parity]"', allow_module_level=True)
sys.path.insert(0, str(Path(__file__).parent))
from mmdet_shim import import_mmdet  # noqa: E402
from test_mmdet_parity import IMAGES, match_detections, with_test_scale  # noqa: E402


@pytest.fixture(scope='module')
def mmdet():
    return import_mmdet()


def same_weights(theirs: torch.nn.Module, ours: torch.nn.Module) -> None:
    "Random weights in MMDetection's module, loaded strictly into detnb's."
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in theirs.parameters(): p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    theirs.eval(), ours.eval()


FFN_CFG = dict(embed_dims=32, feedforward_channels=64, num_fcs=2, ffn_drop=0.1)
ATTN_CFG = dict(embed_dims=32, num_heads=4, dropout=0.1, batch_first=True)
DEFORM_CFG = dict(embed_dims=32, num_heads=4, num_levels=2, num_points=3, batch_first=True)


def test_positional_encodings(mmdet):
    from mmdet.models.layers import SinePositionalEncoding as Theirs, LearnedPositionalEncoding as TheirLearned
    from mmdet.models.layers.transformer import coordinate_to_encoding as their_encoding
    from detnb.models.layers.transformer import (SinePositionalEncoding, LearnedPositionalEncoding,
                                                 coordinate_to_encoding)
    mask = torch.zeros(2, 7, 9, dtype=torch.bool)
    mask[1, 5:], mask[1, :, 6:] = True, True
    for cfg in [dict(num_feats=16), dict(num_feats=16, normalize=True),
                dict(num_feats=16, normalize=True, offset=-0.5)]:
        torch.testing.assert_close(SinePositionalEncoding(**cfg)(mask), Theirs(**cfg)(mask), atol=1e-6, rtol=0)
        x = torch.zeros(2, 3, 7, 9)
        torch.testing.assert_close(SinePositionalEncoding(**cfg)(None, x), Theirs(**cfg)(None, x), atol=1e-6, rtol=0)
    theirs, ours = TheirLearned(8, 10, 12), LearnedPositionalEncoding(8, 10, 12)
    same_weights(theirs, ours)
    torch.testing.assert_close(ours(mask), theirs(mask))
    coords = torch.rand(2, 5, 4)
    torch.testing.assert_close(coordinate_to_encoding(coords, 16), their_encoding(coords, 16))
    torch.testing.assert_close(coordinate_to_encoding(coords[..., :2], 16), their_encoding(coords[..., :2], 16))


def test_detr_transformer(mmdet):
    from mmdet.models.layers import DetrTransformerEncoder as TheirEncoder, DetrTransformerDecoder as TheirDecoder
    from detnb.models.layers.transformer import DetrTransformerEncoder, DetrTransformerDecoder
    enc_cfg = dict(num_layers=2, layer_cfg=dict(self_attn_cfg=ATTN_CFG, ffn_cfg=FFN_CFG))
    dec_cfg = dict(num_layers=3, layer_cfg=dict(self_attn_cfg=ATTN_CFG, cross_attn_cfg=ATTN_CFG, ffn_cfg=FFN_CFG))
    pairs = [(TheirEncoder(**copy.deepcopy(enc_cfg)), DetrTransformerEncoder(**enc_cfg)),
             (TheirDecoder(**copy.deepcopy(dec_cfg)), DetrTransformerDecoder(**dec_cfg))]
    for theirs, ours in pairs: same_weights(theirs, ours)
    feat, pos, mask = torch.randn(2, 20, 32), torch.randn(2, 20, 32), torch.zeros(2, 20, dtype=torch.bool)
    mask[1, 15:] = True
    (their_enc, our_enc), (their_dec, our_dec) = pairs
    memory = their_enc(feat, pos, mask)
    torch.testing.assert_close(our_enc(feat, pos, mask), memory, atol=1e-5, rtol=1e-5)
    query, query_pos = torch.zeros(2, 6, 32), torch.randn(2, 6, 32)
    torch.testing.assert_close(our_dec(query, memory, memory, query_pos, pos, mask),
                               their_dec(query, memory, memory, query_pos, pos, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('reference', ['points', 'boxes', 'refine_points', 'refine_boxes'])
def test_deformable_detr_transformer(mmdet, reference):
    from mmdet.models.layers import (DeformableDetrTransformerEncoder as TheirEncoder,
                                     DeformableDetrTransformerDecoder as TheirDecoder)
    from detnb.models.layers.transformer import DeformableDetrTransformerEncoder, DeformableDetrTransformerDecoder
    enc_cfg = dict(num_layers=2, layer_cfg=dict(self_attn_cfg=DEFORM_CFG, ffn_cfg=FFN_CFG))
    dec_cfg = dict(num_layers=3, post_norm_cfg=None,
                   layer_cfg=dict(self_attn_cfg=ATTN_CFG, cross_attn_cfg=DEFORM_CFG, ffn_cfg=FFN_CFG))
    their_enc, our_enc = TheirEncoder(**copy.deepcopy(enc_cfg)), DeformableDetrTransformerEncoder(**enc_cfg)
    their_dec, our_dec = TheirDecoder(**copy.deepcopy(dec_cfg)), DeformableDetrTransformerDecoder(**dec_cfg)
    same_weights(their_enc, our_enc), same_weights(their_dec, our_dec)
    shapes, start = torch.tensor([[6, 8], [3, 4]]), torch.tensor([0, 48])
    ratios = torch.tensor([[[1., 1.], [1., 1.]], [[0.75, 0.5], [0.75, 0.6667]]])
    mask = torch.zeros(2, 60, dtype=torch.bool)
    mask[1, 30:48] = True
    feat, pos = torch.randn(2, 60, 32), torch.randn(2, 60, 32)
    levels = dict(spatial_shapes=shapes, level_start_index=start, valid_ratios=ratios)
    memory = their_enc(feat, pos, mask, **levels)
    torch.testing.assert_close(our_enc(feat, pos, mask, **levels), memory, atol=1e-5, rtol=1e-5)
    refs = torch.rand(2, 7, 4 if reference.endswith('boxes') else 2) * 0.8 + 0.1
    branches = torch.nn.ModuleList([torch.nn.Linear(32, 4) for _ in range(3)]) if 'refine' in reference else None
    query, query_pos = torch.randn(2, 7, 32), torch.randn(2, 7, 32)
    theirs = their_dec(query, query_pos, memory, mask, refs, reg_branches=branches, **levels)
    ours = our_dec(query, query_pos, memory, mask, refs, reg_branches=branches, **levels)
    for t, o in zip(theirs, ours): torch.testing.assert_close(o, t, atol=1e-5, rtol=1e-5)


def dn_samples(mmdet_samples: bool, counts=(1, 3, 0)):
    "Data samples of 100 x 200 images (h, w) with `counts` random boxes each, as detnb's or MMDetection's."
    if mmdet_samples:
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData
    else:
        from detnb.structures import DetDataSample, InstanceData
    g = torch.Generator().manual_seed(2)
    samples = []
    for n in counts:
        xy = torch.rand(n, 2, generator=g) * torch.tensor([120., 60.])
        wh = torch.rand(n, 2, generator=g) * torch.tensor([70., 35.]) + 5
        gt = InstanceData(bboxes=torch.cat([xy, xy + wh], 1), labels=torch.randint(0, 7, (n,), generator=g))
        samples.append(DetDataSample(metainfo=dict(img_shape=(100, 200)), gt_instances=gt))
    return samples


@pytest.mark.parametrize('group_cfg', [dict(dynamic=False, num_groups=3), dict(dynamic=True, num_dn_queries=10)])
def test_cdn_query_generator(mmdet, group_cfg):
    "The same denoising queries, boxes, mask and meta from the same seed: the random draws line up."
    from mmdet.models.layers import CdnQueryGenerator as Theirs
    from detnb.models.layers.dino_layers import CdnQueryGenerator
    cfg = dict(num_classes=7, embed_dims=16, num_matching_queries=5, label_noise_scale=0.5, box_noise_scale=1.0,
               group_cfg=group_cfg)
    theirs, ours = Theirs(**copy.deepcopy(cfg)), CdnQueryGenerator(**cfg)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    torch.manual_seed(3)
    expected = theirs(dn_samples(mmdet_samples=True))
    torch.manual_seed(3)
    actual = ours(dn_samples(mmdet_samples=False))
    assert actual[3] == expected[3]
    for e, a in zip(expected[:3], actual[:3]): torch.testing.assert_close(a, e, atol=1e-6, rtol=0)


def test_dino_decoder(mmdet):
    "DINO's decoder: the same normed outputs and (undetached) references, with the denoising mask."
    from mmdet.models.layers import DinoTransformerDecoder as Theirs, CdnQueryGenerator as TheirGenerator
    from detnb.models.layers.dino_layers import DinoTransformerDecoder
    # MMDetection's decoder codes boxes with 128 features per coordinate: it needs embed_dims 256
    cfg = dict(num_layers=3, post_norm_cfg=None, layer_cfg=dict(
        self_attn_cfg=dict(ATTN_CFG, embed_dims=256), cross_attn_cfg=dict(DEFORM_CFG, embed_dims=256),
        ffn_cfg=dict(FFN_CFG, embed_dims=256)))
    theirs, ours = Theirs(**copy.deepcopy(cfg)), DinoTransformerDecoder(**cfg)
    same_weights(theirs, ours)
    branches = torch.nn.ModuleList([torch.nn.Linear(256, 4) for _ in range(4)])
    shapes, start = torch.tensor([[6, 8], [3, 4]]), torch.tensor([0, 48])
    ratios = torch.tensor([[[1., 1.], [1., 1.]], [[0.75, 0.5], [0.75, 0.6667]]])
    mask = torch.zeros(2, 60, dtype=torch.bool)
    mask[1, 30:48] = True
    dn_mask = TheirGenerator(7, 256, 5, group_cfg=dict(dynamic=False, num_groups=2)).generate_dn_mask(2, 2, 'cpu')
    query, memory, boxes = torch.randn(2, 13, 256), torch.randn(2, 60, 256), torch.rand(2, 13, 4) * 0.6 + 0.2
    args = dict(spatial_shapes=shapes, level_start_index=start, valid_ratios=ratios, reg_branches=branches)
    expected = theirs(query, memory, mask, dn_mask, boxes, **args)
    actual = ours(query, memory, mask, dn_mask, boxes, **args)
    for e, a in zip(expected, actual):  # 256 channels through three layers: float rounding reaches 2e-5
        torch.testing.assert_close(a, e, atol=1e-4, rtol=1e-4)


# (MMDetection config, detnb config): the same name
DETECTORS = {
    'detr': 'detr/detr_r50_8xb2-150e_coco.py',
    'deformable_detr': 'deformable_detr/deformable-detr_r50_16xb2-50e_coco.py',
    'deformable_detr_refine': 'deformable_detr/deformable-detr-refine_r50_16xb2-50e_coco.py',
    'deformable_detr_refine_twostage': 'deformable_detr/deformable-detr-refine-twostage_r50_16xb2-50e_coco.py',
    'dino': 'dino/dino-4scale_r50_8xb2-12e_coco.py',
}


@pytest.fixture(scope='module')
def images() -> list:
    if not all(p.exists() for p in IMAGES): pytest.skip(f'the BCCD and coco128 images are not at {IMAGES}')
    import cv2
    return [cv2.imread(str(p)) for p in IMAGES]


def seeded_mmdet_model(mmdet, config: str, images: list | None = None):
    "MMDetection's detector of `config`, seeded; with `images`, a classifier scaled so that the scores spread on them."
    from mmengine.config import Config as MMConfig
    from mmdet.apis import inference_detector
    from mmdet.registry import MODELS
    cfg = MMConfig.fromfile(os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'configs', config))
    cfg.test_dataloader.dataset.pipeline = with_test_scale(cfg.test_dataloader.dataset.pipeline)
    cfg.model.backbone.init_cfg = None  # no ImageNet download: the weights are seeded
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.cfg, model.dataset_meta = cfg, {'classes': tuple(f'class{i}' for i in range(80))}
    head = model.bbox_head
    layers = [head.fc_cls] if hasattr(head, 'fc_cls') else list({id(m): m for m in head.cls_branches}.values())
    g = torch.Generator().manual_seed(0)
    for layer in layers:
        layer.weight.data = torch.randn(layer.weight.shape, generator=g) / layer.weight.shape[1] ** 0.5
        layer.bias.data.zero_()
    model.eval()
    if images is None: return model
    if hasattr(head, 'fc_cls'): return spread_queries(model, images)
    # the last decoder layer's logits (its classifier's last call); the max_per_img best of each image within -2..3
    logits, best, kept = [], [], model.bbox_head.test_cfg['max_per_img']
    hooks = [layer.register_forward_hook(lambda module, args, out: logits.append(out.detach())) for layer in layers]
    for image in images:
        with torch.no_grad(): inference_detector(model, image)
        best.append(logits[-1].flatten().topk(kept).values)
        logits.clear()
    for hook in hooks: hook.remove()
    low, high = min(b[-1] for b in best), max(b[0] for b in best)
    scale = 5 / (high - low)
    for layer in layers:
        layer.weight.data *= scale
        layer.bias.data.fill_(-2 - scale * low)
    return model


def spread_queries(model, images: list):
    "DETR at random weights decodes near-identical queries: make them differ, and classify by their differences."
    from mmdet.apis import inference_detector
    model.query_embedding.weight.data *= 30  # peaky attention: each query reads other positions
    hidden = []
    hook = model.bbox_head.register_forward_hook(lambda module, args, out: hidden.append(args[0][-1].flatten(0, -2)))
    for image in images:
        with torch.no_grad(): inference_detector(model, image)
    hook.remove()
    hidden = torch.cat(hidden)
    mean, spread = hidden.mean(0), (hidden - hidden.mean(0)).norm(dim=1).mean()
    fc_cls = model.bbox_head.fc_cls  # logits of std 2 from the queries' differences only
    fc_cls.weight.data *= 2 / spread * fc_cls.weight.shape[1] ** 0.5 / fc_cls.weight.norm(dim=1, keepdim=True)
    fc_cls.bias.data = -fc_cls.weight.data @ mean
    return model


# DINO pairs the k-th best encoder proposal with the k-th learned query content, so the order of its top-k encoder
# scores decides every decoded query: two proposals whose scores lie closer than the two libraries' rounding swap
# queries. In float32 the encoder's logits agree within 2.3e-5 and two of BCCD image 0's top 900 scores lie 2e-6
# apart, and they swap. DINO's comparison therefore runs in float64 on both sides (the models cast; the images follow,
# as the data preprocessors' float64 mean and std promote them), where the logits agree within 4e-14: the test
# asserts that the closest distinct scores of the top k + 1 lie a thousand times further apart than that.
# Exact ties remain: the level-0 positions whose proposal boxes leave (0.01, 0.99) read zeroed memory and get the
# same score, bit for bit, within each library, and both libraries' top-k order them alike.
FLOAT64 = {'dino'}


def detnb_model(config: str, checkpoint: Path, dtype: torch.dtype) -> torch.nn.Module:
    "detnb's detector of `config` (test scale) with MMDetection's checkpoint loaded strictly, cast to `dtype`."
    from detnb.apis.inference import init_detector
    from detnb.config import Config
    from detnb.engine.checkpoint import load_checkpoint_file, load_model_state
    cfg = Config.fromfile(f'detnb::{config}')
    cfg.test_dataloader.dataset.pipeline = with_test_scale(cfg.test_dataloader.dataset.pipeline)
    model = init_detector(cfg)
    report = load_model_state(model, load_checkpoint_file(checkpoint)['state_dict'])
    assert not any(report.values()), f'MMDetection keys do not load strictly into detnb::{config}: {report}'
    return model.to(dtype)


def detections(model: torch.nn.Module, images: list, inference_detector) -> tuple[list[dict], list[torch.Tensor]]:
    "The detections of `model` on `images`, and the logits of its encoder proposals (two-stage models; else empty)."
    logits, hooks = [], []
    if getattr(model, 'as_two_stage', False):
        layer = model.bbox_head.cls_branches[model.decoder.num_layers]
        hooks.append(layer.register_forward_hook(lambda module, args, out: logits.append(out.detach())))
    with torch.no_grad(): results = [inference_detector(model, img).pred_instances for img in images]
    for hook in hooks: hook.remove()
    return [dict(bboxes=r.bboxes, scores=r.scores, labels=r.labels) for r in results], logits


@pytest.mark.parametrize('family', list(DETECTORS))
def test_detector_parity(family: str, mmdet, images, tmp_path):
    "The same detections from MMDetection's seeded model and from its checkpoint in detnb's config of the same name."
    from mmdet.apis import inference_detector as their_inference
    from detnb.apis.inference import inference_detector as our_inference
    config, checkpoint = DETECTORS[family], tmp_path / f'{family}.pth'
    dtype = torch.float64 if family in FLOAT64 else torch.float32
    model = seeded_mmdet_model(mmdet, config, images)
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': model.dataset_meta}}, checkpoint)
    expected, their_logits = detections(model.to(dtype), images, their_inference)
    actual, our_logits = detections(detnb_model(config, checkpoint, dtype), images, our_inference)
    if family in FLOAT64:  # the top-k order is the same in both libraries: no two scores within their rounding
        for i, (e, a) in enumerate(zip(their_logits, our_logits, strict=True)):
            assert e.dtype == a.dtype == dtype, f'{family} image {i}: encoder logits {e.dtype}, {a.dtype}'
            rounding = (a - e).abs().max()
            top = e.max(-1).values.flatten().topk(model.num_queries + 1).values
            steps = top[:-1] - top[1:]
            closest = steps[steps > 0].min()
            assert closest > 1e3 * rounding, f'{family} image {i}: top-k scores {closest:.1e} apart, logits ' \
                                             f'{rounding:.1e} apart: the order may differ'
            print(f'{family} image {i}: encoder logits within {rounding:.1e}, closest top-k scores {closest:.1e}')
    kept = model.bbox_head.test_cfg['max_per_img']
    score_tol, box_tol = (1e-9, 1e-9) if dtype == torch.float64 else (1e-4, 1e-2)
    diffs = []
    for i, (e, a) in enumerate(zip(expected, actual)):
        spread = e['scores'].max() - e['scores'].min()
        assert len(e['scores']) == kept and spread > 0.05, f'{family} image {i}: scores within {spread:.3f}'
        assert len(a['scores']) == kept, f'{family} image {i}: detnb {len(a["scores"])} detections'
        assert e['scores'].dtype == a['scores'].dtype == dtype, f'{family} image {i}: scores not {dtype}'
        rows, cols = match_detections(e, a)
        assert torch.equal(a['labels'][cols], e['labels'][rows]), f'{family} image {i}: labels differ'
        torch.testing.assert_close(a['scores'][cols], e['scores'][rows], atol=score_tol, rtol=0)
        torch.testing.assert_close(a['bboxes'][cols], e['bboxes'][rows], atol=box_tol, rtol=0)
        diffs.append(((a['scores'][cols] - e['scores'][rows]).abs().max().item(),
                      (a['bboxes'][cols] - e['bboxes'][rows]).abs().max().item()))
    scores, boxes = max(d[0] for d in diffs), max(d[1] for d in diffs)
    print(f'{family} ({dtype}): {len(images)} x {kept} detections, max |score diff| {scores:.2e}, '
          f'max |box diff| {boxes:.2e} px')


def loss_batch(mmdet_samples: bool, scale: float = 1.0):
    "Two padded images (different sizes, times `scale`) with boxes, as detnb's or MMDetection's data samples."
    if mmdet_samples:
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData
    else:
        from detnb.structures import DetDataSample, InstanceData
    g = torch.Generator().manual_seed(1)
    H, W = int(160 * scale), int(224 * scale)
    inputs = torch.randn(2, 3, H, W, generator=g)
    samples = []
    for (h, w), n in [((H, int(200 * scale)), 3), ((int(128 * scale), W), 5)]:
        xy = torch.rand(n, 2, generator=g) * torch.tensor([w * 0.6, h * 0.6])
        wh = torch.rand(n, 2, generator=g) * torch.tensor([w * 0.35, h * 0.35]) + 8
        gt = InstanceData(bboxes=torch.cat([xy, xy + wh], 1), labels=torch.randint(0, 80, (n,), generator=g))
        samples.append(DetDataSample(metainfo=dict(img_shape=(h, w), batch_input_shape=(H, W), ori_shape=(h, w),
                                                   scale_factor=(1., 1.)), gt_instances=gt))
    return inputs, samples


@pytest.mark.parametrize('family', list(DETECTORS))
def test_loss_parity(family: str, mmdet, tmp_path):
    "The same training losses, every decoder layer's and the encoder's, on one padded batch (no dropout)."
    from detnb.config import Config
    from detnb.registry import MODELS
    theirs = seeded_mmdet_model(mmdet, DETECTORS[family])
    ours = MODELS.build(Config.fromfile(f'detnb::{DETECTORS[family]}').model)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    for model in (theirs, ours):
        model.train()
        for m in model.modules():  # no dropout: of the outputs (modules) nor of the attention weights (an attribute)
            if isinstance(m, torch.nn.Dropout): m.p = 0.0
            if isinstance(m, torch.nn.MultiheadAttention): m.dropout = 0.0
        if family == 'dino': model.pre_decoder = seeded(model.pre_decoder)  # the same denoising noise on both sides
    scale = 1.5 if family == 'dino' else 1.0  # DINO selects 900 queries: the image must give that many positions
    inputs, samples = loss_batch(mmdet_samples=True, scale=scale)
    expected = theirs.loss(inputs, samples)
    actual = ours.loss(*loss_batch(mmdet_samples=False, scale=scale))
    assert list(actual) == list(expected)
    for key in expected:  # MMDetection's classification losses are (1,) where its normalizer is synchronized
        torch.testing.assert_close(actual[key].reshape(-1), expected[key].reshape(-1), atol=1e-4, rtol=1e-4,
                                   msg=lambda m: f'{key}: {m}')
    gap = max((actual[k].reshape(-1) - expected[k].reshape(-1)).abs().max().item() for k in expected)
    print(f'{family}: {len(expected)} losses, max |diff| {gap:.2e}')
    if family == 'dino': assert all(expected[k] > 0 for k in ('dn_loss_cls', 'dn_loss_bbox', 'dn_loss_iou'))


def seeded(pre_decoder):
    "`pre_decoder` run from the same seed every call, without touching the global generator's state outside it."
    def run(*args, **kwargs):
        with torch.random.fork_rng():
            torch.manual_seed(5)
            return pre_decoder(*args, **kwargs)
    return run
