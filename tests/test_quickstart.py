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
