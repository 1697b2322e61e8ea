"""`detnb quickstart` end to end, as a user runs it: the command succeeds, leaves its files, and its bbox mAP
meets the goal of issue 6 (COCO mAP@[.5:.95] >= 0.7 on the validation split).

Not a timed test: the wall time is printed for the record; `bench/quickstart.py` measures it with the peak
memory. It trains for a few minutes, so it is marked slow: `pytest --flags slow tests/test_quickstart.py`.
"""
import json, subprocess, sys
from pathlib import Path
import pytest


def detnb_command() -> list[str]:
    "The `detnb` console script of this interpreter's environment, else `python -m detnb.cli` (the same entry point)."
    script = Path(sys.executable).parent / 'detnb'
    return [str(script)] if script.is_file() else [sys.executable, '-m', 'detnb.cli']


@pytest.mark.slow
def test_quickstart_meets_the_goal(tmp_path):
    work = tmp_path / 'quickstart'
    proc = subprocess.run([*detnb_command(), 'quickstart', '--work-dir', str(work)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, f'detnb quickstart failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}'
    summary = json.loads((work / 'metrics.json').read_text())
    for key in ('checkpoint', 'predictions', 'log', 'config'):
        assert Path(summary[key]).is_file(), f'{key}: {summary[key]} is missing'
    assert f"{summary['metrics']['coco/bbox_mAP']:.3f}" in proc.stdout  # the printed mAP is the one in metrics.json
    print(f"detnb quickstart: bbox mAP {summary['metrics']['coco/bbox_mAP']:.3f}, "
          f"mAP50 {summary['metrics']['coco/bbox_mAP_50']:.3f}, {summary['wall_time_s']:.0f} s, "
          f"{summary['num_threads']} threads")
    assert summary['metrics']['coco/bbox_mAP'] >= summary['goal']['bbox_mAP'] == 0.7


def test_make_shapes_then_train_the_shipped_config(tmp_path):
    # issue 19: `detnb train` of the quickstart config needs data/shapes/, which `detnb make-shapes` writes
    made = subprocess.run([*detnb_command(), 'make-shapes', '--num-train', '8', '--num-val', '4'], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stderr
    assert made.stdout == ('shapes data set: 8 train / 4 val images in data/shapes\n'
                           'train on it: detnb train detnb::quickstart/fcos_r18_shapes.py\n')
    trained = subprocess.run([*detnb_command(), 'train', 'detnb::quickstart/fcos_r18_shapes.py',
                              '--cfg-options', 'train_cfg.max_epochs=1'], cwd=tmp_path, capture_output=True,
                             text=True, timeout=600)
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    assert (tmp_path / 'work_dirs' / 'fcos_r18_shapes' / 'epoch_1.pth').is_file()
