"""The command line as separate processes: `detnb print-config` (a shipped config, an override, output that loads
back), and what `detnb` imports: no torch for `detnb --help`, and no library module imports `detnb.cli`."""
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


def modules_after(code: str) -> set[str]:
    "The modules a fresh interpreter has imported after running `code`."
    result = subprocess.run([sys.executable, '-c', f'{code}\nimport sys; print(" ".join(sys.modules))'],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_top_level_help_and_version_import_no_torch():
    # what the `detnb` console script runs for `detnb --help` and `detnb --version` (both exit with status 0)
    for flag in ('--help', '--version'):
        loaded = modules_after(f'import contextlib, io, detnb.cli\nwith contextlib.redirect_stdout(io.StringIO()):\n'
                               f'    try: detnb.cli.main([{flag!r}])\n    except SystemExit as e: assert e.code == 0')
        assert 'torch' not in loaded and 'numpy' not in loaded, flag
        assert {m for m in loaded if m.startswith('detnb')} == {'detnb', 'detnb.cli'}, flag


def test_a_command_help_imports_only_its_own_module():
    loaded = modules_after('import contextlib, io, detnb.cli\nwith contextlib.redirect_stdout(io.StringIO()):\n'
                           '    try: detnb.cli.main(["train", "--help"])\n    except SystemExit: pass')
    assert 'torch' not in loaded
    assert {m for m in loaded if m.startswith('detnb')} == {'detnb', 'detnb.cli', 'detnb.train'}


def test_the_library_never_imports_the_command_line():
    from detnb.cli import COMMANDS
    modules = sorted({target.partition(':')[0] for cmd in COMMANDS.values() for target in (cmd.arguments, cmd.run)})
    modules.remove('detnb.cli')  # print-config lives in the command line itself
    assert 'detnb.train' in modules and 'detnb.apis.quickstart' in modules
    assert 'detnb.cli' not in modules_after(f'import {", ".join(modules)}')


def test_console_script_help_lists_every_command(tmp_path):
    from detnb.cli import COMMANDS
    result = subprocess.run([sys.executable, '-m', 'detnb.cli', '--help'], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('usage: detnb ')
    assert all(name in result.stdout for name in COMMANDS)
