"""Build the documentation site: `python docs/build.py` writes `docs/_build/html` (`--force` rebuilds every page).

Quarto (which `nbdev-docs` needs) cannot be installed offline, so the site is built from nbdev's processed
notebooks with Sphinx and myst-nb:

1. A copy of `nbs/` is prepared in `docs/_build/nbs`: test cells that import something and then use names of
   cells nbdev does not run carry `#| eval: false` (their saved outputs are what the pages show), a hidden first
   cell imports the module (so that annotations naming a class defined further down resolve), and the title cell
   keeps only its `# Title`: nbdev turns the title cell into front matter and drops the rest (and cuts a
   description after its first line), so the description and the introduction move to a cell of their own.
2. nbdev's notebook processors run on the copy (what `nbdev-proc-nbs` does, called directly: the command line
   would process `nbs/` itself when the copy has no `nbdev.yml`, and try to install Quarto with `sudo`). They
   apply the directives and render `show_doc`; a page is processed again only when its notebook or the package's
   symbol index (`detnb/_modidx.py`, which nbdev's cross-links come from) changed.
3. Each processed notebook is made plain: its front matter becomes a title, `#| echo: false` cells show only
   their output, nbdev-only keys that nbconvert rejects are dropped, the page keeps its folder
   (`models/dense_heads/fcos_head.html`, from nbdev's `output-file`), and nbdev's cross-links to the published
   site become links relative to the page.
4. `sphinx-build -W` renders the pages with the notebooks' saved outputs (any warning fails the build), with one
   table of contents per part; then every internal link of the site is checked (the file and the anchor exist).
"""
from __future__ import annotations
import argparse, ast, hashlib, html.parser, json, os, posixpath, re, shutil, subprocess, sys, time
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / 'docs'
BUILD = DOCS / '_build'
NBS, PROC, SRC, HTML = BUILD / 'nbs', BUILD / 'proc', BUILD / 'src', BUILD / 'html'
SITE = 'https://detnb.github.io/detnb/'  # nbdev writes its cross-links against the published site

# The parts of the site, in reading order: (folder of `nbs/`, caption). Top-level notebooks numbered 80 and above
# are the command-line tools; a folder missing here comes after these, under its own name.
PARTS = [('', 'Core'), ('datasets', 'Datasets'), ('datasets/transforms', 'Transforms'),
         ('models', 'Models: foundations'), ('models/data_preprocessors', 'Models: data preprocessors'),
         ('models/layers', 'Models: layers'), ('models/backbones', 'Models: backbones'),
         ('models/necks', 'Models: necks'), ('models/task_modules', 'Models: task modules'),
         ('models/losses', 'Models: losses'), ('models/dense_heads', 'Models: dense heads'),
         ('models/roi_heads', 'Models: RoI heads'), ('models/detectors', 'Models: detectors'),
         ('models/test_time_augs', 'Models: test-time augmentation'),
         ('engine', 'Engine'), ('evaluation', 'Evaluation'), ('visualization', 'Visualization'),
         ('apis', 'APIs'), ('tools', 'Analysis tools'), ('commands', 'Commands'),
         ('testing', 'Test tooling'), ('tutorials', 'Tutorials')]


def write_if_changed(path: Path, text: str) -> bool:
    "Write `text` to `path` unless it holds it already (unchanged files keep their time: Sphinx skips them)."
    if path.exists() and path.read_text() == text: return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


# 1. The prepared copy of `nbs/`

def runs_only_for_tests(cell: dict) -> bool:
    "A code cell that imports something besides other code, and is not exported: a test, not needed by `show_doc`."
    source = ''.join(cell['source'])
    if cell['cell_type'] != 'code' or re.search(r'^#\|\s*(export|exporti|exports|exec_doc)\b', source, re.M):
        return False
    try: tree = ast.parse('\n'.join(l for l in source.splitlines() if not l.lstrip().startswith(('%', '!'))))
    except SyntaxError: return False
    imports = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))
    return imports and any(not isinstance(n, (ast.Import, ast.ImportFrom)) for n in tree.body)


