"""pytest options shared by the notebook runner and the integration tests.

`pytest` runs everything that is fast. `pytest --flags slow` (or `gpu`, or both) also runs notebook cells
marked `#| slow` / `#| gpu` and tests marked `@pytest.mark.slow` / `@pytest.mark.gpu`.
"""
from pathlib import Path
import functools, http.server, os, threading
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / 'shared' / 'data'


def pytest_addoption(parser):
    parser.addoption('--flags', default='', help='space-separated notebook flags to run (slow, gpu)')


def pytest_configure(config):
    """Under pytest-xdist, each worker computes with its share of the cores (one each for `-n 2` on two cores), it
    and the processes it starts: two workers of two threads each on two cores wait for each other's threads."""
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '0'))
    if not workers: return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1
    threads = max(1, cores // workers)
    os.environ['OMP_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = str(threads)
    import torch
    torch.set_num_threads(threads)


def run_flags(config) -> set[str]:
    return set(config.getoption('--flags').replace(',', ' ').split())


def pytest_collection_modifyitems(config, items):
    flags = run_flags(config)
    for item in items:
        for flag in ('slow', 'gpu'):
            if flag in item.keywords and flag not in flags:
                item.add_marker(pytest.mark.skip(reason=f'marked {flag}: run with --flags {flag}'))


@pytest.fixture(scope='session')
def shared_data() -> Path:
    "The development data folder `../shared/data`; skips the test where it is absent."
    if not DATA.is_dir(): pytest.skip(f'development data not found at {DATA}')
    return DATA


@pytest.fixture
def server(tmp_path):
    "A file server on 127.0.0.1 over `tmp_path/served`: yields (folder, base URL)."
    folder = tmp_path / 'served'
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield folder, f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    httpd.server_close()
