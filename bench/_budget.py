"""What the wall-clock-budget benchmarks share (`bccd_race.py`, `mask_rcnn_shapes.py`, `tta_bccd.py`): a hook that
times training iterations and stops training once a deadline has passed, a training dataloader that then ends its
pass, and the seconds per iteration of a short run of the real training loop (data loading, hooks and logging
included: timing the model's step alone undercounts them)."""
import math, time


def budget_clock(deadline: float = math.inf):
    "A hook that records the end of every training iteration, stops training at the first that ends past `deadline`."
    from detnb.engine.hooks import Hook

    class BudgetClock(Hook):
        "Iteration end times, the validation's time and metrics; `out_of_time` once an iteration ends past deadline."
        priority = 'VERY_LOW'
        def __init__(self): self.iter_times, self.metrics, self.val_seconds, self.out_of_time = [], {}, 0.0, False
        def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
            self.iter_times.append(time.perf_counter())
            if self.iter_times[-1] > deadline and runner.iter + 1 < runner.max_iters and not self.out_of_time:
                runner.train_loop.stop_training = self.out_of_time = True
                runner.logger.warning(f'the budget ran out at iteration {runner.iter + 1} of {runner.max_iters}: '
                                      'stopping')
        def before_val_epoch(self, runner) -> None: self._val_start = time.perf_counter()
        def after_val_epoch(self, runner, metrics=None) -> None:
            self.val_seconds, self.metrics = time.perf_counter() - self._val_start, dict(metrics or {})
    return BudgetClock()


class BudgetedLoader:
    "A training dataloader whose pass ends early once `clock.out_of_time` (the rest: the dataloader's own)."
    def __init__(self, loader, clock): self.loader, self.clock = loader, clock
    def __iter__(self):
        for batch in self.loader:
            if self.clock.out_of_time: return
            yield batch
    def __len__(self) -> int: return len(self.loader)
    def __getattr__(self, name: str): return getattr(self.loader, name)


def seconds_per_iter(short_cfg) -> float:
    "Wall seconds per training iteration of the runner built from `short_cfg` (a few iterations), after the first."
    from detnb.engine.runner import Runner
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator'): short_cfg.pop(key, None)
    runner = Runner.from_cfg(short_cfg)
    runner.logger.setLevel('WARNING')
    clock = budget_clock()
    runner.register_hook(clock)
    runner.train()
    times = clock.iter_times
    if len(times) < 2: raise ValueError(f'timing needs at least 2 training iterations, the short run had {len(times)}')
    return (times[-1] - times[0]) / (len(times) - 1)
