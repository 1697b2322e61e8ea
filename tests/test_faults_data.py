"""Issue #18, the data part: data is never changed without a count the user sees.

One test per point; each failed before the fix (the docstring says what happened then).
"""
import contextlib, copy, io, json, warnings
from pathlib import Path
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from PIL import Image
from detnb.datasets.base import AnnotationFileError, DataChangeWarning
from detnb.datasets.coco import CocoDataset
from detnb.datasets.voc import XMLDataset
from detnb.evaluation.coco import CocoMetric
from detnb.structures import DetDataSample, InstanceData

COCO = dict(images=[dict(id=1, file_name='a.jpg', width=40, height=30), dict(id=2, file_name='b.jpg', width=40,
                                                                              height=30)],
            categories=[dict(id=1, name='dog'), dict(id=2, name='cat')],
            annotations=[dict(id=1, image_id=1, category_id=1, bbox=[1, 2, 10, 8], area=80, iscrowd=0),
                         dict(id=2, image_id=1, category_id=2, bbox=[20, 5, 10, 10], area=100, iscrowd=0)])


@pytest.fixture
def folder(tmp_path) -> Path:
    for name in ('a.jpg', 'b.jpg'): Image.new('RGB', (40, 30)).save(tmp_path / name)
    return tmp_path


def write(folder: Path, coco: dict, name: str = 'ann.json') -> Path:
    (folder / name).write_text(json.dumps(coco))
    return folder / name


def coco_dataset(folder: Path, coco: dict, **kwargs) -> CocoDataset:
    return CocoDataset(ann_file=write(folder, coco), data_prefix=dict(img=folder), **kwargs)


# --- 1. counts of filtered images on the console; an emptied data set names the filters ---------------------

def test_filter_counts_are_warnings(folder):
    "Before: filter_empty_gt and class selection logged at INFO level to a logger without handlers: nothing shown."
    with pytest.warns(DataChangeWarning) as caught:
        ds = coco_dataset(folder, COCO, metainfo=dict(classes=('cat',)), filter_cfg=dict(filter_empty_gt=True))
    assert len(ds) == 1
    message = str(caught[0].message)
    assert 'class_not_selected: 1 annotations removed' in message and 'filter_empty_gt: 1 images removed' in message


def test_emptied_dataset_names_the_filters(folder):
    "Before: a data set of 0 images, and an error far later (the sampler or the first epoch)."
    with pytest.raises(ValueError, match='no image left of the 2 in the file: filter_empty_gt removed 2 images'):
        coco_dataset(folder, dict(COCO, annotations=[]), filter_cfg=dict(filter_empty_gt=True))


def test_ignore_empty_replacements_are_counted(folder):
    "Before: a corrupt image was replaced by another with ignore_empty=True, and nothing said so."
    (folder / 'b.jpg').write_bytes(b'not a jpeg')
    ds = coco_dataset(folder, COCO, pipeline=[dict(type='LoadImageFromFile', ignore_empty=True)])
    np.random.seed(0)
    with pytest.warns(UserWarning, match=r'b\.jpg.*ignore_empty=True, so another image takes its place \(1 skipped'):
        assert ds[1]['img_path'].endswith('a.jpg')


# --- 2. EXIF-rotated images ---------------------------------------------------------------------------------

def test_exif_rotated_size(folder):
    "Before: the header's 40x30 was used for an image the loader turns to 30x40; y2=38 was clipped to 30."
    exif = Image.Exif(); exif[0x0112] = 8  # turn 90 degrees counter-clockwise to view
    Image.new('RGB', (40, 30)).save(folder / 'turned.jpg', exif=exif)
    coco = dict(images=[dict(id=1, file_name='turned.jpg')], categories=[dict(id=1, name='dog')],
                annotations=[dict(id=1, image_id=1, category_id=1, bbox=[2, 30, 20, 8])])  # y 30..38: inside 30x40
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ds = coco_dataset(folder, coco, pipeline=[dict(type='LoadImageFromFile')])
    info = ds.get_data_info(0)
    assert (info['height'], info['width']) == (40, 30) == ds[0]['img'].shape[:2]
    assert info['instances'][0]['bbox'] == [2.0, 30.0, 22.0, 38.0]


