"""The package list, which pyproject.toml cannot express: every `detnb*` package, plus the CUDA kernels of
the top-level `ops/` folder installed as the package `detnb.kernels`."""
from setuptools import find_packages, setup

setup(packages=find_packages(include=['detnb*']) + ['detnb.kernels'], package_dir={'detnb.kernels': 'ops'})
