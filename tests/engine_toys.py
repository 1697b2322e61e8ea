"""The module that the configs of the process-level engine tests import (`custom_imports`): in the process
that runs `detnb train`, it registers the toys of `detnb.testing.toys` and two hooks that slow down and kill
that process. The tests themselves never import it, so their own process keeps the registries clean; they
write configs with `write_toy_config(path, ['engine_toys'], ...)` and put this folder on PYTHONPATH.
"""
import io, os, signal, time

import torch

from detnb.engine.hooks import Hook
from detnb.registry import HOOKS
from detnb.testing.toys import register_toys

register_toys()


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