def split_title(nb: dict) -> None:
    "Keep only `# Title` in the title cell, and the rest of it (description, introduction) in a cell after it."
    cell = nb['cells'][0] if nb['cells'] else None
    if cell is None or cell['cell_type'] != 'markdown': return
    lines = ''.join(cell['source']).strip('\n').splitlines()
    if not lines or not re.match(r'#\s+\S', lines[0]): return
    cell['source'] = lines[0]
    rest = '\n'.join(lines[1:]).strip('\n')
    if rest: nb['cells'].insert(1, dict(cell_type='markdown', id='intro', metadata={}, source=rest))


def prepare_notebook(nb: dict) -> dict:
    "The notebook as nbdev should process it for the docs (see the module's docstring, step 1)."
    for cell in nb['cells']:
        if runs_only_for_tests(cell): cell['source'] = '#| eval: false\n' + ''.join(cell['source'])
    split_title(nb)
    sources = (''.join(c['source']) for c in nb['cells'])
    module = next((m[1] for s in sources if (m := re.search(r'^#\|\s*default_exp\s+(\S+)', s, re.M))), None)
    if module:  # the exported names exist before the first `show_doc`, for annotations that name a later class
        nb['cells'].insert(0, dict(cell_type='code', id='docsimport', metadata={}, execution_count=None, outputs=[],
                                   source=f'#| hide\nfrom detnb.{module} import *'))
    return nb


def notebooks_for_docs() -> list[Path]:
    "Write the prepared copy of every notebook of `nbs/` (relative paths returned); remove the copies of deleted ones."
    rels = sorted(p.relative_to(ROOT / 'nbs') for p in (ROOT / 'nbs').rglob('*.ipynb')
                  if not any(part.startswith(('.', '_')) for part in p.relative_to(ROOT / 'nbs').parts))
    for rel in rels:
        nb = prepare_notebook(json.loads((ROOT / 'nbs' / rel).read_text()))
        write_if_changed(NBS / rel, json.dumps(nb, indent=1))
    for stale in set(p.relative_to(NBS) for p in NBS.rglob('*.ipynb')) - set(rels): (NBS / stale).unlink()
    return rels


# 2. nbdev's processors

def process_notebooks(rels: list[Path], force: bool) -> int:
    "Process the notebooks whose prepared copy or the symbol index changed since their last processing; how many."
    from fastcore.parallel import parallel
    from nbdev.processors import FilterDefaults
    import nbdev, nbdev.serve_drv
    index = hashlib.sha256((ROOT / 'detnb' / '_modidx.py').read_bytes() + nbdev.__version__.encode()).hexdigest()
    stamps_path = PROC / 'stamps.json'
    stamps = {} if force or not stamps_path.exists() else json.loads(stamps_path.read_text())
    key = {str(r): hashlib.sha256((NBS / r).read_bytes()).hexdigest() + index for r in rels}
    todo = [r for r in rels if stamps.get(str(r)) != key[str(r)] or not (PROC / r).exists()]
    for stale in set(p.relative_to(PROC) for p in PROC.rglob('*.ipynb')) - set(rels): (PROC / stale).unlink()
    for r in todo: (PROC / r).parent.mkdir(parents=True, exist_ok=True)
    if todo:  # what `nbdev-proc-nbs` runs for each notebook: directives, `show_doc`, cross-links
        parallel(nbdev.serve_drv.main, [(NBS / r, PROC / r, FilterDefaults) for r in todo],
                 n_workers=min(len(todo), os.cpu_count() or 1), method='spawn', pause=0.01)
    PROC.mkdir(parents=True, exist_ok=True)
    stamps_path.write_text(json.dumps(key, indent=1))
    return len(todo)


# 3. Plain notebooks for myst-nb

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
    for out in cell.get('outputs', []):
        md = out.get('data', {}).get('text/markdown')
        if md is not None: out['data']['text/markdown'] = plain_show_doc(''.join(md) if isinstance(md, list) else md)
    lines = ''.join(cell['source']).splitlines(keepends=True)
    directives = [l for l in lines if l.startswith('#|')]
    cell['source'] = ''.join(l for l in lines if not l.startswith('#|')).strip('\n')
    if any(re.match(r'#\|\s*echo:\s*false', d) for d in directives):
        cell['metadata']['tags'] = ['remove-input']
        if not cell.get('outputs'): return None
    return cell


