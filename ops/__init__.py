"""The CUDA C kernels of `detnb.ops` (`*.cu`), installed as the package `detnb.kernels`."""