# --- 3. duplicate ids, backends that agree, non-finite results -----------------------------------------------

def test_duplicate_ids_are_errors(folder):
    "Before: two images with one id shared their annotations; two annotations with one id were both kept."
    images = COCO['images'] + [dict(id=2, file_name='a.jpg')]
    with pytest.raises(AnnotationFileError, match=r'ann\.json: 1 image ids are not unique: \[2\]'):
        coco_dataset(folder, dict(COCO, images=images))
    anns = COCO['annotations'] + [dict(COCO['annotations'][0], id=2)]
    with pytest.raises(AnnotationFileError, match=r'ann\.json: 1 annotation ids are not unique: \[2\]'):
        coco_dataset(folder, dict(COCO, annotations=anns))
    with pytest.raises(AnnotationFileError, match='annotation ids are not unique'):
        CocoMetric(ann_file=str(write(folder, dict(COCO, annotations=anns))))


def predictions(boxes: list, labels: list, scores: list, img_id: int = 1) -> DetDataSample:
    pred = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float64).reshape(-1, 4),
                        labels=torch.tensor(labels, dtype=torch.int64), scores=torch.tensor(scores))
    return DetDataSample(metainfo=dict(img_id=img_id), pred_instances=pred)


def evaluate(ann_file: Path, samples: list, backend: str) -> dict:
    metric = CocoMetric(ann_file=str(ann_file), backend=backend)
    metric.dataset_meta = dict(classes=('dog', 'cat'))
    metric.process({}, samples)
    with contextlib.redirect_stdout(io.StringIO()): return metric.evaluate(len(samples))


BOX = st.tuples(st.integers(0, 30), st.integers(0, 20), st.integers(1, 12), st.integers(1, 12))


@settings(max_examples=30, deadline=None)
@given(gt=st.lists(st.tuples(st.integers(1, 2), st.integers(1, 2), BOX, st.booleans()), max_size=6),
       dets=st.lists(st.tuples(st.integers(1, 2), st.integers(0, 1), BOX, st.floats(0.01, 1)), max_size=8))
def test_backends_agree(tmp_path_factory, gt, dets):
    "Before: duplicate annotation ids gave 0.084 (pycocotools) against 1.0 (fast). Now refused; all else agrees."
    folder = tmp_path_factory.mktemp('agree')
    coco = dict(COCO, annotations=[dict(id=i + 1, image_id=img, category_id=cat, bbox=list(box),
                                        area=box[2] * box[3], iscrowd=int(crowd))
                                   for i, (img, cat, box, crowd) in enumerate(gt)])
    ann_file = write(folder, coco)
    samples = []
    for img in (1, 2):
        mine = [(label, (x, y, x + w, y + h), s) for i, label, (x, y, w, h), s in dets if i == img]
        samples.append(predictions([b for _, b, _ in mine], [lab for lab, _, _ in mine], [s for *_, s in mine], img))
    fast, ref = evaluate(ann_file, samples, 'fast'), evaluate(ann_file, samples, 'pycocotools')
    assert fast == ref


def test_nonfinite_results_name_the_image(folder):
    "Before: a NaN box scored 0.56 with pycocotools and 1.0 with the fast backend."
    ann_file = write(folder, COCO)
    samples = [predictions([[1, 2, 11, 10], [20, 5, float('nan'), 15]], [0, 1], [.9, .8]), predictions([], [], [], 2)]
    for backend in ('fast', 'pycocotools'):
        with pytest.raises(ValueError, match='image 1 has 1 predictions with a NaN or infinite box or score'):
            evaluate(ann_file, samples, backend)
    finite = r'annotations\[0\] \(id 1\): "bbox" is \[1, nan, 10, 8\], not \[x, y, w, h\] \(finite 4 numbers\)'
    with pytest.raises(AnnotationFileError, match=finite):
        coco = copy.deepcopy(COCO); coco['annotations'][0]['bbox'][1] = float('nan')
        CocoMetric(ann_file=str(write(folder, coco)))