def plain_show_doc(text: str) -> str:
    """`show_doc`'s markdown for myst: no opening rule (docutils rejects it), no pandoc link attributes, and the
    anchor nbdev's cross-links point to (`#detinferencer.__call__`; docutils would make it `#detinferencer-call`)."""
    text = re.sub(r'^---\n', '', text.lstrip('\n'))
    text = re.sub(r'\{target="_blank"[^}]*\}', '', text)
    return re.sub(r'^(#{1,6}) (\S+)$', lambda m: f'<span id="{m[2].lower()}"></span>\n\n{m[1]} {m[2]}', text,
                  count=1, flags=re.M)


def relative_links(text: str, page: str, anchors: dict[str, set[str]]) -> str:
    """nbdev's links to the published site (`https://detnb.github.io/detnb/x/y.html#a`), relative to `page`.

    nbdev links every name of its symbol index, a method or a private helper without a `show_doc` of its own too:
    such a link goes to the class's `show_doc` (`#config` for `#config.fromfile`), or else to the page."""
    def local(m: re.Match) -> str:
        path, _, fragment = m[1].partition('#')
        path = path or 'index.html'
        known = anchors.get(path.removesuffix('.html'))
        while fragment and known is not None and fragment not in known: fragment = fragment.rpartition('.')[0]
        return posixpath.relpath(path, posixpath.dirname(page) or '.') + (f'#{fragment}' if fragment else '')
    return re.sub(re.escape(SITE) + r'([^\s)"\'<>\\]*)', local, text)


def show_doc_anchors(nb: dict) -> set[str]:
    "The anchors `plain_show_doc` put on a page."
    outs = (o.get('data', {}).get('text/markdown', '') for c in nb['cells'] for o in c.get('outputs', []))
    return {a for md in outs for a in re.findall(r'<span id="([^"]+)"></span>', md)}


