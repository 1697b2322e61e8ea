"""The documentation site builds from the notebooks (Sphinx + myst-nb over nbdev's processed notebooks)."""
import importlib.util, subprocess, sys
import pytest
from conftest import ROOT


@pytest.mark.slow
def test_docs_build():
    missing = [m for m in ('sphinx', 'myst_nb', 'furo') if importlib.util.find_spec(m) is None]
    if missing: pytest.skip(f'docs extras not installed ({", ".join(missing)}): pip install -e ".[docs]"')
    res = subprocess.run([sys.executable, 'docs/build.py'], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    html = ROOT / 'docs' / '_build' / 'html'
    assert (html / 'index.html').exists() and (html / 'registry.html').exists()
    assert 'did you mean' in (html / 'registry.html').read_text()
