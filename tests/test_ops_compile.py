"""Every kernel of `ops/` compiles for sm_80 and sm_90: with nvcc, warnings as errors, and with NVRTC called
directly through `cupy.cuda.nvrtc` (the compiler the GPU path uses; CuPy's own compile call needs a driver)."""
import shutil, subprocess
import pytest

from detnb.ops import KERNEL_FILES, NVRTC_OPTIONS, kernel_source, nvrtc_compile

ARCHS = [80, 90]


@pytest.mark.parametrize('arch', ARCHS)
@pytest.mark.parametrize('name', KERNEL_FILES)
def test_nvcc_compiles_without_warnings(name, arch, tmp_path):
    nvcc = shutil.which('nvcc')
    if nvcc is None: pytest.skip('nvcc is not on PATH (no CUDA toolkit here); CI machines have it')
    source = tmp_path / f'{name}.cu'
    source.write_text(kernel_source(name))
    result = subprocess.run([nvcc, '--cubin', f'-arch=sm_{arch}', '-Werror', 'all-warnings', *NVRTC_OPTIONS,
                             '-o', str(tmp_path / f'{name}.cubin'), str(source)], capture_output=True, text=True)
    assert result.returncode == 0, f'nvcc failed on ops/{name}.cu for sm_{arch}:\n{result.stderr}'


@pytest.mark.parametrize('arch', ARCHS)
@pytest.mark.parametrize('name', KERNEL_FILES)
def test_nvrtc_compiles(name, arch):
    try:
        from cupy.cuda import nvrtc
        nvrtc.getVersion()
    except Exception as error:  # cupy missing, or no NVRTC library for it
        pytest.skip(f'NVRTC through CuPy is not available here: {error}')
    assert nvrtc_compile(name, arch)[:4] == b'\x7fELF'