def plain_notebook(path: Path) -> tuple[str, dict]:
    "The page name (`models/dense_heads/fcos_head`) and plain notebook for one processed notebook."
    rel = path.relative_to(PROC)
    nb = json.loads(path.read_text())
    cells = nb['cells']
    fm = front_matter(cells.pop(0)) if cells and cells[0]['cell_type'] == 'raw' else {}
    page = (rel.parent / Path(fm.get('output-file', rel.stem + '.html')).stem).as_posix()
    if fm.get('title'): cells.insert(0, dict(cell_type='markdown', id='title', metadata={}, source=f"# {fm['title']}"))
    nb['cells'] = [c for c in map(plain_cell, cells) if c is not None]
    nb['metadata'] = {'kernelspec': {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'},
                      'language_info': {'name': 'python'}}
    return page, nb


def part_of(rel: Path) -> str:
    "The part (a folder of `nbs/`, or 'commands') a notebook belongs to."
    folder = rel.parent.as_posix()
    if folder == '.':
        number = re.match(r'(\d+)_', rel.name)
        return 'commands' if number and int(number[1]) >= 80 else ''
    return folder


def toctrees(pages: dict[str, Path], guide: list[str]) -> str:
    "The guide's table of contents, then one captioned table of contents per part, in the order of `PARTS`."
    groups: dict[str, list[str]] = {}
    for page, rel in sorted(pages.items(), key=lambda kv: kv[1].as_posix()):
        if page != 'index': groups.setdefault(part_of(rel), []).append(page)
    captions = dict(PARTS)
    order = [p for p, _ in PARTS if p in groups] + sorted(set(groups) - set(captions))
    tocs = [('Guide', guide)] + [(captions.get(part, part), groups[part]) for part in order]
    return '\n'.join(f'```{{toctree}}\n:maxdepth: 1\n:caption: {caption}\n\n' + '\n'.join(names) + '\n```\n'
                     for caption, names in tocs)


def plain_pages(rels: list[Path], guide: list[str]) -> dict[str, set[str]]:
    "Write the plain notebooks into `SRC`, with the tables of contents on the index page; each page's anchors."
    pages, notebooks = {}, {}
    for rel in rels:
        page, nb = plain_notebook(PROC / rel)
        if page in pages: raise SystemExit(f'{rel} and {pages[page]} both make the page {page}.html')
        pages[page], notebooks[page] = rel, nb
    toc = toctrees(pages, guide)
    notebooks['index']['cells'].append(dict(cell_type='markdown', id='toctree', metadata={}, source=toc))
    anchors = {page: show_doc_anchors(nb) for page, nb in notebooks.items()}
    for page, nb in notebooks.items():
        write_if_changed(SRC / f'{page}.ipynb', relative_links(json.dumps(nb, indent=1), page + '.html', anchors))
    for stale in set(p.relative_to(SRC).with_suffix('').as_posix() for p in SRC.rglob('*.ipynb')) - set(pages):
        (SRC / f'{stale}.ipynb').unlink()
    return anchors


# 3b. The guide: hand-written pages, the changelog and the model zoo

GUIDE = ['getting_started', 'user_guide', 'model_zoo', 'mmdetection', 'changelog']  # `guide/` pages, in order


def registered_types() -> dict[str, type]:
    "Every registered `type` name of detnb's registries and its class (each registry's modules imported)."
    import detnb.registry as registry
    types = {}
    for reg in (r for r in vars(registry).values() if isinstance(r, registry.Registry)):
        reg._import_locations()
        types.update((name, cls) for name, cls in reg._module_dict.items() if isinstance(cls, type))
    return types


def type_pages(anchors: dict[str, set[str]]) -> dict[str, str]:
    "Each registered `type` name and the page (with the anchor of its `show_doc`, if it has one) documenting it."
    from detnb._modidx import d
    pages = {}
    for name, cls in registered_types().items():
        entry = d['syms'].get(cls.__module__, {}).get(f'{cls.__module__}.{cls.__qualname__}')
        if not entry or not cls.__module__.startswith('detnb.'): continue
        page, _, anchor = entry[0].partition('#')
        if page.removesuffix('.html') in anchors:
            pages[name] = page + (f'#{anchor}' if anchor in anchors[page.removesuffix('.html')] else '')
    return pages


def model_zoo_page(links: dict[str, str]) -> str:
    "The model zoo page: the shipped configs by folder with their detector, then the published checkpoints."
    from detnb.cli import shipped_configs
    from detnb.config import Config
    from detnb.apis.model_zoo import model_zoo
    rows = []
    for name in shipped_configs():
        model = Config.fromfile(name).get('model') or {}
        kind = model.get('type', '')
        if not kind: continue  # a partial config that others inherit (e.g. retinanet_tta.py)
        parts = [kind] + [model[k].get('type', '') for k in ('backbone', 'neck', 'bbox_head', 'rpn_head', 'roi_head')
                          if isinstance(model.get(k), dict)]
        cells = [f'[{t}](../{links[t]})' if t in links else f'`{t}`' for t in parts if t]
        rows.append(f'| `{name}` | {" · ".join(cells)} |')
    zoo = [f'| `{e.name}` | {e.box_ap if e.box_ap is not None else "-"} | '
           f'{f"{e.parameters / 1e6:.1f} M" if e.parameters else "-"} | {"yes" if e.verified else "no"} |'
           for e in model_zoo().values()]
    return '\n'.join([
        '# Model zoo', '',
        'The configs shipped inside the package (`detnb list-configs`), each usable by its `detnb::` name in '
        '`detnb train`, `detnb test`, `init_detector` and a `_base_`, with the components it builds (each links to '
        'the notebook that explains it). Configs named after MMDetection\'s have its values and load its '
        'checkpoints.', '', '| config | model |', '|---|---|', *rows, '',
        '## Pretrained checkpoints', '',
        '`detnb list-models` lists them and `init_detector(name)` or `detnb infer IMAGE NAME` downloads one into '
        "detnb's cache (checksummed). COCO val2017 box AP as published; *verified*: a test in detnb loads these very "
        'weights and reproduces the published detections.', '',
        '| model | box AP | parameters | verified |', '|---|---|---|---|', *zoo, ''])


def guide_pages(links: dict[str, str]) -> list[str]:
    "Write the guide's pages into `SRC/guide`; their page names."
    texts = {name: (DOCS / 'guide' / f'{name}.md').read_text() for name in GUIDE
             if (DOCS / 'guide' / f'{name}.md').exists()}
    texts['changelog'] = (ROOT / 'CHANGELOG.md').read_text()
    texts['model_zoo'] = model_zoo_page(links)
    for name, text in texts.items(): write_if_changed(SRC / 'guide' / f'{name}.md', text)
    return [f'guide/{name}' for name in GUIDE]


# 4b. After Sphinx: config `type` names in code link to their pages; the version switcher's list

TYPE_IN_CODE = re.compile(r'(<span class="n[bx]?">type</span><span class="o">=</span>)'
                          r'(<span class="s[12]">(?:&#39;|\'|&quot;)(\w+)(?:&#39;|\'|&quot;)</span>)')


def link_config_types(links: dict[str, str], site: Path = HTML) -> int:
    "Wrap each `type='Name'` of the site's highlighted code in a link to Name's page; how many links."
    count = 0
    def link(m: re.Match, page: str) -> str:
        nonlocal count
        if m[3] not in links: return m[0]
        count += 1
        href = posixpath.relpath(links[m[3]].partition('#')[0], posixpath.dirname(page) or '.')
        anchor = links[m[3]].partition('#')[2]
        return f'{m[1]}<a class="config-type" href="{href}{"#" + anchor if anchor else ""}">{m[2]}</a>'
    for path in site.rglob('*.html'):
        page = path.relative_to(site).as_posix()
        text = path.read_text()
        new = TYPE_IN_CODE.sub(lambda m: link(m, page), text)
        if new != text: path.write_text(new)
    return count


def write_versions(site: Path = HTML) -> list[dict]:
    "The version switcher's list (`docs/versions.json`, with this build's version first if it is missing)."
    import detnb
    versions = json.loads((DOCS / 'versions.json').read_text())
    if not any(v['version'] == detnb.__version__ for v in versions):
        versions.insert(0, dict(version=detnb.__version__, url=SITE))
    (site / 'versions.json').write_text(json.dumps(versions, indent=1))
    return versions


# 4. Sphinx, then the links

class _Links(html.parser.HTMLParser):
    "The ids and the internal link targets of one HTML page."
    def __init__(self):
        super().__init__()
        self.ids, self.hrefs = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        if tag == 'a' and a.get('name'): self.ids.add(a['name'])
        for key in ('href', 'src'):
            if a.get(key) and not re.match(r'[a-z][a-z0-9+.-]*:', a[key]) and not a[key].startswith('//'):
                self.hrefs.append(a[key])


def dead_links(site: Path = HTML) -> list[str]:
    "Internal links of the built site whose file or anchor does not exist, as 'page: link'."
    parsed = {}
    for page in site.rglob('*.html'):
        p = _Links()
        p.feed(page.read_text(errors='replace'))
        parsed[page.resolve()] = p
    dead = []
    for page, p in sorted(parsed.items()):
        for href in p.hrefs:
            url = urlsplit(href)
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if target.is_dir(): target = target / 'index.html'
            ok = target.exists() and (not url.fragment or target not in parsed
                                      or unquote(url.fragment) in parsed[target].ids)
            if not ok: dead.append(f'{page.relative_to(site.resolve())}: {href}')
    return dead


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--force', action='store_true', help='process every notebook and render every page again')
    args = ap.parse_args(argv)
    os.chdir(ROOT)  # nbdev reads pyproject.toml from the working directory
    t0 = time.time()
    if args.force: shutil.rmtree(BUILD, ignore_errors=True)
    rels = notebooks_for_docs()
    n = process_notebooks(rels, args.force)
    t1 = time.time()
    anchors = plain_pages(rels, [f'guide/{name}' for name in GUIDE])
    links = type_pages(anchors)
    guide = guide_pages(links)
    sphinx = [sys.executable, '-m', 'sphinx', '-q', '-W', '--keep-going', '-b', 'html', '-c', str(DOCS)]
    res = subprocess.run(sphinx + [str(SRC), str(HTML)])
    if res.returncode: return res.returncode
    linked, versions = link_config_types(links), write_versions()
    dead = dead_links()
    for d in dead: print('dead link:', d, file=sys.stderr)
    print(f'docs: {len(anchors) + len(guide)} pages ({n} processed by nbdev in {t1 - t0:.0f} s), Sphinx '
          f'{time.time() - t1:.0f} s, {linked} config types linked, {len(versions)} versions '
          f'-> {HTML.relative_to(ROOT)}/index.html')
    return 1 if dead else 0


if __name__ == '__main__':
    sys.exit(main())
