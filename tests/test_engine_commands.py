"""`detnb train` and `detnb test` as a user runs them: a train -> checkpoint -> test round trip on a tiny
registered model, `--out` predictions, `--resume`, a NaN loss stopped by CheckInvalidLossHook, and `--help`."""
import json, os, pickle, subprocess, sys
from pathlib import Path

import torch

from detnb.testing.toys import write_toy_config

TESTS = Path(__file__).resolve().parent  # holds engine_toys, which the configs import

TWO_EPOCHS = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1)


def write_config(path, **overrides):
    "A toy config that trains 2 epochs in a process that imports `engine_toys` (the toys registered there)."
    return write_toy_config(path, ['engine_toys'], **{'train_cfg': TWO_EPOCHS, **overrides})


def detnb(*args, cwd, module='detnb.cli'):
    "Run `detnb ARGS` (`module='detnb.cli'`, what the console script runs) or `python -m detnb.train|test ARGS`."
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(TESTS), os.environ.get('PYTHONPATH', '')])}
    return subprocess.run([sys.executable, '-m', module, *map(str, args)], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def json_log(work_dir):
    (log_dir,) = [p for p in work_dir.iterdir() if p.is_dir()]
    return [json.loads(l) for l in next(log_dir.glob('vis_data/*.json')).read_text().splitlines()]


def test_train_checkpoint_test_round_trip(tmp_path):
    config = write_config(tmp_path / 'toy_line.py', model=dict(type='ToyLineModel', dropout=0.0))
    trained = detnb('train', config, '--threads', 1, cwd=tmp_path)
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-3000:]
    work_dir = tmp_path / 'work_dirs' / 'toy_line'  # the default work folder: work_dirs/<config name>
    # the console: one line with the log's path, no config; no progress bar (stdout is a pipe); the log has them
    (log_file,) = work_dir.glob('*/*.log')
    assert f'INFO - log: {log_file} (the environment and the config are written there)' in trained.stdout
    assert 'Config:' not in trained.stdout and 'System environment' not in trained.stdout
    assert 'epoch 1/2' not in trained.stdout and 'Epoch(train) [2][3/3]' in trained.stdout
    log = log_file.read_text()
    assert 'Config:' in log and "type='ToyLineModel'" in log and 'torch CPU threads: 1' in log
    assert {p.name for p in work_dir.glob('*.pth')} == {'epoch_1.pth', 'epoch_2.pth'}
    assert (work_dir / 'last_checkpoint').read_text() == 'epoch_2.pth' and (work_dir / 'toy_line.py').is_file()
    val_mae = [l['mae'] for l in json_log(work_dir) if 'mae' in l][-1]

    tested = detnb(config, work_dir / 'epoch_2.pth', '--work-dir', tmp_path / 'test_run',
                   '--out', tmp_path / 'results.pkl', cwd=tmp_path, module='detnb.test')
    assert tested.returncode == 0, tested.stderr[-3000:]
    (test_line,) = json_log(tmp_path / 'test_run')
    assert test_line['n'] == 12 and abs(test_line['mae'] - val_mae) < 1e-6  # the weights validated after epoch 2
    assert f"Epoch(test) [3/3]  mae: {test_line['mae']:.4f}" in tested.stdout
    with open(tmp_path / 'results.pkl', 'rb') as f: results = pickle.load(f)
    assert [r['img_id'] for r in results] == list(range(12))
    assert all(r['pred_instances']['scores'].shape == (1,) for r in results)


def test_resume_from_a_named_checkpoint(tmp_path):
    config = write_config(tmp_path / 'toy_line.py', train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=3))
    assert detnb('train', config, '--work-dir', tmp_path / 'a', cwd=tmp_path).returncode == 0
    resumed = detnb(config, '--work-dir', tmp_path / 'b', '--resume', tmp_path / 'a' / 'epoch_2.pth', cwd=tmp_path,
                    module='detnb.train')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed from' in resumed.stdout and 'epoch 2, iteration 6' in resumed.stdout
    assert {p.name for p in (tmp_path / 'b').glob('*.pth')} == {'epoch_3.pth'}  # only the epoch that was left
    a, b = (torch.load(tmp_path / d / 'epoch_3.pth', weights_only=True)['state_dict'] for d in 'ab')
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_nan_loss_stops_training_naming_the_iteration(tmp_path):
    config = write_config(tmp_path / 'toy_nan.py', custom_hooks=[dict(type='CheckInvalidLossHook', interval=1)])
    run = detnb('train', config, '--work-dir', tmp_path / 'w', '--cfg-options', '+model.nan_at_iter=4', cwd=tmp_path)
    assert run.returncode != 0
    message = 'the loss is nan at iteration 4 (epoch 2, batch 1): loss=nan, loss_mse=nan, loss_reg='
    assert message in run.stderr and 'FloatingPointError' in run.stderr, run.stderr[-3000:]
    assert {p.name for p in (tmp_path / 'w').glob('*.pth')} == {'epoch_1.pth'}  # no NaN checkpoint


def test_help_lists_the_options_of_the_seed_tools(tmp_path):
    train_help = detnb('train', '--help', cwd=tmp_path).stdout  # detnb train --help
    assert train_help.startswith('usage: detnb train '), train_help
    for option in ('--work-dir', '--amp', '--auto-scale-lr', '--resume', '--cfg-options', '--threads', '--launcher'):
        assert option in train_help, option
    test_help = detnb('--help', cwd=tmp_path, module='detnb.test').stdout  # python -m detnb.test --help
    assert test_help.startswith('usage: detnb test ')
    for option in ('checkpoint', '--work-dir', '--out', '--show', '--show-dir', '--cfg-options', '--threads',
                   '--launcher', '--tta'):
        assert option in test_help, option
