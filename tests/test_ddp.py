"""Distributed data parallel on the CPU: 2 processes under torchrun (Gloo) train like 1 process with the
same global batch, and their validation metric is gathered over both processes."""
import json, os, socket, subprocess, sys
from pathlib import Path

import torch

from detnb.testing.toys import write_toy_config

TESTS = Path(__file__).resolve().parent  # holds engine_toys, which the configs import


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def train(command, work_dir, *options):
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(TESTS), os.environ.get('PYTHONPATH', '')])}
    return subprocess.Popen([*command, '--work-dir', str(work_dir), *options], env=env, cwd=work_dir.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def val_metrics(work_dir):
    (log_dir,) = [p for p in work_dir.iterdir() if p.is_dir()]
    lines = [json.loads(l) for l in next(log_dir.glob('vis_data/*.json')).read_text().splitlines()]
    return [l['mae'] for l in lines if 'mae' in l], [l['n'] for l in lines if 'n' in l]


def test_two_gloo_processes_equal_one_process(tmp_path):
    # no dropout, no augmentation noise: the two runs differ only in how the global batch of 4 is split
    train_loader = dict(batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(type='ToyLine', noise=0.0))
    config = write_toy_config(tmp_path / 'toy_ddp.py', ['engine_toys'], model=dict(type='ToyLineModel', dropout=0.0),
                              train_dataloader=train_loader, env_cfg=dict(dist_cfg=dict(backend='nccl')),
                              train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1))
    single = train([sys.executable, '-m', 'detnb.train', str(config)], tmp_path / 'single')
    double = train([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_addr=127.0.0.1',
                    f'--master_port={free_port()}', '-m', 'detnb.train', str(config)], tmp_path / 'double',
                   '--cfg-options', 'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2')
    out_single, out_double = single.communicate(timeout=300)[0], double.communicate(timeout=300)[0]
    assert single.returncode == 0, out_single[-3000:]
    assert double.returncode == 0, out_double[-3000:]
    (log_dir,) = [d for d in (tmp_path / 'double').iterdir() if d.is_dir()]  # the environment goes to the log file
    log = next(log_dir.glob('*.log')).read_text()
    assert 'distributed: 2 processes, backend gloo' in log  # the config asks for nccl: no CUDA here
    a = torch.load(tmp_path / 'single' / 'epoch_2.pth', weights_only=True)
    b = torch.load(tmp_path / 'double' / 'epoch_2.pth', weights_only=True)
    assert a['meta']['iter'] == b['meta']['iter'] == 6
    for key in a['state_dict']:
        torch.testing.assert_close(b['state_dict'][key], a['state_dict'][key], rtol=0, atol=1e-5)
    first = torch.load(tmp_path / 'single' / 'epoch_1.pth', weights_only=True)
    assert not torch.equal(a['state_dict']['linear.weight'], first['state_dict']['linear.weight'])
    assert len(b['rng_state']) == 2  # one random state per process
    mae_single, n_single = val_metrics(tmp_path / 'single')
    mae_double, n_double = val_metrics(tmp_path / 'double')
    assert n_single == n_double == [12, 12]  # the 2 processes' predictions gathered: every image once
    torch.testing.assert_close(torch.tensor(mae_double), torch.tensor(mae_single), rtol=0, atol=1e-5)
    assert not list((tmp_path / 'double').glob('*/*.log'))[1:], 'only rank 0 writes a log file'
