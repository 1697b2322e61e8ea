"""Fuzzing the COCO and VOC loaders (issue #18): mutated annotation files raise only documented errors.

A loader fed any file either loads it or raises a `ValueError` (`AnnotationFileError`, `BadAnnotationError`, the
"no image left" error) or a `FileNotFoundError`, and the message names the annotation file. The fast run draws
200 files per loader; `pytest --flags slow` draws 10,000.
"""
import copy, json, warnings
from pathlib import Path
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st
from PIL import Image
from detnb.datasets.coco import CocoDataset
from detnb.datasets.voc import XMLDataset

DOCUMENTED = (ValueError, FileNotFoundError)
TEXT = st.text(alphabet=st.characters(blacklist_categories=('Cs',)), max_size=6)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=8)
COCO_KEYS = dict(images=['id', 'file_name', 'width', 'height'], categories=['id', 'name'],
                 annotations=['id', 'image_id', 'category_id', 'bbox', 'area', 'iscrowd', 'ignore', 'segmentation'])
BASE_COCO = dict(
    images=[dict(id=1, file_name='a.jpg', width=40, height=30), dict(id=2, file_name='b.jpg')],
    categories=[dict(id=1, name='dog'), dict(id=3, name='cat')],
    annotations=[dict(id=1, image_id=1, category_id=1, bbox=[1, 2, 10, 8], area=80, iscrowd=0,
                      segmentation=[[1, 2, 11, 2, 11, 10]]),
                 dict(id=2, image_id=2, category_id=3, bbox=[0.5, 0, 5, 5], area=25, iscrowd=1,
                      segmentation=dict(size=[30, 40], counts=[10, 5, 1185]))])


@pytest.fixture(scope='module')
def folder(tmp_path_factory) -> Path:
    "Images a.jpg (40x30) and b.jpg, and a VOC tree with one image."
    root = tmp_path_factory.mktemp('fuzz')
    for name in ('a.jpg', 'b.jpg'): Image.new('RGB', (40, 30)).save(root / name)
    for sub in ('Annotations', 'JPEGImages'): (root / 'voc' / sub).mkdir(parents=True)
    Image.new('RGB', (40, 30)).save(root / 'voc' / 'JPEGImages' / '000001.jpg')
    (root / 'voc' / 'ids.txt').write_text('000001\n')
    return root


def mutate_coco(data: st.DataObject) -> dict:
    "The base file with 1 to 4 random changes: a value replaced, a key removed, a record doubled or replaced."
    coco = copy.deepcopy(BASE_COCO)
    for _ in range(data.draw(st.integers(1, 4))):
        section = data.draw(st.sampled_from(sorted(COCO_KEYS)))
        records = coco[section]
        action = data.draw(st.sampled_from(['set', 'set', 'set', 'drop', 'double', 'record', 'section']))
        if action == 'section': coco[section] = data.draw(JSON_VALUES); continue
        if not isinstance(records, list) or not records: continue
        i = data.draw(st.integers(0, len(records) - 1))
        if action == 'double': records.append(copy.deepcopy(records[i])); continue
        if action == 'record': records[i] = data.draw(JSON_VALUES); continue
        if not isinstance(records[i], dict): continue
        key = data.draw(st.sampled_from(COCO_KEYS[section]) | TEXT)
        if action == 'drop': records[i].pop(key, None)
        else: records[i][key] = data.draw(JSON_VALUES)
    return coco


def assert_loads_or_documented_error(build, ann_file: Path):
    "`build()` loads, or raises a documented error whose message names `ann_file`."
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # counted skips warn: not what this test is about
        error = None
        try: build()
        except DOCUMENTED as e: error = e  # any other type fails the test with its traceback
    event('loaded' if error is None else type(error).__name__)  # the mix, in --hypothesis-show-statistics
    assert error is None or ann_file.name in str(error), f'{type(error).__name__} without the file: {error}'


def check_coco(folder: Path, data: st.DataObject):
    text = json.dumps(mutate_coco(data))
    if data.draw(st.booleans()): text = text[:data.draw(st.integers(0, len(text)))]  # truncated file
    ann_file = folder / 'fuzz.json'
    ann_file.write_text(text)
    assert_loads_or_documented_error(lambda: CocoDataset(ann_file=ann_file, data_prefix=dict(img=folder)), ann_file)


VOC_FIELDS = ['filename', 'size', 'width', 'height', 'object', 'name', 'difficult', 'bndbox', 'xmin', 'ymin', 'xmax',
              'ymax']


def mutate_voc(data: st.DataObject) -> str:
    "A VOC xml with random text in its fields, fields left out, or the text truncated."
    fields = dict(filename='000001.jpg', width='40', height='30', name='dog', difficult='0', xmin='1', ymin='2',
                  xmax='20', ymax='25')
    dropped = set()
    for _ in range(data.draw(st.integers(1, 3))):
        field = data.draw(st.sampled_from(VOC_FIELDS))
        if data.draw(st.booleans()): dropped.add(field)
        elif field in fields: fields[field] = data.draw(TEXT | st.floats().map(str) | st.integers().map(str))

    def tag(name: str, inner: str) -> str: return '' if name in dropped else f'<{name}>{inner}</{name}>'
    box = ''.join(tag(k, fields[k]) for k in ('xmin', 'ymin', 'xmax', 'ymax'))
    obj = tag('object', tag('name', fields['name']) + tag('difficult', fields['difficult']) + tag('bndbox', box))
    size = tag('size', tag('width', fields['width']) + tag('height', fields['height']))
    text = f'<annotation>{tag("filename", fields["filename"])}{size}{obj}</annotation>'
    return text[:data.draw(st.integers(0, len(text)))] if data.draw(st.booleans()) else text


def check_voc(folder: Path, data: st.DataObject):
    xml_file = folder / 'voc' / 'Annotations' / '000001.xml'
    xml_file.write_text(mutate_voc(data), encoding='utf-8')
    build = lambda: XMLDataset(ann_file=folder / 'voc' / 'ids.txt', data_root=folder / 'voc',
                               metainfo=dict(classes=('dog', 'cat')))
    assert_loads_or_documented_error(build, xml_file)


FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(data=st.data())
def test_coco_loader_fuzz(folder, data): check_coco(folder, data)


@FAST
@given(data=st.data())
def test_voc_loader_fuzz(folder, data): check_voc(folder, data)


@pytest.mark.slow
@SLOW
@given(data=st.data())
def test_coco_loader_fuzz_10k(folder, data): check_coco(folder, data)


@pytest.mark.slow
@SLOW
@given(data=st.data())
def test_voc_loader_fuzz_10k(folder, data): check_voc(folder, data)
