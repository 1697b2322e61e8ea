"""A wheel built from this repository, installed in a fresh virtual environment, finds its CUDA kernels
(`ops/*.cu`, installed as `detnb.kernels`) through package resources, compiles them with NVRTC, and runs them
in the CPU emulation: from another directory, so that nothing comes from the source tree. Slow (a build, a
venv, the emulation's compiles): `pytest --flags slow tests/test_ops_wheel.py`."""
import os, shutil, subprocess, sys, venv
from pathlib import Path

import pytest

from conftest import ROOT

CHECK = '''
import importlib.resources, sys
import detnb, detnb.ops as ops
prefix = sys.argv[1]
assert detnb.__file__.startswith(prefix), f'detnb imported from {detnb.__file__}, not from the venv {prefix}'
assert str(ops.kernel_dir()).startswith(prefix), f'kernels found at {ops.kernel_dir()}, not in the venv'
assert sorted(p.name for p in importlib.resources.files('detnb.kernels').iterdir() if p.name.endswith('.cu')) == \\
    sorted(f'{name}.cu' for name in ops.KERNEL_FILES)
try:
    from cupy.cuda import nvrtc
    nvrtc.getVersion()
except Exception as error:
    print(f'NVRTC not available ({error}): compile check skipped')
else:
    for name in ops.KERNEL_FILES:
        for arch in (80, 90): assert ops.nvrtc_compile(name, arch)[:4] == b'\\x7fELF'
    print('nvrtc ok')
from detnb.testing.cuda_emulation import exercise_kernels
exercise_kernels()
print('emulation ok')
'''


@pytest.mark.slow
def test_wheel_ships_and_finds_its_kernels(tmp_path):
    source = tmp_path / 'source'  # a copy, so that the build leaves nothing in the working tree
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns('.git', '__pycache__', 'build', 'dist', '*.egg-info',
                                                                 '.pytest_cache', '.ipynb_checkpoints', '_proc', '_docs'))
    wheels = tmp_path / 'wheels'
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(wheels),
                    str(source)], check=True)
    wheel, = wheels.glob('detnb-*.whl')

    env_dir = tmp_path / 'venv'
    venv.create(env_dir, system_site_packages=True, with_pip=True)  # torch, cupy from the system; detnb from the wheel
    python = str(env_dir / 'bin' / 'python')
    subprocess.run([python, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index', str(wheel)], check=True)

    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    environment = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    environment['DETNB_CACHE_DIR'] = str(tmp_path / 'cache')
    result = subprocess.run([python, '-c', CHECK, str(env_dir)], cwd=elsewhere, capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    assert 'emulation ok' in result.stdout
