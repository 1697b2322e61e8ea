"""`ops/ms_deform_attn.cu` (multi-scale deformable attention, forward and backward): compiled by nvcc (warnings as
errors) and NVRTC for sm_80 and sm_90, and run on the CPU through the g++ emulation (`detnb.testing.cuda_emulation`)
against the `grid_sample` reference: values and the gradients of values, locations and weights within 1e-5, on
random cases and edge cases; clean under ThreadSanitizer and AddressSanitizer (slow). The CPU path
(`MultiScaleDeformableAttnCPUFunction`, the CPU dispatch of `multi_scale_deformable_attn`) against the same
reference on the same cases, with heads split into groups and with several threads."""
import shutil, subprocess
from pathlib import Path
import pytest
import torch

from detnb.ops import NVRTC_OPTIONS
from detnb.models.layers.ms_deform_attn import (MultiScaleDeformableAttnCPUFunction, MultiScaleDeformableAttnFunction,
                                                ms_deform_attn_source, multi_scale_deformable_attn,
                                                multi_scale_deformable_attn_pytorch)

ARCHS = [80, 90]


@pytest.mark.parametrize('arch', ARCHS)
def test_nvcc_compiles_without_warnings(arch, tmp_path):
    nvcc = shutil.which('nvcc')
    if nvcc is None: pytest.skip('nvcc is not on PATH (no CUDA toolkit here); CI machines have it')
    source = tmp_path / 'ms_deform_attn.cu'
    source.write_text(ms_deform_attn_source())
    result = subprocess.run([nvcc, '--cubin', f'-arch=sm_{arch}', '-Werror', 'all-warnings', *NVRTC_OPTIONS,
                             '-o', str(tmp_path / 'ms_deform_attn.cubin'), str(source)], capture_output=True, text=True)
    assert result.returncode == 0, f'nvcc failed on ops/ms_deform_attn.cu for sm_{arch}:\n{result.stderr}'


@pytest.mark.parametrize('arch', ARCHS)
def test_nvrtc_compiles(arch):
    try:
        from cupy.cuda import nvrtc
        nvrtc.getVersion()
    except Exception as error:  # cupy missing, or no NVRTC library for it
        pytest.skip(f'NVRTC through CuPy is not available here: {error}')
    program = nvrtc.createProgram(ms_deform_attn_source(), 'ms_deform_attn.cu', [], [])
    try:
        nvrtc.compileProgram(program, [*NVRTC_OPTIONS, f'--gpu-architecture=sm_{arch}'])
        assert nvrtc.getCUBIN(program)[:4] == b'\x7fELF'
    finally: nvrtc.destroyProgram(program)


def random_case(B, Q, heads, C, shapes, P, lo=0., hi=1., seed=0):
    "value, spatial_shapes, level_start_index, sampling_locations, attention_weights; locations in [lo, hi]."
    g = torch.Generator().manual_seed(seed)
    shapes = torch.tensor(shapes)
    sizes = shapes[:, 0] * shapes[:, 1]
    start = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)[:-1]])
    value = torch.randn(B, int(sizes.sum()), heads, C, generator=g)
    loc = torch.rand(B, Q, heads, len(shapes), P, 2, generator=g) * (hi - lo) + lo
    weights = torch.rand(B, Q, heads, len(shapes), P, generator=g)
    return value, shapes, start, loc, weights


CASES = {  # (B, Q, heads, C, shapes, P, lo, hi)
    'random': (2, 7, 4, 8, [(8, 10), (4, 5), (2, 3), (1, 2)], 4, 0., 1.),
    'outside the maps': (1, 9, 2, 3, [(6, 5), (3, 3)], 3, -0.6, 1.6),
    'single level': (2, 5, 3, 5, [(7, 9)], 2, 0., 1.),
    'odd sizes': (1, 11, 1, 7, [(13, 3), (1, 1), (5, 11)], 5, -0.1, 1.1),
}


