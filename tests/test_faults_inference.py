"""Inference inputs that must fail loudly (issue 18): arrays that are not 8-bit images, empty images, a
decompression bomb, a checkpoint whose class names do not fit the head, and `detnb infer` without weights.
Each case was silently wrong or crashed late before: the test names the message a user now reads."""
import os, subprocess, sys, textwrap, zlib
from pathlib import Path
import numpy as np
import pytest
import torch

from detnb.apis.inference import check_image_file, image_from_array, inference_detector, init_detector
from detnb.config import Config
from detnb.engine.checkpoint import atomic_save

SHAPES_FCOS = 'detnb::quickstart/fcos_r18_shapes.py'


def black_png(path: Path, width: int, height: int) -> Path:
    "A gray 8-bit PNG of `width` x `height` black pixels, written row by row: small on disk, huge decoded."
    deflate, row = zlib.compressobj(9), bytes(1 + width)
    body = b''.join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, 'big') + kind + data + zlib.crc32(kind + data).to_bytes(4, 'big')
    ihdr = width.to_bytes(4, 'big') + height.to_bytes(4, 'big') + bytes([8, 0, 0, 0, 0])
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', body) + chunk(b'IEND', b''))
    return path


@pytest.mark.parametrize('img, expected', [
    (np.full((2, 3, 3), 257 * 200, np.uint16), np.full((2, 3, 3), 200, np.uint8)),  # before: fed 51400 as a pixel
    (np.full((2, 3), 99.6, np.float64), np.full((2, 3), 100, np.uint8)),
])
def test_arrays_converted(img, expected):
    np.testing.assert_array_equal(image_from_array(img), expected)


@pytest.mark.parametrize('img, message', [
    (np.full((4, 4, 3), 0.5, np.float32), 'scaled to [0, 1]?'),  # before: a black image, detections of nothing
    (np.zeros((0, 0, 3), np.uint8), 'empty: 0 x 0 pixels'),  # before: a cv2.resize assertion deep in the pipeline
    (np.zeros((8, 0), np.uint8), 'empty: 8 x 0 pixels'),
    (np.zeros((4, 4, 3), np.int64), 'dtype int64 are not read'),
    (np.zeros((4, 4, 4), np.uint8), 'drop alpha'),
])
def test_arrays_refused(img, message):
    with pytest.raises((ValueError, TypeError)) as info: image_from_array(img)
    assert message in str(info.value)


def test_decompression_bomb_refused_from_its_header(tmp_path):
    bomb = black_png(tmp_path / 'bomb.png', 30_000, 30_000)  # 2.7 GB as the loader's BGR image
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(ValueError, match=r'30000 x 30000 = 900,000,000 pixels, more than the limit of 89,478,485'):
        check_image_file(bomb)
    check_image_file(bomb, max_pixels=0)  # no limit: the header is all that is read


def test_decompression_bomb_costs_no_memory(tmp_path):
    # in a fresh process, so that the peak memory is this case's: refusing must not decode 2.7 GB
    bomb = black_png(tmp_path / 'bomb.png', 30_000, 30_000)
    code = textwrap.dedent(f'''
        import resource, sys
        from detnb.apis.inference import check_image_file
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try: check_image_file({str(bomb)!r})
        except ValueError as e: print('refused:', e)
        print('grew_mb', (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
    ''')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300, check=True).stdout
    assert 'refused:' in out and 'more than the limit' in out, out
    assert float(out.split('grew_mb')[1]) < 100, out


def test_a_checkpoint_of_other_classes_is_refused_at_load_time(tmp_path):
    cfg = Config.fromfile(SHAPES_FCOS)  # 4 classes
    model = init_detector(cfg)
    checkpoint = tmp_path / 'three.pth'
    meta = dict(dataset_meta=dict(classes=('a', 'b', 'c')))
    atomic_save(dict(state_dict=model.state_dict(), meta=meta), checkpoint)
    # before: loaded, then `detnb infer` failed on the first drawing with "get_palette: 3 colours given for 4 classes"
    with pytest.raises(ValueError, match=r"names 3 classes \('a', 'b', 'c'\), but the model's head predicts 4"):
        init_detector(cfg, checkpoint)


def test_inference_refuses_before_the_model_runs(tmp_path):
    model = init_detector(SHAPES_FCOS)
    with pytest.raises(ValueError, match='empty: 0 x 0 pixels'):
        inference_detector(model, np.zeros((0, 0, 3), np.uint8))
    bomb = black_png(tmp_path / 'bomb.png', 12_000, 12_000)
    with pytest.raises(ValueError, match='more than the limit'): inference_detector(model, bomb)
    image = black_png(tmp_path / 'small.png', 96, 64)
    with pytest.raises(ValueError, match='96 x 64 = 6,144 pixels'): inference_detector(model, image, max_pixels=6000)
    assert isinstance(inference_detector(model, image).pred_instances.scores, torch.Tensor)


def detnb(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'detnb.cli', *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, env={**os.environ, **env})


def test_detnb_infer_warns_of_random_weights_and_names_the_classes(tmp_path):
    import json
    black_png(tmp_path / 'img.png', 64, 64)
    run = detnb('infer', 'img.png', SHAPES_FCOS, '--out-dir', 'out', '--no-save-vis',
                '--cfg-options', 'model.test_cfg.score_thr=0.0', cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert 'detnb infer: warning: no weights given: the detector has the random weights' in run.stderr
    pred = json.loads((tmp_path / 'out' / 'preds' / 'img.json').read_text())
    names = ('circle', 'square', 'triangle', 'star')
    assert pred['labels'] and pred['label_names'] == [names[i] for i in pred['labels']]


def test_detnb_infer_max_pixels(tmp_path):
    black_png(tmp_path / 'bomb.png', 20_000, 20_000)
    run = detnb('infer', 'bomb.png', SHAPES_FCOS, cwd=tmp_path)
    warning, error = run.stderr.splitlines()  # the random weights, then the refusal: one line each
    assert run.returncode == 2 and warning.startswith('detnb infer: warning: no weights given'), run.stderr
    assert error.startswith('detnb infer: error: bomb.png: 20000 x 20000 = 400,000,000 pixels'), run.stderr
    assert 'Traceback' in detnb('infer', 'bomb.png', SHAPES_FCOS, cwd=tmp_path, DETNB_DEBUG='1').stderr
