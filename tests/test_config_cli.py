"""`detnb print-config` run as a separate process: a shipped config, an override, output that loads back."""
import subprocess, sys

from detnb.config import Config


def test_print_config_shipped_schedule_with_override(tmp_path):
    # run from an empty folder, so that `detnb::` must resolve through the installed package
    result = subprocess.run(
        [sys.executable, '-m', 'detnb.cli', 'print-config', 'detnb::_base_/schedules/schedule_1x.py',
         '--cfg-options', 'optim_wrapper.optimizer.lr=0.01'],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    cfg = Config.fromstring(result.stdout)
    assert cfg.optim_wrapper.optimizer.lr == 0.01
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001)
    shipped = Config.fromfile('detnb::_base_/schedules/schedule_1x.py')
    assert shipped.optim_wrapper.optimizer.lr == 0.02
    # everything but the overridden learning rate is printed as shipped
    shipped.optim_wrapper.optimizer.lr = 0.01
    assert cfg == shipped


def test_print_config_reports_a_malformed_override(tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'detnb.cli', 'print-config', 'detnb::_base_/schedules/schedule_1x.py',
         '--cfg-options', 'param_scheduler.7.gamma=0.5'],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert 'param_scheduler.7.gamma=0.5' in result.stderr and 'out of range' in result.stderr, result.stderr
