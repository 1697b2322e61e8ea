"""Faults of the engine, one test per point of issue #18 (engine part); each failed before its fix.

| case | before | after |
|---|---|---|
| loss turns NaN, default hooks | exit 0, `last_checkpoint` -> NaN weights | stops, exit != 0, no NaN file |
| loss turns NaN, check switched off | NaN checkpoints saved, pointed to | the save is refused, exit != 0 |
| NaN/inf weights loaded (load_from, resume, init_detector) | silent | warning: count, first names |
| EMA checkpoint resumed without `EMAHook` | trains on from the averages | refused (notebook engine/04_hooks) |
| second run in a busy work folder | both ran; one deleted the other's temp file | refused, naming pid and host |
| run killed, its lock left behind | (no lock) | taken over with a warning |
| umask 022 | checkpoints, `last_checkpoint`, config 0600 | 0644 |
| disk full (ENOSPC) | `OSError: [Errno 28]` from torch | first line "no space left on device: PATH" |
| Ctrl-C in `detnb train` | a traceback | one line: last checkpoint, resume command; exit 130 |
"""
import errno, io, json, os, re, shlex, signal, socket, subprocess, sys, time
from pathlib import Path

import pytest
import torch

from detnb.config import Config
from detnb.engine.checkpoint import LOCK_FILE, atomic_save, owner_tag
from detnb.engine.runner import Runner
from detnb.testing.toys import register_toys, toy_config, unregister_toys, write_toy_config


def default_sigint() -> None:
    "In a child process: Ctrl-C's default action, even where this test runs with SIGINT ignored (`nohup cmd &`)."
    signal.signal(signal.SIGINT, signal.SIG_DFL)

TESTS = Path(__file__).resolve().parent  # holds engine_toys, which the configs of `detnb train` import
NAN_AT_4 = dict(type='ToyLineModel', nan_at_iter=4)  # the 4th loss (epoch 2, batch 1) is NaN


@pytest.fixture
def toys():
    register_toys()
    yield
    unregister_toys()


def write_config(path, **overrides):
    return write_toy_config(path, ['engine_toys'], **overrides)


def detnb_command(*args):
    return [sys.executable, '-m', 'detnb.cli', *map(str, args)]


def environment():
    return {**os.environ, 'PYTHONPATH': os.pathsep.join([str(TESTS), os.environ.get('PYTHONPATH', '')])}


def detnb(*args, cwd):
    return subprocess.run(detnb_command(*args), env=environment(), cwd=cwd, capture_output=True, text=True, timeout=300)


def start(*args, cwd, log):
    return subprocess.Popen(detnb_command(*args), env=environment(), cwd=cwd, stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition, what, timeout=120):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline: raise TimeoutError(what)
        time.sleep(0.05)


def assert_finite_checkpoints(work_dir):
    for path in work_dir.glob('*.pth'):
        state = torch.load(path, weights_only=True)['state_dict']
        assert all(bool(torch.isfinite(v).all()) for v in state.values()), path


def toy_runner(work_dir, **overrides):
    return Runner.from_cfg(Config(toy_config(work_dir=str(work_dir), log_level='WARNING', **overrides)))


def log_of(runner):
    return (runner.log_dir / f'{runner.timestamp}.log').read_text()


# 1. a run whose loss turns NaN stops, exits non-zero, and no NaN checkpoint is saved or pointed to
def test_nan_loss_stops_detnb_train_by_default(tmp_path):
    config = write_config(tmp_path / 'toy_nan.py', model=NAN_AT_4)  # no hook added by hand
    run = detnb('train', config, '--work-dir', tmp_path / 'w', cwd=tmp_path)
    assert run.returncode != 0
    assert 'FloatingPointError: the loss is nan at iteration 4 (epoch 2, batch 1)' in run.stderr, run.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / 'w').glob('*.pth')) == ['epoch_1.pth']
    assert (tmp_path / 'w' / 'last_checkpoint').read_text() == 'epoch_1.pth'
    assert_finite_checkpoints(tmp_path / 'w')


def test_nan_weights_are_never_saved_even_without_the_loss_check(tmp_path):
    hooks = dict(logger=dict(type='LoggerHook', interval=1), invalid_loss=None,
                 checkpoint=dict(type='CheckpointHook', interval=1, save_best='auto'))
    config = write_config(tmp_path / 'toy_nan.py', model=NAN_AT_4, default_hooks=hooks)
    run = detnb('train', config, '--work-dir', tmp_path / 'w', cwd=tmp_path)
    assert run.returncode != 0
    assert ('FloatingPointError: ' + str(tmp_path / 'w' / 'epoch_2.pth') + ' is not saved: 2 weight tensors hold NaN '
            'or infinite values (state_dict.linear.weight, state_dict.linear.bias)') in run.stderr, run.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / 'w').glob('*.pth')) == ['best_mae_epoch_1.pth', 'epoch_1.pth']
    assert (tmp_path / 'w' / 'last_checkpoint').read_text() == 'epoch_1.pth'
    assert_finite_checkpoints(tmp_path / 'w')


# 2. loading weights that hold NaN/inf warns with the count and the first names
def poisoned(path, source):
    checkpoint = torch.load(source, weights_only=True)
    checkpoint['state_dict']['linear.weight'][0, 1] = float('nan')
    checkpoint['state_dict']['linear.bias'][0] = float('inf')
    torch.save(checkpoint, path)
    return path


