"""The kernels of `ops/` in the CPU emulation (`detnb.testing.cuda_emulation`) under ThreadSanitizer and
AddressSanitizer: every kernel runs clean, and each sanitizer catches a planted bug (so a clean run means
something). Each run starts a Python with the sanitizer runtime preloaded, about ten seconds."""
import shutil
import pytest

from detnb.testing.cuda_emulation import SANITIZER_RUNTIMES, SanitizerError, compiler_file, run_sanitized

pytestmark = pytest.mark.skipif(shutil.which('g++') is None, reason='the CUDA emulation needs g++ (C++20)')


def needs_runtime(sanitizer: str):
    if compiler_file(SANITIZER_RUNTIMES[sanitizer]) is None:
        pytest.skip(f'g++ has no {SANITIZER_RUNTIMES[sanitizer]} here: the {sanitizer} sanitizer cannot run')


RACY = r'''
extern "C" __global__ void racy(float* out) {
  __shared__ float value;
  if (threadIdx.x == 0) value = 1.0f;
  out[threadIdx.x] = value;  // no __syncthreads() between the write and the reads
}
'''

PAST_THE_END = r'''
extern "C" __global__ void past_the_end(const float* in, float* out) {
  out[threadIdx.x] = in[threadIdx.x + 1];  // the last thread reads one element past the end
}
'''


@pytest.mark.parametrize('sanitizer', ['thread', 'address'])
def test_kernels_run_clean(sanitizer):
    needs_runtime(sanitizer)
    code = f'from detnb.testing.cuda_emulation import exercise_kernels; exercise_kernels({sanitizer!r}); print("clean")'
    assert run_sanitized(code, sanitizer).strip() == 'clean'


def test_thread_sanitizer_reports_a_race():
    needs_runtime('thread')
    code = ('import torch; from detnb.testing.cuda_emulation import EmulatedKernels\n'
            f'EmulatedKernels("racy", {RACY!r}, sanitizer="thread")("racy", (1,), (32,), (torch.zeros(32),))')
    with pytest.raises(SanitizerError, match='data race'):
        run_sanitized(code, 'thread', sources={'racy': RACY})


def test_address_sanitizer_reports_a_read_past_the_end():
    needs_runtime('address')
    code = ('import torch; from detnb.testing.cuda_emulation import EmulatedKernels\n'
            f'EmulatedKernels("past_the_end", {PAST_THE_END!r}, sanitizer="address")'
            '("past_the_end", (1,), (32,), (torch.zeros(32), torch.zeros(32)))')
    with pytest.raises(SanitizerError, match='heap-buffer-overflow'):
        run_sanitized(code, 'address', sources={'past_the_end': PAST_THE_END})
