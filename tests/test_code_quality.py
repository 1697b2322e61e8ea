"""Checks that keep the house in order: no import circle in the package, no expected-error test that passes
when nothing is raised, and lines of at most 120 characters (through ruff, configured in `pyproject.toml`)."""
from pathlib import Path
import ast, json, shutil, subprocess
import pytest

from conftest import ROOT

PKG = ROOT / 'detnb'


# --- the import graph of the package ---------------------------------------------------------------------

def module_name(path: Path) -> str:
    "`detnb/a/b.py` -> `detnb.a.b`; a package's `__init__.py` is the package itself."
    parts = path.relative_to(ROOT).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def package_modules() -> dict[str, Path]:
    "Every module of the package, by its dotted name."
    return {module_name(p): p for p in sorted(PKG.rglob('*.py')) if '__pycache__' not in p.parts}


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    "The package's modules that the module `name` imports anywhere in its body (functions included)."
    is_package = path.name == '__init__.py'
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: `.` is the module's own package
                here = name.split('.') if is_package else name.split('.')[:-1]
                base = here[:len(here) - node.level + 1]
                source = '.'.join(base + ([node.module] if node.module else []))
            else: source = node.module
            for alias in node.names:
                submodule = f'{source}.{alias.name}'
                if submodule in modules: out.add(submodule)  # `from pkg import submodule`
                elif source in modules: out.add(source)
    return out - {name}


def import_graph() -> dict[str, set[str]]:
    "Module -> the package modules it imports."
    modules = package_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    "The groups of two or more modules that all reach each other (Tarjan's algorithm)."
    index, low, stack, on_stack, groups = {}, {}, [], set(), []
    def visit(v):
        index[v] = low[v] = len(index); stack.append(v); on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on_stack: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop(); on_stack.discard(w); group.add(w)
                if w == v: break
            if len(group) > 1: groups.append(group)
    for v in sorted(graph):
        if v not in index: visit(v)
    return groups


def shortest_cycle(graph: dict[str, set[str]], start: str, group: set[str]) -> list[str]:
    "The shortest way from `start` back to itself inside `group` (a breadth-first search)."
    paths, queue = {start: [start]}, [start]
    while queue:
        v = queue.pop(0)
        if start in graph[v]: return paths[v] + [start]
        for w in sorted(graph[v] & group - paths.keys()): paths[w] = paths[v] + [w]; queue.append(w)


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    "The shortest import cycle through each module that is in one, each written from its smallest module."
    cycles = set()
    for group in strongly_connected(graph):
        for start in group:
            cycle = shortest_cycle(graph, start, group)[:-1]
            i = cycle.index(min(cycle))
            cycles.add(tuple(cycle[i:] + cycle[:i] + [cycle[i]]))
    return sorted(map(list, cycles))


def test_import_graph_found_modules():
    graph = import_graph()
    assert 'detnb.evaluation.coco' in graph and 'detnb.registry' in graph['detnb.evaluation.coco']


def test_import_cycles_found():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}, 'e': {'f'}, 'f': {'e'}}
    assert import_cycles(graph) == [['a', 'b', 'c', 'a'], ['e', 'f', 'e']]
    assert import_cycles({'a': {'b', 'c'}, 'b': {'a'}, 'c': {'a'}}) == [['a', 'b', 'a'], ['a', 'c', 'a']]
    assert import_cycles({'a': {'b'}, 'b': set()}) == []


def test_no_import_cycle():
    cycles = import_cycles(import_graph())
    assert not cycles, 'import cycles in detnb:\n' + '\n'.join(' -> '.join(c) for c in cycles)


# --- expected-error tests that pass when nothing is raised ----------------------------------------------