def test_loading_nan_weights_warns(tmp_path, toys):
    trained = toy_runner(tmp_path / 'good')
    trained.train()
    bad = poisoned(tmp_path / 'bad.pth', tmp_path / 'good' / 'epoch_3.pth')
    expected = '2 keys with NaN or infinite values (loaded as they are): linear.weight, linear.bias'

    tester = toy_runner(tmp_path / 'test', load_from=str(bad))  # load_from, as `detnb test` loads
    tester.test()
    assert f'loading {bad}:\n{expected}' in log_of(tester)

    resumed = toy_runner(tmp_path / 'good', load_from=str(bad), resume=True,
                         train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=4))
    with pytest.raises(FloatingPointError, match='the loss is nan at iteration 10'):
        resumed.train()
    assert f'resuming from {bad}: {expected}' in log_of(resumed)

    from detnb.apis.inference import init_detector
    with pytest.warns(UserWarning, match=re.escape(expected)):
        init_detector(Config(toy_config()), str(bad))


# 4. one training run per work folder; a killed run's lock is taken over; nobody deletes another's temp files
def test_second_run_in_a_busy_work_folder_is_refused(tmp_path):
    config = write_config(tmp_path / 'toy.py', custom_hooks=[dict(type='SlowIterations', seconds=2)],
                          train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=20))
    work = tmp_path / 'w'
    first = start('train', config, '--work-dir', work, cwd=tmp_path, log=open(tmp_path / 'first.txt', 'w'))
    try:
        wait_for(lambda: (work / 'last_checkpoint').is_file() or first.poll() is not None, 'a first checkpoint')
        assert first.poll() is None, (tmp_path / 'first.txt').read_text()[-3000:]
        assert json.loads((work / LOCK_FILE).read_text())['pid'] == first.pid
        second = detnb('train', config, '--work-dir', work, '--resume', cwd=tmp_path)
        assert second.returncode != 0
        assert (f'RuntimeError: {work} is in use by another training run (pid {first.pid} on {socket.gethostname()}'
                in second.stderr), second.stderr[-3000:]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    assert json.loads((work / LOCK_FILE).read_text())['pid'] == first.pid  # a killed run cannot remove its lock
    resumed = detnb('train', config, '--work-dir', work, '--resume', '--cfg-options', 'custom_hooks=[]', cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f'(pid {first.pid}, started ' in resumed.stdout
    assert 'no longer runs; its lock is taken over' in resumed.stdout
    assert not (work / LOCK_FILE).exists()


def test_temporary_files_of_a_live_run_are_kept(tmp_path, toys):
    other = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])  # another run, writing
    try:
        in_flight = tmp_path / f'.epoch_1.pth.{owner_tag().rpartition("-")[0]}-{other.pid}.0123456789ab.tmp'
        in_flight.write_bytes(b'a checkpoint being written')
        toy_runner(tmp_path).train()
        assert in_flight.read_bytes() == b'a checkpoint being written'
    finally:
        other.kill()
        other.wait()


# 5. files the run writes respect the umask
@pytest.mark.skipif(sys.platform == 'win32', reason='POSIX permissions')
def test_written_files_respect_the_umask(tmp_path, toys):
    old = os.umask(0o022)
    try:
        runner = toy_runner(tmp_path / 'w')
        runner.train()
    finally:
        os.umask(old)
    for name in ('epoch_3.pth', 'last_checkpoint', f'{runner.experiment_name}.py'):  # the config, as the run saw it
        assert oct((tmp_path / 'w' / name).stat().st_mode & 0o777) == '0o644', name


# 6. a full disk says so, and where, on the first line of the error
def test_disk_full_names_the_file(tmp_path, toys, monkeypatch):
    atomic_save({'w': torch.zeros(3)}, tmp_path / 'w' / 'epoch_1.pth')
    real_save = torch.save

    def disk_full(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer)
        f.write(buffer.getvalue()[:100])
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(torch, 'save', disk_full)
    runner = toy_runner(tmp_path / 'w')
    with pytest.raises(OSError) as caught:
        runner.train()
    first_line = str(caught.value).splitlines()[0]
    assert first_line.startswith(f'no space left on device: {tmp_path / "w" / "epoch_1.pth"} could not be written')
    assert caught.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert torch.equal(torch.load(tmp_path / 'w' / 'epoch_1.pth', weights_only=True)['w'], torch.zeros(3))
    assert not list((tmp_path / 'w').glob('.*.tmp')) and not (tmp_path / 'w' / LOCK_FILE).exists()


# 7. Ctrl-C ends `detnb train` with one line: the last checkpoint and the command that resumes
@pytest.mark.skipif(sys.platform == 'win32', reason='SIGINT')
def test_ctrl_c_says_how_to_resume(tmp_path):
    config = write_config(tmp_path / 'toy.py', custom_hooks=[dict(type='SlowIterations', seconds=0.3)],
                          train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=20))
    work = tmp_path / 'w'
    with open(tmp_path / 'out.txt', 'w') as out, open(tmp_path / 'err.txt', 'w') as err:
        run = subprocess.Popen(detnb_command('train', config, '--work-dir', work), env=environment(), cwd=tmp_path,
                               stdout=out, stderr=err, preexec_fn=default_sigint)
        wait_for(lambda: (work / 'last_checkpoint').is_file() or run.poll() is not None, 'a first checkpoint')
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=120) == 130
    lines = (tmp_path / 'err.txt').read_text().splitlines()
    assert 'Traceback' not in '\n'.join(lines), lines
    last = work / (work / 'last_checkpoint').read_text()
    command = f'detnb train {config} --work-dir {work} --resume'
    assert lines[-1] == f'interrupted: the last checkpoint is {last}; resume with: {command}', lines
    assert not (work / LOCK_FILE).exists()
    resumed = subprocess.run(detnb_command(*shlex.split(command)[1:], '--cfg-options', 'custom_hooks=[]'),
                             env=environment(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0 and f'resumed from {last}' in resumed.stdout, resumed.stderr[-3000:]
    assert torch.load(work / 'epoch_20.pth', weights_only=True)['meta']['iter'] == 60