# --- 4. numbers must be numbers; records have their fields; files are whole -----------------------------------

@pytest.mark.parametrize('change, message', [
    (lambda c: c['annotations'][0].update(bbox=['10', '10', '5', '5']),
     r'annotations\[0\] \(id 1\): "bbox" is \[\'10\', \'10\', \'5\', \'5\'\], not \[x, y, w, h\] \(4 numbers\)'),
    (lambda c: c['annotations'][0].update(bbox=[1, 2, 3, 4, 5]), r'"bbox" is \[1, 2, 3, 4, 5\]'),
    (lambda c: c['images'][0].pop('file_name'), r'images\[0\] \(id 1\): "file_name" is None, not a string'),
    (lambda c: c['images'][1].pop('id'), r'images\[1\]: "id" is None'),
    (lambda c: c['annotations'][1].pop('id'), r'annotations\[1\]: "id" is None'),
    (lambda c: c['annotations'][0].update(iscrowd='0'), r'"iscrowd" is \'0\', not 0 or 1'),
])
def test_coco_records_are_checked(folder, change, message):
    "Before: string coordinates became [10, 10, 105, 105]; missing fields were KeyErrors without the file."
    coco = copy.deepcopy(COCO); change(coco)
    with pytest.raises(AnnotationFileError, match=r'ann\.json: .*' + message):
        coco_dataset(folder, coco)


def test_truncated_json_names_the_file(folder):
    "Before: a JSONDecodeError that did not say which file."
    (folder / 'cut.json').write_text(json.dumps(COCO)[:100])
    with pytest.raises(AnnotationFileError, match=r'cut\.json: not a valid json file \(JSONDecodeError'):
        CocoDataset(ann_file=folder / 'cut.json', data_prefix=dict(img=folder))


@pytest.mark.parametrize('obj, message', [
    ('<name>dog</name><bndbox><xmin>1</xmin><ymin>one</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>',
     "object 0 \\(dog\\) <ymin> is 'one', not a number"),
    ('<name>dog</name><difficult>x</difficult><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>',
     "object 0 \\(dog\\) <difficult> is 'x', not 0 or 1"),
    ('<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>', 'object 0 has no <name>'),
])
def test_voc_fields_are_checked(tmp_path, obj, message):
    "Before: <difficult>x</difficult> was a ValueError from int() that named no file."
    for sub in ('Annotations', 'JPEGImages'): (tmp_path / sub).mkdir()
    Image.new('RGB', (40, 30)).save(tmp_path / 'JPEGImages' / '1.jpg')
    (tmp_path / 'Annotations' / '1.xml').write_text(f'<annotation><object>{obj}</object></annotation>')
    (tmp_path / 'ids.txt').write_text('1\n')
    with pytest.raises(AnnotationFileError, match=r'1\.xml: ' + message):
        XMLDataset(ann_file=tmp_path / 'ids.txt', data_root=tmp_path, metainfo=dict(classes=('dog',)))


def test_nonfinite_label_is_a_bad_annotation(folder):
    "Before: a NaN `bbox_label` (json's NaN) stopped loading with a bare 'cannot convert float NaN to integer'."
    from detnb.datasets.base import BadAnnotationError, BaseDetDataset
    ann = dict(metainfo=dict(classes=['dog', 'cat']), data_list=[dict(img_path='a.jpg', height=30, width=40, instances=[
        dict(bbox=[1, 2, 10, 8], bbox_label=float('nan')), dict(bbox=[1, 2, 10, 8], bbox_label=1)])])
    path = str(write(folder, ann))
    with pytest.raises(BadAnnotationError, match=r'bbox_label nan is not a label of the 2 classes \(unknown_category\)'):
        BaseDetDataset(ann_file=path, data_prefix=dict(img=str(folder)))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter('always')
        dataset = BaseDetDataset(ann_file=path, data_prefix=dict(img=str(folder)),
                                 bad_annotation=dict(unknown_category='skip'))
    assert [inst['bbox_label'] for inst in dataset.get_data_info(0)['instances']] == [1]
