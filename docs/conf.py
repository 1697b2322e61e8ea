"""Sphinx configuration of the detnb documentation site.

The pages are the notebooks of `nbs/` as nbdev's processors leave them, turned into plain notebooks in
`docs/_build/src` by `docs/build.py` and rendered by myst-nb without executing them again
(`sphinx-build -W -c docs docs/_build/src docs/_build/html`: this folder holds the configuration only).
"""
import detnb

project = 'detnb'
author = 'detnb developers'
release = version = detnb.__version__
extensions = ['myst_nb']
nb_execution_mode = 'off'
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence']
source_suffix = {'.ipynb': 'myst-nb', '.md': 'myst-nb'}
exclude_patterns = []  # the source folder is docs/_build/src (`docs/build.py`), this folder holds the configuration
html_theme = 'furo'
html_title = f'detnb {version}'
html_favicon = 'favicon.svg'
suppress_warnings = ['mystnb.unknown_mime_type', 'misc.highlighting_failure', 'myst.header']
myst_all_links_external = True  # nbdev's cross-links are plain `page.html#anchor` hrefs
myst_heading_anchors = 3
html_static_path = ['_static']
html_js_files = ['version_switcher.js']  # the versions of docs/versions.json, as the build writes them
html_css_files = ['detnb.css']
# saved notebooks keep no widget state: a page shows a widget's static picture (its image/jpeg), not an empty view
nb_mime_priority_overrides = [('*', 'application/vnd.jupyter.widget-view+json', None)]
