"""The command line as separate processes: `detnb print-config` (a shipped config, an override, output that loads
back), what `detnb` imports (no torch for `detnb --help`, and no library module imports `detnb.cli`), and what a
user reads when something goes wrong: one line, exit status 2 (130 for Ctrl-C), the traceback with DETNB_DEBUG=1."""
import os, signal, subprocess, sys

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


def detnb(*args: str, cwd, **env: str) -> subprocess.CompletedProcess:
    "`detnb ARGS` in a fresh process, run from `cwd`, with `env` added to the environment."
    return subprocess.run([sys.executable, '-m', 'detnb.cli', *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env={**os.environ, **env})


def test_a_misspelled_config_is_one_line_with_did_you_mean(tmp_path):
    result = detnb('train', 'detnb::retinanet/retinanet_r18_fpn_bcd.py', cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ''
    assert result.stderr.count('\n') == 1 and 'Traceback' not in result.stderr, result.stderr
    assert result.stderr.startswith("detnb train: error: config file 'detnb::retinanet/retinanet_r18_fpn_bcd.py' not")
    assert result.stderr.endswith('did you mean detnb::retinanet/retinanet_r18_fpn_bccd.py?\n'), result.stderr
    # MMDetection's habit, a path into its repository: the shipped config of that file name is suggested
    result = detnb('print-config', 'configs/fcos/fcos_r18_fpn_gn-head_bccd.py', cwd=tmp_path)
    assert result.stderr.endswith('did you mean detnb::fcos/fcos_r18_fpn_gn-head_bccd.py?\n'), result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = detnb('print-config', 'nothing.py', cwd=tmp_path, DETNB_DEBUG='1')
    assert result.returncode == 1 and 'Traceback (most recent call last)' in result.stderr
    assert 'FileNotFoundError' in result.stderr and "config file 'nothing.py' not found" in result.stderr


def test_list_configs(tmp_path):
    result = detnb('list-configs', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = result.stdout.split()
    assert 'detnb::quickstart/fcos_r18_shapes.py' in names and 'detnb::retinanet/retinanet_r50_fpn_1x_coco.py' in names
    assert all(n.startswith('detnb::') and '_base_' not in n for n in names)
    for name in names:  # every listed name loads and has a model, but the test-time augmentation parts
        assert Config.fromfile(name).get('model') or name.endswith('_tta.py'), name
    assert detnb('list-configs', 'fcos', cwd=tmp_path).stdout.split() == [n for n in names if 'fcos' in n]
    assert 'detnb::_base_/default_runtime.py' in detnb('list-configs', '--all', 'runtime', cwd=tmp_path).stdout
    none = detnb('list-configs', 'centernet', cwd=tmp_path)
    assert none.returncode == 1 and none.stderr == "detnb list-configs: no shipped config contains 'centernet'\n"


def test_ctrl_c_is_one_line_and_status_130(tmp_path):
    # a command that receives a real SIGINT (what Ctrl-C sends) while it runs
    (tmp_path / 'interrupted.py').write_text('import os, signal, time\ndef add(p): pass\n'
                                             'def run(args):\n    os.kill(os.getpid(), signal.SIGINT)\n'
                                             '    time.sleep(30)\n')
    code = ('import sys; from unittest import mock; import detnb.cli as cli\n'
            'with mock.patch.dict(cli.COMMANDS, wait=cli.Command("interrupted:add", "interrupted:run", "wait")):\n'
            '    sys.exit(cli.main(["wait"]))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                            env={**os.environ, 'PYTHONPATH': str(tmp_path)},  # Ctrl-C's default action, even
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # under `nohup cmd &`
    assert result.returncode == 130 and result.stderr == 'detnb wait: interrupted\n', result.stderr
