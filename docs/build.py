"""Build the documentation site: `python docs/build.py` writes `docs/_build/html`.

Quarto (which `nbdev-docs` needs) cannot be installed offline, so the site is built from nbdev's
processed notebooks with Sphinx and myst-nb:

1. `nbdev-proc-nbs` applies the directives (`#| hide`, `#| export` cells hidden, `show_doc` rendered). It runs
   the exported cells and every cell with an import to render `show_doc`; a test cell that imports something
   and then uses names of cells it does not run would fail, so it reads a copy of `nbs/` in which such cells
   carry `#| eval: false` (their saved outputs are what the pages show), and a hidden first cell imports the
   module, so that annotations naming a class defined further down resolve.
2. Each processed notebook is made plain: its front matter becomes a title, `#| echo: false` cells show
   only their output, nbdev-only keys that nbconvert rejects (`has_sd`, `metadata.execution`) are dropped,
   and the page is named after nbdev's `output-file` so that nbdev's cross-links resolve.
3. `sphinx-build` renders the pages with the notebooks' saved outputs.
"""
from __future__ import annotations
import ast, json, re, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / 'docs'
SITE = 'https://detnb.github.io/detnb/'  # nbdev writes its cross-links against the published site
SRC, HTML, NBS = DOCS / '_build' / 'src', DOCS / '_build' / 'html', DOCS / '_build' / 'nbs'


def front_matter(cell: dict) -> dict[str, str]:
    "The `key: value` lines of nbdev's raw front-matter cell."
    text = ''.join(cell['source'])
    pairs = (line.split(':', 1) for line in text.splitlines() if ':' in line)
    return {k.strip(): v.strip().strip("'\"").replace("''", "'") for k, v in pairs}


def plain_cell(cell: dict) -> dict | None:
    "`cell` without nbdev's directives and keys, or None when it shows nothing."
    cell.pop('has_sd', None)
    cell.get('metadata', {}).pop('execution', None)
    if cell['cell_type'] != 'code': return cell
    for out in cell.get('outputs', []):  # show_doc's markdown opens with a rule that docutils rejects
        md = out.get('data', {}).get('text/markdown')
        if md is not None:
            text = ''.join(md) if isinstance(md, list) else md
            text = re.sub(r'^---\n', '', text.lstrip('\n'))
            out['data']['text/markdown'] = re.sub(r'\{target="_blank"[^}]*\}', '', text)  # pandoc-only link attributes
    lines = ''.join(cell['source']).splitlines(keepends=True)
    directives = [l for l in lines if l.startswith('#|')]
    cell['source'] = ''.join(l for l in lines if not l.startswith('#|')).strip('\n')
    if any(re.match(r'#\|\s*echo:\s*false', d) for d in directives):
        cell['metadata']['tags'] = ['remove-input']
        if not cell.get('outputs'): return None
    return cell


def plain_notebook(path: Path) -> tuple[str, dict]:
    "The page name and plain notebook for one processed notebook."
    nb = json.loads(path.read_text().replace(SITE, ''))  # cross-links relative to the site root
    cells, name = nb['cells'], path.stem
    if cells and cells[0]['cell_type'] == 'raw':
        fm = front_matter(cells.pop(0))
        name = Path(fm.get('output-file', name + '.html')).stem
        head = f"# {fm.get('title', name)}\n\n" + (f"> {fm['description']}\n" if fm.get('description') else '')
        cells.insert(0, dict(cell_type='markdown', id='title', metadata={}, source=head))
    nb['cells'] = [c for c in map(plain_cell, cells) if c is not None]
    nb['metadata'] = {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
                      'language_info': {'name': 'python'}}
    return name, nb


def runs_only_for_tests(cell: dict) -> bool:
    "A code cell that imports something besides other code, and is not exported: a test, not needed by `show_doc`."
    source = ''.join(cell['source'])
    if cell['cell_type'] != 'code' or re.search(r'^#\|\s*(export|exporti|exports|exec_doc)\b', source, re.M): return False
    try: tree = ast.parse('\n'.join(l for l in source.splitlines() if not l.lstrip().startswith(('%', '!'))))
    except SyntaxError: return False
    imports = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))
    return imports and any(not isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)


def notebooks_for_docs() -> Path:
    "A copy of `nbs/` with `#| eval: false` on the cells `runs_only_for_tests` finds, and the module imported first."
    shutil.rmtree(NBS, ignore_errors=True)
    shutil.copytree(ROOT / 'nbs', NBS)
    for path in NBS.rglob('*.ipynb'):
        nb = json.loads(path.read_text())
        for cell in nb['cells']:
            if runs_only_for_tests(cell): cell['source'] = '#| eval: false\n' + ''.join(cell['source'])
        module = next((m[1] for c in nb['cells'] if (m := re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M))), None)
        if module:  # the exported names exist before the first `show_doc`, for annotations that name a later class
            nb['cells'].insert(0, dict(cell_type='code', id='docsimport', metadata={}, execution_count=None, outputs=[],
                                       source=f'#| hide\nfrom detnb.{module} import *'))
        path.write_text(json.dumps(nb, indent=1))
    return NBS


def main() -> int:
    subprocess.run(['nbdev-proc-nbs', '--force', '--path', str(notebooks_for_docs())], cwd=ROOT, check=True)
    shutil.rmtree(SRC, ignore_errors=True)
    SRC.mkdir(parents=True)
    pages = []
    for path in sorted((ROOT / '_proc').rglob('*.ipynb')):
        name, nb = plain_notebook(path)
        (SRC / f'{name}.ipynb').write_text(json.dumps(nb, indent=1))
        pages.append(name)
    toc = '\n'.join(p for p in pages if p != 'index')
    index = SRC / 'index.ipynb'
    nb = json.loads(index.read_text())
    nb['cells'].append(dict(cell_type='markdown', id='toctree', metadata={},
                            source=f'```{{toctree}}\n:maxdepth: 1\n:caption: Modules\n\n{toc}\n```\n'))
    index.write_text(json.dumps(nb, indent=1))
    shutil.copy(DOCS / 'conf.py', SRC / 'conf.py')
    return subprocess.run([sys.executable, '-m', 'sphinx', '-q', '-b', 'html', str(SRC), str(HTML)]).returncode


if __name__ == '__main__':
    sys.exit(main())
