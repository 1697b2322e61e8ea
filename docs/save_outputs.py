"""Run notebooks and save their outputs: `python docs/save_outputs.py nbs/a.ipynb [nbs/b.ipynb ...]`.

The documentation site renders the notebooks as saved, so every figure a notebook draws must be in the file. This
runs each notebook top to bottom in a fresh kernel (in its own folder, as the tests do) and writes the new
outputs into it. Cells flagged with one of nbdev's test flags (`#| slow`, `#| gpu`, `#| notest`) and `#| eval:
false` cells are not run: they keep the outputs of their last real run. Afterwards run `nbdev-clean --fname` on the
notebooks, which keeps the outputs. `--flags slow` (or `gpu`) runs the cells with those flags too and saves their
outputs: the last real run of a long cell.
"""
from __future__ import annotations
import argparse, copy, re, sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TEST_FLAGS = ('slow', 'gpu', 'notest')


def skipped(cell: dict, flags: tuple[str, ...] = ()) -> bool:
    "Whether a code cell keeps its saved outputs instead of running (`flags`: the test flags that run)."
    skipped_flags = '|'.join(f for f in TEST_FLAGS if f not in flags)
    pattern = rf'^#\|\s*(?:(?:{skipped_flags})\b|eval:\s*false\b)' if skipped_flags else r'^#\|\s*eval:\s*false\b'
    return cell['cell_type'] == 'code' and bool(re.search(pattern, cell['source'], re.M))


def save_outputs(path: Path, timeout: int | None = 600, flags: tuple[str, ...] = ()) -> int:
    "Run the notebook at `path` (flagged cells but `flags` skipped), write its outputs into it; returns the cells run."
    nb = nbformat.read(path, as_version=4)
    runnable = copy.deepcopy(nb)
    for cell in runnable.cells:
        if skipped(cell, flags): cell.source = 'pass'
    client = NotebookClient(runnable, timeout=timeout, kernel_name='python3',
                            resources={'metadata': {'path': str(path.parent)}})
    client.execute()
    ran = 0
    for cell, done in zip(nb.cells, runnable.cells):
        if cell.cell_type != 'code' or skipped(cell, flags): continue
        cell.outputs, cell.execution_count, ran = done.outputs, done.execution_count, ran + 1
    nbformat.write(nb, path)
    return ran


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='+', type=Path, help='notebooks to run and save')
    ap.add_argument('--timeout', type=int, default=600, help='seconds allowed per cell (with --flags: no limit)')
    ap.add_argument('--flags', nargs='+', default=[], choices=TEST_FLAGS, help='also run the cells with these flags')
    args = ap.parse_args(argv)
    timeout = None if args.flags else args.timeout
    for path in args.notebooks:
        ran = save_outputs(path.resolve(), timeout, tuple(args.flags))
        print(f'{path}: {ran} cells run, outputs saved', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
