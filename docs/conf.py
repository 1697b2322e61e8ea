"""Sphinx configuration of the detnb documentation site.

The pages are the notebooks of `nbs/` as nbdev processes them (`nbdev-proc-nbs`), turned into plain
notebooks by `docs/build.py` and rendered by myst-nb without executing them again.
"""
import detnb

project = 'detnb'
author = 'detnb developers'
release = version = detnb.__version__
extensions = ['myst_nb']
nb_execution_mode = 'off'
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence']
source_suffix = {'.ipynb': 'myst-nb', '.md': 'myst-nb'}
exclude_patterns = ['_build', 'conf.py', 'build.py']
html_theme = 'furo'
html_title = f'detnb {version}'
suppress_warnings = ['mystnb.unknown_mime_type', 'misc.highlighting_failure', 'myst.header']
myst_all_links_external = True  # nbdev's cross-links are plain `page.html#anchor` hrefs
myst_heading_anchors = 3