def code_sources():
    "(place, source) of every code cell of the notebooks and of every test file; IPython magics blanked."
    for nb in sorted((ROOT / 'nbs').rglob('*.ipynb')):
        if any(part.startswith(('_', '.')) for part in nb.relative_to(ROOT / 'nbs').parts): continue
        for i, cell in enumerate(json.loads(nb.read_text())['cells']):
            if cell['cell_type'] != 'code': continue
            lines = ''.join(cell['source']).splitlines()
            yield f'{nb.relative_to(ROOT)} cell {i}', '\n'.join('' if l.lstrip().startswith(('%', '!')) else l
                                                                 for l in lines)
    for path in sorted((ROOT / 'tests').glob('*.py')): yield str(path.relative_to(ROOT)), path.read_text()


def silent_error_tests(source: str) -> list[int]:
    "Lines of each `try:` whose `except` asserts and that has no `else:`: it passes when nothing is raised."
    return [node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Try) and not node.orelse
            and any(isinstance(n, ast.Assert) for h in node.handlers for n in ast.walk(h))]


def test_silent_error_tests_found():
    silent = 'try:\n    f()\nexcept ValueError as e:\n    assert "x" in str(e)\n'
    assert silent_error_tests(silent) == [1]
    assert silent_error_tests(silent + 'else:\n    raise AssertionError("no error")\n') == []
    assert silent_error_tests('try:\n    f()\nexcept ValueError:\n    pass\n') == []


def test_no_silent_error_tests():
    found = []
    for place, source in code_sources():
        try: lines = silent_error_tests(source)
        except SyntaxError: continue  # a cell of shell or a deliberately broken example is not a test
        found += [f'{place} line {n}' for n in lines]
    assert not found, ("try/except with an assert in the handler and no else passes when nothing is raised; use "
                       "fastcore's test_fail(f, contains=...) or pytest.raises:\n" + '\n'.join(found))


# --- line length and correctness rules, through ruff ----------------------------------------------------

def ruff_binary() -> str | None:
    "The ruff executable of this environment (the `ruff` package), or on the PATH."
    try:
        from ruff.__main__ import find_ruff_bin
        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError): return shutil.which('ruff')


def run_ruff(*args: str) -> subprocess.CompletedProcess:
    "`ruff check --no-cache *args` in the repository (rules from pyproject.toml [tool.ruff]); skips without ruff."
    ruff = ruff_binary()
    if ruff is None: pytest.skip('ruff is not installed: pip install -e ".[dev]" (or pip install ruff)')
    return subprocess.run([ruff, 'check', '--no-cache', *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_check():
    done = run_ruff('--output-format', 'concise', 'detnb')
    assert done.returncode == 0, f'ruff check detnb (rules in pyproject.toml [tool.ruff]):\n{done.stdout}{done.stderr}'


def test_lines_at_most_120():
    "120 characters everywhere but the first line of nbdev's `__all__`, which nbdev-export writes up to 130."
    done = run_ruff('--select', 'E501', '--config', 'lint.pycodestyle.max-line-length=120', '--output-format', 'json',
                    'detnb')
    long = []
    for hit in json.loads(done.stdout or '[]'):
        line = Path(hit['filename']).read_text().splitlines()[hit['location']['row'] - 1]
        if not line.startswith('__all__ = '):
            long.append(f"{Path(hit['filename']).relative_to(ROOT)}:{hit['location']['row']}: {len(line)} characters")
    assert not long, 'lines over 120 characters (in the notebook that exports the module):\n' + '\n'.join(long)


# --- the version and the package's front page -------------------------------------------------------------

def test_version_is_the_changelogs_last_release():
    "`detnb.__version__` (the one place the version lives) is the newest release heading of CHANGELOG.md."
    import re
    releases = re.findall(r'^## (\d+\.\d+\.\d+) \(', (ROOT / 'CHANGELOG.md').read_text(), re.M)
    tree = ast.parse((PKG / '__init__.py').read_text())
    versions = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and [t.id for t in node.targets if isinstance(t, ast.Name)] == ['__version__']]
    assert versions == [releases[0]], f'detnb/__init__.py sets __version__ to {versions}; CHANGELOG.md: {releases[:2]}'
    docstrings = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)]
    assert len(docstrings) == 1, f'detnb/__init__.py has {len(docstrings)} module-level strings, not one docstring'
