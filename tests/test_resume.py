"""Exact resuming: a training run killed with SIGKILL at random moments, and resumed each time, ends with
weights bitwise equal to an uninterrupted run; no checkpoint file is ever left corrupt.

The run: epoch-based training, 6 epochs of 3 iterations, a checkpoint every 2 iterations (so most of them
are in the middle of an epoch), validation every 2 epochs, EMA, warm-up and step schedules, dropout in the
model, NumPy noise in the data, 2 dataloader workers. It is killed three times: by itself after a random
iteration, halfway through writing a checkpoint, and from outside at a random moment.
"""
import os, random, signal, subprocess, sys, time
from pathlib import Path

import torch

from detnb.testing.toys import write_toy_config

TESTS = Path(__file__).resolve().parent  # holds engine_toys, which the configs import

RUN = dict(  # the keys of the toy config that this test changes
    train_dataloader=dict(batch_size=4, num_workers=2, persistent_workers=False, dataset=dict(type='ToyLine'),
                          sampler=dict(type='DefaultSampler', shuffle=True)),
    train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=6, val_interval=2),
    optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4)),
    param_scheduler=[dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
                     dict(type='MultiStepLR', by_epoch=True, milestones=[4], gamma=0.1)],
    default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False, max_keep_ckpts=3),
                       logger=dict(type='LoggerHook', interval=1)),
    custom_hooks=[dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.01, priority=49),
                  dict(type='SlowIterations', seconds=0.02), dict(type='KillSwitch', priority='LOWEST')],
    env_cfg=dict(mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0)),
    randomness=dict(seed=2024))
LAST = 'iter_18.pth'


def start(config, work_dir, log, resume=False, **env):
    command = [sys.executable, '-m', 'detnb.train', str(config), '--work-dir', str(work_dir)]
    command += ['--resume'] if resume else []
    environment = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(TESTS), os.environ.get('PYTHONPATH', '')]),
                   **{k: str(v) for k, v in env.items()}}
    # output to a file, not a pipe: orphaned dataloader workers of a killed run must not hold the test up
    return subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=work_dir.parent)


def run(config, work_dir, log, resume=False, **env):
    return start(config, work_dir, log, resume, **env).wait(timeout=300)


def all_checkpoints_load(work_dir):
    for path in work_dir.glob('*.pth'):
        torch.load(path, weights_only=True)  # raises on a truncated or corrupt file


def assert_same_state(a, b, where=''):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), f'{where} differs: {a} vs {b}'
    elif isinstance(a, dict):
        assert set(a) == set(b), f'{where}: keys {sorted(a)} vs {sorted(b)}'
        for k in a: assert_same_state(a[k], b[k], f'{where}[{k!r}]')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)): assert_same_state(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} vs {b!r}'


def test_sigkill_and_resume_is_bitwise_exact(tmp_path):
    config = write_toy_config(tmp_path / 'toy_resume.py', ['engine_toys'], **RUN)
    rng = random.Random()
    kill_iter, kill_save, kill_delay = rng.randint(3, 9), rng.randint(2, 3), rng.uniform(0.0, 0.3)
    plan = f'kill after iteration {kill_iter}, in checkpoint write {kill_save}, {kill_delay:.2f} s after the next start'
    log = open(tmp_path / 'log.txt', 'w')

    straight = tmp_path / 'straight'
    uninterrupted = start(config, straight, open(tmp_path / 'straight.txt', 'w'))  # runs alongside the killed chain

    work = tmp_path / 'killed'
    # 1. the process kills itself right after iteration `kill_iter`
    assert run(config, work, log, DETNB_KILL_AT_ITER=kill_iter) == -signal.SIGKILL, plan
    all_checkpoints_load(work)
    # 2. resumed, it dies halfway through writing its `kill_save`-th checkpoint: a temporary file stays behind
    assert run(config, work, log, resume=True, DETNB_KILL_IN_SAVE=kill_save) == -signal.SIGKILL, plan
    assert list(work.glob('.*.tmp')), f'{plan}: the killed write should have left its temporary file'
    all_checkpoints_load(work)
    # 3. resumed, it is killed from outside at a random moment once training has started
    process = start(config, work, log, resume=True)
    log_file = tmp_path / 'log.txt'
    deadline = time.time() + 120
    while 'Epoch(train)' not in log_file.read_text()[-4000:] and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(kill_delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    all_checkpoints_load(work)
    # 4. resumed to the end
    assert run(config, work, log, resume=True) == 0, f'{plan}\n' + log_file.read_text()[-3000:]
    all_checkpoints_load(work)
    assert not list(work.glob('.*.tmp')), 'a later run removes the temporary files of killed writes'

    assert uninterrupted.wait(timeout=300) == 0, (tmp_path / 'straight.txt').read_text()[-3000:]
    expected = torch.load(straight / LAST, weights_only=True)
    resumed = torch.load(work / LAST, weights_only=True)
    for key in ('state_dict', 'ema_state_dict', 'optimizer', 'param_schedulers'):
        assert_same_state(expected[key], resumed[key], f'{plan}: {key}')
    assert resumed['meta']['iter'] == 18 and resumed['meta']['epoch'] == 5
    assert 'resumed from' in log_file.read_text()