def emulated_kernels(sanitizer=None):
    from detnb.testing.cuda_emulation import EmulatedKernels
    return EmulatedKernels('ms_deform_attn', ms_deform_attn_source(), sanitizer=sanitizer)


def check_against_reference(kernels, B, Q, heads, C, shapes, P, lo, hi, seed=0):
    "The kernel's output and gradients equal the reference's within 1e-5."
    check_function(lambda v, s, start, l, w: MultiScaleDeformableAttnFunction.apply(v, s, start, l, w, kernels),
                   B, Q, heads, C, shapes, P, lo, hi, seed)


def check_function(function, B, Q, heads, C, shapes, P, lo, hi, seed=0):
    "`function(value, shapes, start, locations, weights)`: output and gradients equal the reference's within 1e-5."
    inputs = random_case(B, Q, heads, C, shapes, P, lo, hi, seed)
    value, shapes, start, loc, weights = inputs
    grad_output = torch.randn(B, Q, heads * C, generator=torch.Generator().manual_seed(seed + 1))
    results = []
    for run in (lambda v, l, w: function(v, shapes, start, l, w),
                lambda v, l, w: multi_scale_deformable_attn_pytorch(v, shapes, l, w)):
        leaves = [t.clone().requires_grad_() for t in (value, loc, weights)]
        out = run(*leaves)
        out.backward(grad_output)
        results.append([out.detach(), *(t.grad for t in leaves)])
    for name, kernel, reference in zip(['output', 'value', 'location', 'weight'], *results):
        torch.testing.assert_close(kernel, reference, rtol=1e-5, atol=1e-5, msg=lambda m: f'{name}: {m}')


needs_gxx = pytest.mark.skipif(shutil.which('g++') is None, reason='the CUDA emulation needs g++ (C++20)')


@needs_gxx
@pytest.mark.parametrize('case', CASES)
def test_emulated_kernel_equals_reference(case):
    check_against_reference(emulated_kernels(), *CASES[case])


@needs_gxx
def test_emulated_kernel_empty_query():
    check_against_reference(emulated_kernels(), 1, 0, 2, 3, [(4, 4)], 2, 0., 1.)


@pytest.mark.parametrize('case', CASES)
def test_cpu_function_equals_reference(case):
    check_function(lambda v, shapes, start, l, w: MultiScaleDeformableAttnCPUFunction.apply(v, shapes, l, w),
                   *CASES[case])


def test_cpu_dispatch_empty_query_and_threads():
    check_function(multi_scale_deformable_attn, 1, 0, 2, 3, [(4, 4)], 2, 0., 1.)
    threads = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            for queries in (13, 9):  # 13 * 9 > 87 positions: level by level; 9 * 9 <= 87: all levels at once
                check_function(multi_scale_deformable_attn, 2, queries, 5, 4, [(9, 7), (5, 4), (2, 2)], 3, -0.3, 1.3)
    finally: torch.set_num_threads(threads)


@pytest.mark.slow
@needs_gxx
@pytest.mark.parametrize('sanitizer', ['thread', 'address'])
def test_kernel_sanitizers_clean(sanitizer):
    from detnb.testing.cuda_emulation import SANITIZER_RUNTIMES, compiler_file, run_sanitized
    if compiler_file(SANITIZER_RUNTIMES[sanitizer]) is None: pytest.skip(f'g++ has no {sanitizer} runtime here')
    source = ms_deform_attn_source()
    code = (f'import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n'
            'from detnb.testing.cuda_emulation import EmulatedKernels\n'
            'from test_ms_deform_attn_kernel import check_against_reference, CASES\n'
            f'kernels = EmulatedKernels("ms_deform_attn", {source!r}, sanitizer={sanitizer!r})\n'
            'for case in CASES.values(): check_against_reference(kernels, *case)\nprint("clean")')
    assert run_sanitized(code, sanitizer, sources={'ms_deform_attn': source}).strip() == 'clean'
