"""Every notebook in `nbs/` runs as a test, honouring nbdev's `tst_flags` (`#| slow`, `#| gpu`)."""
from pathlib import Path
import json, re, sys, tempfile, tomllib, warnings
import pytest
from nbdev.test import test_nb as run_notebook  # renamed so that pytest does not collect it

from conftest import ROOT, run_flags

NBS = ROOT / 'nbs'
NOTEBOOKS = sorted(p for p in NBS.rglob('*.ipynb')
                   if not any(part.startswith(('_', '.')) for part in p.relative_to(NBS).parts))
TST_FLAGS = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['nbdev']['tst_flags'].split()


def test_found_notebooks():
    assert len(NOTEBOOKS) >= 2, f'no notebooks found under {NBS}'


def package_definition(obj):
    "The class or function of the imported detnb modules that a notebook's `__main__` copy `obj` re-defines."
    for name, module in list(sys.modules.items()):
        if name.startswith('detnb.') and getattr(getattr(module, obj.__name__, None), '__module__', None) == name:
            return getattr(module, obj.__name__)


REQUIRES = re.compile(r'^#\| requires (.+)$', re.M)


def missing_requirements(notebook: Path) -> list[str]:
    "The files a notebook's `#| requires PATH` lines name (relative to the notebook) that do not exist."
    cells = json.loads(notebook.read_text())['cells']
    paths = [p.strip() for c in cells if c['cell_type'] == 'code' for p in REQUIRES.findall(''.join(c['source']))]
    return [p for p in paths if not (notebook.parent / p).exists()]


@pytest.fixture(autouse=True)
def registries_without_notebook_classes():
    "Notebooks run in one process: after each, its `__main__` classes leave the registries for the package's own."
    yield
    import detnb.registry
    for registry in [r for r in vars(detnb.registry).values() if isinstance(r, detnb.registry.Registry)]:
        for key, obj in list(registry._module_dict.items()):
            if getattr(obj, '__module__', None) != '__main__': continue
            original = package_definition(obj)
            if original is None: del registry._module_dict[key]
            else: registry._module_dict[key] = original


@pytest.mark.parametrize('notebook', NOTEBOOKS, ids=[str(p.relative_to(NBS)) for p in NOTEBOOKS])
def test_notebook(notebook: Path, request, tmp_path, monkeypatch):
    if missing := missing_requirements(notebook): pytest.skip(f'needs {", ".join(missing)} (absent)')
    # the notebooks' `tempfile.mkdtemp()` folders (work dirs, checkpoints) land in pytest's `tmp_path`, which
    # pytest prunes: runs on one machine do not fill its disk
    monkeypatch.setenv('TMPDIR', str(tmp_path))
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    flags = run_flags(request.config)
    skip = [f for f in TST_FLAGS if f not in flags]
    # slow cells train for many minutes: no per-cell limit when they run
    # a notebook re-defines its module's classes in `__main__`, warning categories included: warnings raised with
    # them cannot travel from a pytest-xdist worker to the controller, so the notebook's warnings stay here
    with warnings.catch_warnings(record=True):
        warnings.simplefilter('always')
        ok, seconds = run_notebook(notebook, skip_flags=skip, basepath=ROOT, cell_timeout=None if flags else 600)
    assert ok, f'{notebook.relative_to(ROOT)} failed (its traceback is printed above)'
