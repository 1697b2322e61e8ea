"""Property tests of the geometric transforms (`detnb.datasets.transforms.geometric`), with hypothesis.

On random images, boxes and masks (bitmap and polygon): a flip applied twice is the identity; a resize
followed by the inverse resize returns the boxes within a pixel; after every geometric transform the
boxes lie inside the image, each mask lies inside its box (1 px tolerance) and the instances stay
aligned; `homography_matrix` maps the original boxes onto the transformed ones; `FilterAnnotations`
keeps boxes, labels, flags and masks together. Instances carry their original index as label, so that
alignment can be checked after instances are dropped.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from detnb.boxes import bbox_project
from detnb.datasets.transforms.loading import num_instances
from detnb.datasets.transforms.geometric import (
    Expand, FilterAnnotations, FixShapeResize, MinIoURandomCrop, Pad, RandomAffine, RandomCenterCropPad,
    RandomCrop, RandomFlip, RandomResize, Resize, Rotate, ShearX, ShearY, TranslateX, TranslateY)
from detnb.masks import PolygonMasks

pytestmark = pytest.mark.filterwarnings('ignore::DeprecationWarning')  # pycocotools on NumPy 2
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True)


def make_sample(seed: int, n: int, h: int, w: int, polygons: bool) -> dict:
    "An image with `n` boxes, each holding an ellipse mask that touches its four sides, and a seg map."
    rng = np.random.default_rng(seed)
    x1, y1 = rng.uniform(0, w - 4, n), rng.uniform(0, h - 4, n)
    x2, y2 = x1 + rng.uniform(3, w - x1), y1 + rng.uniform(3, h - y1)
    boxes = np.stack([x1, y1, x2, y2], 1).astype(np.float32)
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    centre, radius = (boxes[:, :2] + boxes[:, 2:]) / 2, (boxes[:, 2:] - boxes[:, :2]) / 2
    polys = [[np.stack([centre[i, 0] + radius[i, 0] * np.cos(t), centre[i, 1] + radius[i, 1] * np.sin(t)], 1).ravel()]
             for i in range(n)]
    masks = PolygonMasks(polys, h, w)
    return dict(
        img=rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
        img_shape=(h, w),
        ori_shape=(h, w),
        gt_bboxes=boxes,
        gt_bboxes_labels=np.arange(n, dtype=np.int64),
        gt_ignore_flags=rng.random(n) < 0.2,
        gt_masks=masks if polygons else masks.to_bitmap(),
        gt_seg_map=rng.integers(0, 4, (h, w), dtype=np.uint8),
    )


samples = st.builds(make_sample, seed=st.integers(0, 2**31 - 1), n=st.integers(0, 8), h=st.integers(12, 90),
                    w=st.integers(12, 90), polygons=st.booleans())


def tight_boxes(masks: np.ndarray) -> np.ndarray:
    "Tight box of each (N, H, W) mask, pixel `i` covering `[i, i+1]`."
    cols, rows = masks.any(1), masks.any(2)
    return np.stack([cols.argmax(1), rows.argmax(1), cols.shape[1] - cols[:, ::-1].argmax(1),
                     rows.shape[1] - rows[:, ::-1].argmax(1)], 1).astype(np.float32)


def check_invariants(before: dict, after: dict):
    """Aligned instances, boxes inside the image, masks inside their boxes, keys of the right shape and type.

    A mask may leave its box by 1 pixel of the original image (rasterizing), which a zoom by `s` makes `s` pixels.
    """
    zoom = np.linalg.norm(after.get('homography_matrix', np.eye(3))[:2, :2], 2)
    tol = max(1.0, zoom)
    n = num_instances(after)
    h, w = after['img'].shape[:2]
    assert tuple(after['img_shape']) == (h, w) and after['gt_seg_map'].shape == (h, w)
    boxes, labels, masks = after['gt_bboxes'], after['gt_bboxes_labels'], after['gt_masks']
    assert boxes.dtype == np.float32 and boxes.shape == (n, 4) and labels.dtype == np.int64
    assert type(masks) is type(before['gt_masks']) and (masks.height, masks.width) == (h, w)
    assert (np.diff(labels) > 0).all()  # instances keep their order, none is duplicated
    np.testing.assert_array_equal(after['gt_ignore_flags'], before['gt_ignore_flags'][labels])
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
    bitmaps = masks.to_ndarray()
    drawn = bitmaps.any((1, 2))
    tight = tight_boxes(bitmaps)
    assert (tight[drawn, :2] >= boxes[drawn, :2] - tol).all() and (tight[drawn, 2:] <= boxes[drawn, 2:] + tol).all()


def check_homography(before: dict, after: dict, tol: float = 1e-2):
    "The recorded homography maps the kept original boxes onto the new ones (clipped to the image)."
    h, w = after['img_shape']
    H = after.get('homography_matrix', np.eye(3))
    projected = bbox_project(torch.from_numpy(before['gt_bboxes'][after['gt_bboxes_labels']]), H, (h, w)).numpy()
    np.testing.assert_allclose(projected, after['gt_bboxes'], atol=tol)


GEOMETRIC = {
    'Resize': lambda: Resize(scale=(50, 40), keep_ratio=True),
    'RandomResize': lambda: RandomResize(scale=(60, 40), ratio_range=(0.3, 2.0), keep_ratio=True),
    'FixShapeResize': lambda: FixShapeResize(48, 32, keep_ratio=True),
    'RandomFlip': lambda: RandomFlip(prob=0.9, direction=['horizontal', 'vertical', 'diagonal']),
    'RandomCrop': lambda: RandomCrop((0.3, 0.6), 'relative_range', allow_negative_crop=True),
    'RandomCrop-recompute': lambda: RandomCrop((20, 20), allow_negative_crop=True, recompute_bbox=True),
    'MinIoURandomCrop': lambda: MinIoURandomCrop(),
    'RandomCenterCropPad': lambda: RandomCenterCropPad((40, 30), border=8, mean=(0, 0, 0), to_rgb=True),
    'Expand': lambda: Expand(ratio_range=(1, 3), seg_ignore_label=255, prob=1.0),
    'Pad': lambda: Pad(size_divisor=16),
    'RandomAffine': lambda: RandomAffine(max_rotate_degree=40, max_shear_degree=15, scaling_ratio_range=(0.5, 2.0)),
    'Rotate': lambda: Rotate(max_mag=90.0), 'ShearX': lambda: ShearX(), 'ShearY': lambda: ShearY(),
    'TranslateX': lambda: TranslateX(max_mag=0.5), 'TranslateY': lambda: TranslateY(max_mag=0.5),
}
# transforms whose output boxes are the homography's image of the inputs (the others clip to a
# window inside the output, recompute boxes from masks, or are checked separately)
HOMOGRAPHY_EXACT = {'Resize', 'RandomResize', 'FixShapeResize', 'RandomFlip', 'RandomCrop', 'MinIoURandomCrop',
                    'Expand', 'Pad', 'RandomAffine', 'Rotate', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY'}


@pytest.mark.parametrize('name', GEOMETRIC)
@PROPERTY
@given(sample=samples, seed=st.integers(0, 2**31 - 1))
def test_geometric_invariants(name, sample, seed):
    np.random.seed(seed)
    before = {k: v for k, v in sample.items()}
    after = GEOMETRIC[name]()(dict(sample))
    if after is None: return  # a crop may drop a sample; RandomCrop here allows empty crops
    check_invariants(before, after)
    if name in HOMOGRAPHY_EXACT: check_homography(before, after)


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
@PROPERTY
@given(sample=samples)
def test_flip_twice_is_identity(direction, sample):
    flip = RandomFlip(prob=1.0, direction=direction)
    twice = flip(flip(dict(sample)))
    np.testing.assert_array_equal(twice['img'], sample['img'])
    np.testing.assert_array_equal(twice['gt_seg_map'], sample['gt_seg_map'])
    np.testing.assert_allclose(twice['gt_bboxes'], sample['gt_bboxes'], atol=1e-4)
    np.testing.assert_array_equal(twice['gt_masks'].to_ndarray(), sample['gt_masks'].to_ndarray())
    np.testing.assert_allclose(twice['homography_matrix'], np.eye(3), atol=1e-6)


@PROPERTY
@given(sample=samples, size=st.tuples(st.integers(8, 200), st.integers(8, 200)), keep_ratio=st.booleans())
def test_resize_then_inverse_resize(sample, size, keep_ratio):
    h, w = sample['img_shape']
    there = Resize(scale=size, keep_ratio=keep_ratio)(dict(sample))
    back = Resize(scale=(w, h))(dict(there))
    np.testing.assert_allclose(back['gt_bboxes'], sample['gt_bboxes'], atol=1.0)
    np.testing.assert_allclose(back['scale_factor'], (1, 1), atol=1e-9)
    assert back['gt_masks'].to_ndarray().shape == sample['gt_masks'].to_ndarray().shape


@PROPERTY
@given(sample=samples, min_wh=st.tuples(st.floats(0, 30), st.floats(0, 30)), min_area=st.integers(1, 200),
       by_mask=st.booleans())
def test_filter_annotations_keeps_instances_aligned(sample, min_wh, min_area, by_mask):
    out = FilterAnnotations(min_gt_bbox_wh=min_wh, min_gt_mask_area=min_area, by_mask=by_mask, keep_empty=False)(
        dict(sample)
    )
    kept = out['gt_bboxes_labels']
    wh = sample['gt_bboxes'][:, 2:] - sample['gt_bboxes'][:, :2]
    expected = (wh[:, 0] > min_wh[0]) & (wh[:, 1] > min_wh[1])
    if by_mask: expected &= np.asarray(sample['gt_masks'].areas) >= min_area
    np.testing.assert_array_equal(kept, np.flatnonzero(expected))
    np.testing.assert_array_equal(out['gt_bboxes'], sample['gt_bboxes'][kept])
    np.testing.assert_array_equal(out['gt_ignore_flags'], sample['gt_ignore_flags'][kept])
    np.testing.assert_array_equal(out['gt_masks'].to_ndarray(), sample['gt_masks'].to_ndarray()[kept])


@PROPERTY
@given(sample=samples, seed=st.integers(0, 2**31 - 1))
def test_chain_homography(sample, seed):
    "Resize, flip and affine warp in a row: the accumulated homography maps original boxes to the final ones."
    np.random.seed(seed)
    steps = [Resize(scale_factor=1.7), RandomFlip(prob=1.0, direction=['horizontal', 'vertical', 'diagonal']),
             RandomAffine(max_rotate_degree=20, bbox_clip_border=False)]
    r = dict(sample)
    for step in steps: r = step(r)
    unclipped = bbox_project(
        torch.from_numpy(sample['gt_bboxes'][r['gt_bboxes_labels']]), r['homography_matrix']
    ).numpy()
    np.testing.assert_allclose(unclipped, r['gt_bboxes'], atol=1e-2)
