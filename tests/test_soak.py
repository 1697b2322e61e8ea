"""Soak test (slow): a seeded CPU toy training run is killed with SIGKILL 20 times and resumed with
`detnb train --resume` after each kill; its final checkpoint equals an uninterrupted run's bit for bit, and
after every kill every checkpoint file in the work folder loads.

The run: 24 epochs of 3 iterations, a checkpoint every 2 iterations (most in the middle of an epoch),
validation after every epoch, EMA, warm-up and step schedules, dropout, NumPy noise in the data. The kill
points are drawn from a seeded generator, five of each kind, always after the point the run resumes from:
after a random iteration, halfway through writing a checkpoint, at a random batch of a validation, and
from outside (`kill -9`) a random fraction of a second after training restarted.

This file is also the module that the configs of the killed processes import (`custom_imports`): there,
with DETNB_SOAK_CHILD set, it registers the hook that kills its own process at the drawn point.
"""
import io, os, random, signal, subprocess, sys, time
from pathlib import Path

import pytest
import torch

from detnb.engine.hooks import Hook
from detnb.registry import HOOKS

TESTS = Path(__file__).resolve().parent
SEED, KILLS, EPOCHS = 18, 20, 24
LAST = f'iter_{3 * EPOCHS}.pth'


class SoakKill(Hook):
    """SIGKILLs its own process where $DETNB_SOAK_KILL says: 'iter:N' after iteration N, 'save:N' halfway through
    writing the checkpoint of iteration N, 'val:N:B' at batch B of the validation after iteration N."""
    priority = 'LOWEST'

    def __init__(self):
        kind, *where = os.environ.get('DETNB_SOAK_KILL', 'none').split(':')
        self.kind, self.where = kind, [int(w) for w in where]

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.kind == 'iter' and runner.iter + 1 == self.where[0]: os.kill(os.getpid(), signal.SIGKILL)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.kind == 'val' and [runner.iter, batch_idx] == self.where: os.kill(os.getpid(), signal.SIGKILL)

    def before_save_checkpoint(self, runner, checkpoint):
        if self.kind != 'save' or checkpoint['meta']['iter'] != self.where[0]: return
        real_save = torch.save

        def dying_save(obj, f, *args, **kwargs):
            buffer = io.BytesIO()
            real_save(obj, buffer)
            f.write(buffer.getvalue()[:len(buffer.getvalue()) // 2])
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = dying_save


if os.environ.get('DETNB_SOAK_CHILD'): HOOKS.register_module(module=SoakKill)

RUN = dict(  # the keys of the toy config that the soak changes
    train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=EPOCHS, val_interval=1),
    optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4)),
    param_scheduler=[dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
                     dict(type='MultiStepLR', by_epoch=True, milestones=[16], gamma=0.1)],
    default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False, max_keep_ckpts=3),
                       logger=dict(type='LoggerHook', interval=1)),
    custom_hooks=[dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.01, priority=49),
                  dict(type='SlowIterations', seconds=0.02), dict(type='SoakKill')],
    randomness=dict(seed=2024))


def start(config, work_dir, out, kill='none'):
    command = [sys.executable, '-m', 'detnb.train', str(config), '--work-dir', str(work_dir), '--resume']
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(TESTS), os.environ.get('PYTHONPATH', '')]),
           'DETNB_SOAK_CHILD': '1', 'DETNB_SOAK_KILL': kill}
    return subprocess.Popen(command, env=env, stdout=open(out, 'w'), stderr=subprocess.STDOUT, cwd=work_dir.parent)


def resume_point(work_dir) -> int:
    "The iteration of the checkpoint that `last_checkpoint` names (0 without one); every checkpoint must load."
    for path in work_dir.glob('*.pth'): torch.load(path, weights_only=True)  # raises on a torn file
    pointer = work_dir / 'last_checkpoint'
    if not pointer.is_file(): return 0
    return torch.load(work_dir / pointer.read_text(), weights_only=True)['meta']['iter']


def draw_kill(rng, kind, done) -> str:
    "A kill point of `kind` after iteration `done`, where the run resumes."
    if kind == 'iter': return f'iter:{done + rng.randint(1, 4)}'
    if kind == 'save': return f'save:{done - done % 2 + 2 * rng.randint(1, 2)}'
    return f'val:{3 * (done // 3 + rng.randint(1, 2))}:{rng.randint(0, 2)}'


@pytest.mark.slow
def test_twenty_sigkills_then_bitwise_equal(tmp_path):
    from detnb.testing.toys import write_toy_config
    config = write_toy_config(tmp_path / 'toy_soak.py', ['engine_toys', 'test_soak'], **RUN)
    began = time.time()
    straight = start(config, tmp_path / 'straight', tmp_path / 'straight.txt')  # alongside the killed chain
    rng = random.Random(SEED)
    kinds = ['iter', 'save', 'val', 'outside'] * (KILLS // 4)
    rng.shuffle(kinds)
    work, history = tmp_path / 'killed', []
    for k, kind in enumerate(kinds):
        done = resume_point(work) if work.is_dir() else 0
        out = tmp_path / f'run_{k}.txt'
        if kind == 'outside':
            delay = rng.uniform(0.0, 0.4)
            process, deadline = start(config, work, out), time.time() + 300
            while 'Epoch(train)' not in out.read_text() and process.poll() is None and time.time() < deadline:
                time.sleep(0.02)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            plan = f'outside:{delay:.2f}s'
        else:
            plan = draw_kill(rng, kind, done)
            assert int(plan.split(':')[1]) < 3 * EPOCHS, f'the run is too short for {KILLS} kills: {history}'
            process = start(config, work, out, kill=plan)
        status = process.wait(timeout=300)
        history.append(f'{done}->{plan}')
        assert status == -signal.SIGKILL, f'{history}: exit {status}\n' + out.read_text()[-3000:]
    resume_point(work)  # the last kill, too, left every file readable
    final = start(config, work, tmp_path / 'final.txt')
    assert final.wait(timeout=300) == 0, (tmp_path / 'final.txt').read_text()[-3000:]
    assert straight.wait(timeout=300) == 0, (tmp_path / 'straight.txt').read_text()[-3000:]
    print(f'\nsoak: {KILLS} SIGKILLs and {KILLS + 1} resumed processes in {time.time() - began:.0f} s; '
          f'resume point -> kill: {", ".join(history)}')

    expected = torch.load(tmp_path / 'straight' / LAST, weights_only=True)
    resumed = torch.load(work / LAST, weights_only=True)
    for key in ('state_dict', 'ema_state_dict', 'optimizer', 'param_schedulers'):
        assert_same_state(expected[key], resumed[key], key)
    assert resumed['meta']['iter'] == 3 * EPOCHS
    assert not list(work.glob('.*.tmp')) and not (work / 'detnb.lock').exists()


def assert_same_state(a, b, where=''):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), f'{where} differs'
    elif isinstance(a, dict):
        assert set(a) == set(b), f'{where}: keys {sorted(a)} vs {sorted(b)}'
        for k in a: assert_same_state(a[k], b[k], f'{where}[{k!r}]')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)): assert_same_state(x, y, f'{where}[{i}]')
    else:
        assert a == b, f'{where}: {a!r} vs {b!r}'
