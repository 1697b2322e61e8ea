"""A toy problem for the engine's process-level tests, registered into detnb's registries.

Configs load it with `custom_imports = dict(imports=['engine_toys'])` (the tests put this folder on PYTHONPATH).
`ToyLine` fits y = 2 x1 - x2 + 0.5 x3 + 1 with a linear model; the dataset adds NumPy noise to the inputs and
the model has dropout, so that Python/NumPy and torch random streams both matter for exact resuming.
"""
import io, os, signal, time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from detnb.engine.evaluator import BaseMetric
from detnb.engine.hooks import Hook
from detnb.models.base import BaseModel
from detnb.registry import DATASETS, HOOKS, METRICS, MODELS
from detnb.structures import DetDataSample, InstanceData


@DATASETS.register_module()
class ToyLine(Dataset):
    metainfo = dict(classes=('value',))

    def __init__(self, n=12, noise=0.1):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 3, generator=g)
        self.y = self.x @ torch.tensor([2., -1., .5]) + 1
        self.noise = noise

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = self.x[i] + self.noise * torch.from_numpy(np.random.randn(3)).float()
        return dict(inputs=x, data_samples=DetDataSample(metainfo=dict(img_id=i), gt_value=self.y[i]))


@MODELS.register_module()
class ToyLineModel(BaseModel):
    def __init__(self, dropout=0.2, nan_at_iter=0, **kwargs):
        super().__init__(**kwargs)
        self.linear, self.dropout = nn.Linear(3, 1), nn.Dropout(dropout)
        self.nan_at_iter, self.loss_calls = nan_at_iter, 0

    def init_weights(self):
        nn.init.normal_(self.linear.weight, std=0.1)
        nn.init.zeros_(self.linear.bias)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(self.dropout(torch.stack(inputs))).squeeze(1)
        if mode == 'loss':
            self.loss_calls += 1
            loss = F.mse_loss(out, torch.stack([s.gt_value for s in data_samples]))
            if self.loss_calls == self.nan_at_iter: loss = loss * float('nan')
            return {'loss_mse': loss, 'loss_reg': 1e-3 * self.linear.weight.abs().sum()}
        for s, v in zip(data_samples, out):
            s.pred_instances = InstanceData(scores=v[None].detach(), labels=torch.zeros(1, dtype=torch.long), bboxes=torch.zeros(1, 4))
        return data_samples


@METRICS.register_module()
class ToyLineError(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results += [float((s.pred_instances.scores[0] - s.gt_value).abs()) for s in data_samples]

    def compute_metrics(self, results):
        return {'mae': float(np.mean(results)), 'n': len(results)}


@HOOKS.register_module()
class SlowIterations(Hook):
    "Sleeps after every training iteration, so that a process can be killed at a random moment."
    def __init__(self, seconds=0.02):
        self.seconds = seconds

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        time.sleep(self.seconds)


@HOOKS.register_module()
class KillSwitch(Hook):
    """SIGKILLs its own process after iteration $DETNB_KILL_AT_ITER, or halfway through writing checkpoint
    number $DETNB_KILL_IN_SAVE of this process (its torch.save writes half the bytes, then the process dies)."""
    def __init__(self):
        self.at_iter = int(os.environ.get('DETNB_KILL_AT_ITER', 0))
        self.in_save = int(os.environ.get('DETNB_KILL_IN_SAVE', 0))
        self.saves = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.at_iter: os.kill(os.getpid(), signal.SIGKILL)

    def before_save_checkpoint(self, runner, checkpoint):
        self.saves += 1
        if self.saves != self.in_save: return
        real_save = torch.save

        def dying_save(obj, f, *args, **kwargs):
            buffer = io.BytesIO()
            real_save(obj, buffer)
            f.write(buffer.getvalue()[:len(buffer.getvalue()) // 2])
            f.flush()
            os.fsync(f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = dying_save


TOY_CONFIG = """
custom_imports = dict(imports=['engine_toys'], allow_failed_imports=False)
model = dict(type='ToyLineModel', dropout={dropout})
train_dataloader = dict(batch_size=4, num_workers={num_workers}, persistent_workers=False,
                        sampler=dict(type='DefaultSampler', shuffle=True), dataset=dict(type='ToyLine', n=12, noise={noise}))
train_cfg = {train_cfg}
val_dataloader = dict(batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dict(type='ToyLine', n=12, noise=0.0))
val_cfg = dict(type='ValLoop')
val_evaluator = dict(type='ToyLineError')
test_dataloader = val_dataloader
test_cfg = dict(type='TestLoop')
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=5),
                   dict(type='MultiStepLR', by_epoch=True, milestones=[4], gamma=0.1)]
default_hooks = dict(checkpoint={checkpoint}, logger=dict(type='LoggerHook', interval=1))
custom_hooks = {custom_hooks}
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0), dist_cfg=dict(backend='nccl'))
auto_scale_lr = dict(enable=False, base_batch_size=4)
randomness = dict(seed=2024)
log_level = 'INFO'
"""


def write_config(path, dropout=0.2, noise=0.1, num_workers=0, train_cfg="dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1)",
                 checkpoint="dict(type='CheckpointHook', interval=1)", custom_hooks='[]'):
    "Write the toy config with these settings to `path`; returns `path`."
    path.write_text(TOY_CONFIG.format(dropout=dropout, noise=noise, num_workers=num_workers, train_cfg=train_cfg,
                                      checkpoint=checkpoint, custom_hooks=custom_hooks))
    return path
