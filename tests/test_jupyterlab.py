"""detnb's browsers in JupyterLab, for real: the widgets opened in a JupyterLab page, in headless Chromium, and moved.

`tests/jupyterlab/widgets_tour.ipynb` builds the dataset browser and the prediction browser of
`detnb.visualization.widgets` on the built-in shapes data, with the predictions of a quickstart FCOS that the
browser test trains for a few seconds. The tests here:

- open it in JupyterLab (a server of its own: a free local port, a token, and its own config, settings, runtime and
  workspace folders), run all its cells, and move the controls as a user does: the image slider changes the
  picture, the class filter leaves the boxes of one class, the pipeline steps are one panel per step, the
  prediction browser opens on the image of lowest AP and its score slider changes the number of predictions drawn.
  The page is read through the CSS classes and the status line the widget module documents; a screenshot of each
  state goes to `test-artifacts/jupyterlab/` (or `$DETNB_TEST_ARTIFACTS/jupyterlab`);
- run it with `jupyter nbconvert --to notebook --execute` and with nbclient, under `%matplotlib inline` and
  `%matplotlib widget` (ipympl), the ways CI and Colab run notebooks, and check its HTML export shows a picture for
  each browser;
- browse a 5,000-image dataset within a memory bound.

The browser test skips where Chromium, chromedriver, selenium or JupyterLab (with the ipywidgets extension) are
absent: `apt-get install chromium chromium-driver` and `pip install -e ".[dev]"`.
"""
import base64, copy, importlib.util, json, os, re, shutil, socket, subprocess, sys, time, tracemalloc, urllib.request
from pathlib import Path
import pytest
from conftest import ROOT

TOUR = ROOT / 'tests' / 'jupyterlab' / 'widgets_tour.ipynb'
CHROMIUM, CHROMEDRIVER = shutil.which('chromium') or '/usr/bin/chromium', shutil.which('chromedriver')
WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
WIDGET_STATE = 'application/vnd.jupyter.widget-state+json'
TOUR_SHAPES = dict(num_train=64, num_val=8)  # the tour's `make_shapes(..., num_train=64, num_val=8)`
STEPS = ['LoadImageFromFile', 'LoadAnnotations', 'Resize', 'RandomFlip', 'PackDetInputs']  # the tour's pipeline


def artifacts() -> Path:
    "The folder for this module's screenshots: `$DETNB_TEST_ARTIFACTS/jupyterlab`, else `test-artifacts/jupyterlab`."
    folder = Path(os.environ.get('DETNB_TEST_ARTIFACTS') or ROOT / 'test-artifacts') / 'jupyterlab'
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope='session')
def tour_data(tmp_path_factory) -> Path:
    "The shapes dataset the tour reads (its `DETNB_TOUR_DATA`)."
    from detnb.apis.quickstart import QUICKSTART_CONFIG, make_shapes
    return make_shapes(QUICKSTART_CONFIG, out=tmp_path_factory.mktemp('tour') / 'shapes', **TOUR_SHAPES)['root']


@pytest.fixture(scope='session')
def trained_checkpoint(tour_data, tmp_path_factory) -> Path:
    "The quickstart config trained for 50 iterations on the tour's data (10-20 s): the images differ in AP."
    import torch
    from detnb.apis.quickstart import QUICKSTART_CONFIG, prepare_config
    from detnb.engine.runner import Runner
    work_dir = tmp_path_factory.mktemp('quickstart')
    cfg, _ = prepare_config(QUICKSTART_CONFIG, work_dir, data_root=tour_data, **TOUR_SHAPES)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=50, val_interval=10**6)
    cfg.param_scheduler, cfg.custom_hooks = [], []  # a constant learning rate learns most in 50 iterations
    cfg.default_hooks = dict(logger=dict(type='LoggerHook', interval=25),
                             checkpoint=dict(type='CheckpointHook', interval=50, by_epoch=False))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try: Runner.from_cfg(cfg).train()
    finally: torch.set_num_threads(threads)
    return work_dir / 'iter_50.pth'


def tour_env(monkeypatch, data: Path) -> None:
    "Point the tour (and the kernels started from here) at the data; it predicts with random weights."
    monkeypatch.setenv('DETNB_TOUR_DATA', str(data))
    monkeypatch.delenv('DETNB_TOUR_CHECKPOINT', raising=False)


def read_tour(backend: str = 'inline') -> dict:
    "The tour notebook as JSON, with `%matplotlib {backend}` as its first code cell."
    nb = json.loads(TOUR.read_text())
    first = next(c for c in nb['cells'] if c['cell_type'] == 'code')
    assert ''.join(first['source']).strip() == '%matplotlib inline', 'the tour must start with %matplotlib inline'
    first['source'] = f'%matplotlib {backend}'
    return nb


def code_outputs(nb: dict) -> list[list[dict]]:
    "The outputs of each code cell."
    return [c['outputs'] for c in nb['cells'] if c['cell_type'] == 'code']


def browser_outputs(nb: dict) -> list[dict]:
    "The outputs that show a detnb browser (a widget view whose bundle also has the picture)."
    return [o for outs in code_outputs(nb) for o in outs if WIDGET_VIEW in o.get('data', {})
            and 'image/jpeg' in o['data']]


def check_executed_tour(nb: dict) -> None:
    "No cell failed; both browsers are there, each with its picture and status line."
    errors = [o for outs in code_outputs(nb) for o in outs if o['output_type'] == 'error']
    assert not errors, '\n'.join('\n'.join(o['traceback']) for o in errors)
    shown = browser_outputs(nb)
    assert len(shown) == 2, [list(o.get('data', {})) for outs in code_outputs(nb) for o in outs]
    for out in shown: assert base64.b64decode(out['data']['image/jpeg'])[:2] == b'\xff\xd8'  # a JPEG
    assert re.match(r'image \d+ \(\d+\.png\): \d+ box', out_text(shown[0])), out_text(shown[0])
    assert re.match(r'image \d+ \(\d+\.png\), AP [\d.]+: ground truth', out_text(shown[1])), out_text(shown[1])


def out_text(output: dict) -> str:
    "An output's `text/plain`."
    text = output['data']['text/plain']
    return ''.join(text) if isinstance(text, list) else text


# nbconvert and nbclient: the ways CI and Colab run a notebook

def html_export(nb: dict) -> str:
    "The HTML page of `jupyter nbconvert --to html` (its exporter, called here) of the notebook `nb`."
    import nbformat
    from nbconvert import HTMLExporter
    return HTMLExporter().from_notebook_node(nbformat.reads(json.dumps(nb), as_version=4))[0]


def test_tour_runs_with_nbconvert_and_exports_pictures(tmp_path, tour_data, monkeypatch):
    "`jupyter nbconvert --to notebook --execute`; its HTML export shows each browser's picture, with or without state."
    pytest.importorskip('nbconvert', reason='nbconvert not installed: pip install -e ".[dev]"')
    tour_env(monkeypatch, tour_data)
    notebook = tmp_path / 'widgets_tour.ipynb'
    notebook.write_text(json.dumps(read_tour()))
    res = subprocess.run([sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'notebook', '--execute',
                          '--output', 'executed.ipynb', str(notebook)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-5000:]
    executed = json.loads((tmp_path / 'executed.ipynb').read_text())
    check_executed_tour(executed)
    pictures = [o['data']['image/jpeg'].replace('\n', '') for o in browser_outputs(executed)]
    # saved without widget state (as JupyterLab saves by default, and the docs' notebooks are): the picture, as <img>
    stateless = copy.deepcopy(executed)
    stateless['metadata'].pop('widgets', None)
    page = html_export(stateless)
    for b64 in pictures: assert f'src="data:image/jpeg;base64,{b64}"' in page
    assert len(re.findall(r'<img\b[^>]*src="data:image/jpeg;base64,', page)) == len(pictures)
    # saved with its widget state (nbconvert --execute stores it): the page draws the widgets from that state with the
    # ipywidgets HTML manager, and the state holds each picture's JPEG
    state = executed['metadata']['widgets'][WIDGET_STATE]['state']
    images = [m for m in state.values() if m['model_name'] == 'ImageModel']
    saved = {b['data'].replace('\n', '') for m in images for b in m.get('buffers', []) if b['path'] == ['value']}
    assert set(pictures) <= saved, 'the widget state lacks a browser picture'
    page = html_export(executed)
    assert WIDGET_STATE in page and '@jupyter-widgets/html-manager' in page


@pytest.mark.parametrize('backend', ['inline', 'widget'])
def test_tour_runs_with_nbclient(backend, tmp_path, tour_data, monkeypatch):
    "nbclient (what CI and `docs/save_outputs.py` use), with the figure drawn by `%matplotlib inline` or ipympl."
    nbformat = pytest.importorskip('nbformat')
    NotebookClient = pytest.importorskip('nbclient').NotebookClient
    if backend == 'widget' and importlib.util.find_spec('ipympl') is None:  # not imported: it would import ipykernel
        pytest.skip('ipympl not installed: pip install -e ".[dev]"')  # into this worker, which other tests look for
    tour_env(monkeypatch, tour_data)
    nb = nbformat.reads(json.dumps(read_tour(backend)), as_version=4)
    NotebookClient(nb, timeout=300, kernel_name='python3', resources={'metadata': {'path': str(tmp_path)}}).execute()
    executed = json.loads(nbformat.writes(nb))
    check_executed_tour(executed)
    figure = code_outputs(executed)[-1]
    if backend == 'inline':
        assert [list(o['data']) for o in figure] == [['image/png', 'text/plain']], figure
    else:  # an ipympl canvas: a widget of jupyter-matplotlib, whose state holds the figure
        views = [o['data'][WIDGET_VIEW]['model_id'] for o in figure if WIDGET_VIEW in o.get('data', {})]
        state = executed['metadata']['widgets'][WIDGET_STATE]['state']
        assert [state[m]['model_module'] for m in views] == ['jupyter-matplotlib'], figure


# the dataset browser on a large dataset

def test_dataset_browser_memory_on_5000_images(tmp_path):
    "A browser over 5,000 images on disk: building it and stepping through images stays far under 500 MB."
    psutil = pytest.importorskip('psutil')
    import cv2, numpy as np
    from detnb.visualization.widgets import DatasetBrowser
    rng = np.random.default_rng(0)
    classes = ('circle', 'square', 'triangle', 'star')
    (tmp_path / 'img').mkdir()
    images, annotations = [], []
    gradient = np.linspace(0, 255, 96 * 96 * 3).reshape(96, 96, 3).astype(np.uint8)
    encoded = [cv2.imencode('.png', np.roll(gradient, 9 * k, axis=1))[1].tobytes() for k in range(10)]
    for i in range(5000):
        (tmp_path / 'img' / f'{i:05d}.png').write_bytes(encoded[i % 10])
        images.append(dict(id=i + 1, file_name=f'{i:05d}.png', height=96, width=96))
        for xy in rng.uniform(0, 60, (int(rng.integers(1, 4)), 2)):
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, category_id=int(rng.integers(1, 5)),
                                    bbox=[*xy.tolist(), 30.0, 30.0], area=900.0, iscrowd=0))
    coco = dict(images=images, annotations=annotations,
                categories=[dict(id=k + 1, name=name) for k, name in enumerate(classes)])
    (tmp_path / 'ann.json').write_text(json.dumps(coco))
    process = psutil.Process()
    rss0 = process.memory_info().rss
    tracemalloc.start()
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape'))]
    browser = DatasetBrowser(dict(type='CocoDataset', data_root=str(tmp_path), ann_file='ann.json',
                                  data_prefix=dict(img='img/'), metainfo=dict(classes=classes), pipeline=pipeline))
    view = browser.widget()
    (slider, toggle), filter_ = view.children[0].children, view.children[1]
    assert len(browser) == 5000 and slider.max == 4999
    built = tracemalloc.get_traced_memory()[0]
    peak_rss, t0 = rss0, time.perf_counter()
    for k, index in enumerate(range(0, 5000, 25)):  # 200 images across the set, then a filter and the steps
        slider.value = index
        if k == 100: held = tracemalloc.get_traced_memory()[0]
        peak_rss = max(peak_rss, process.memory_info().rss)
    filter_.value = ('star',)
    toggle.value = 'pipeline steps'
    for index in range(0, slider.max, max(1, slider.max // 20)): slider.value = index
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_rss = max(peak_rss, process.memory_info().rss)
    print(f'5,000 images: browser built with {built / 2**20:.1f} MB of Python allocations; {len(range(0, 5000, 25))} '
          f'images and 20 step views in {time.perf_counter() - t0:.1f} s; traced peak {peak / 2**20:.1f} MB; '
          f'RSS growth {(peak_rss - rss0) / 2**20:.1f} MB')
    assert peak_rss - rss0 < 500 * 2**20
    assert peak < 100 * 2**20
    assert current - held < 5 * 2**20, 'the browser keeps something per image it shows'
    assert view.status.value.endswith('3 panels for 3 pipeline steps')


# JupyterLab in Chromium

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def write_settings(folder: Path) -> None:
    "JupyterLab user settings: no news or update checks (offline), every cell rendered (no windowing)."
    settings = {'@jupyterlab/apputils-extension/notification': dict(fetchNews='false', checkForUpdates=False),
                '@jupyterlab/notebook-extension/tracker': dict(windowingMode='none')}
    for plugin, values in settings.items():
        path = folder / f'{plugin}.jupyterlab-settings'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture
def lab_installed():
    "Skips unless JupyterLab, its ipywidgets extension and a Python kernel are installed."
    import importlib.util
    missing = [m for m in ('jupyterlab', 'jupyterlab_widgets', 'ipykernel') if importlib.util.find_spec(m) is None]
    if missing: pytest.skip(f'{", ".join(missing)} not installed: pip install -e ".[dev]"')


@pytest.fixture
def jupyterlab(lab_installed, tmp_path, tour_data, trained_checkpoint):
    "A JupyterLab server over a folder holding the tour: yields (base URL, token, folder)."
    root, home = tmp_path / 'lab', tmp_path / 'jupyter'
    root.mkdir()
    (root / TOUR.name).write_text(json.dumps(read_tour()))
    write_settings(home / 'settings')
    port, token = free_port(), base64.b32encode(os.urandom(15)).decode().lower()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / 'config'), JUPYTER_RUNTIME_DIR=str(home / 'runtime'),
               JUPYTER_DATA_DIR=str(home / 'data'), JUPYTERLAB_SETTINGS_DIR=str(home / 'settings'),
               JUPYTERLAB_WORKSPACES_DIR=str(home / 'workspaces'), IPYTHONDIR=str(home / 'ipython'),
               DETNB_TOUR_DATA=str(tour_data), DETNB_TOUR_CHECKPOINT=str(trained_checkpoint))
    log = (tmp_path / 'jupyterlab.log').open('w')
    server = subprocess.Popen(
        [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}',
         '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}',
         '--ServerApp.allow_root=True', '--expose-app-in-browser'],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + 90
        while True:
            assert server.poll() is None, f'jupyter lab exited: {(tmp_path / "jupyterlab.log").read_text()[-3000:]}'
            try:
                with urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=5) as r:
                    if r.status == 200: break
            except OSError:
                if time.time() > deadline: raise
                time.sleep(0.5)
        yield base, token, root
    finally:
        server.terminate()
        try: server.wait(timeout=20)
        except subprocess.TimeoutExpired: server.kill()
        log.close()


@pytest.fixture
def chromium():
    "Headless Chromium through Selenium."
    if not (Path(CHROMIUM).exists() and CHROMEDRIVER):
        pytest.skip('Chromium not installed: apt-get update && apt-get install -y chromium chromium-driver')
    webdriver = pytest.importorskip('selenium.webdriver', reason='selenium not installed: pip install -e ".[dev]"')
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                '--window-size=1400,1000'):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


class Page:
    "The JupyterLab page: waits, reads the browsers by their CSS classes, saves screenshots."
    def __init__(self, driver, folder: Path): self.driver, self.folder = driver, folder

    def wait(self, what: str, check, timeout: float = 60):
        "Poll `check()` until it returns something true; fail with `what` and a screenshot after `timeout` seconds."
        deadline = time.time() + timeout
        while not (value := check()):
            if time.time() > deadline:
                self.driver.save_screenshot(str(self.folder / 'timeout.png'))
                pytest.fail(f'JupyterLab page: timed out waiting for {what} (screenshot: {self.folder}/timeout.png)')
            time.sleep(0.25)
        return value

    def js(self, script: str, *args): return self.driver.execute_script(script, *args)

    def find(self, css: str):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def status(self, browser: str) -> str: return self.find(f'.{browser} .detnb-status').text

    def picture(self, browser: str) -> bytes:
        "The bytes of the browser's picture, as the page holds them (its <img> src, a blob: URL)."
        data_url = self.driver.execute_async_script(
            'const done = arguments[1]; fetch(document.querySelector(arguments[0]).src).then(r => r.blob())'
            '.then(b => { const f = new FileReader(); f.onload = () => done(f.result); f.readAsDataURL(b); })',
            f'.{browser} img.detnb-picture')
        return base64.b64decode(data_url.split(',', 1)[1])

    def shot(self, browser: str, name: str) -> None:
        element = self.find(f'.{browser}')
        self.js('arguments[0].scrollIntoView()', element)
        element.screenshot(str(self.folder / f'{name}.png'))

    def change(self, browser: str, act, what: str) -> tuple[str, bytes]:
        "Do `act()`; wait until the status line and the picture changed; return them."
        before = self.status(browser), self.picture(browser)
        act()
        return self.wait(what, lambda: (now := (self.status(browser), self.picture(browser)))[0] != before[0]
                         and now[1] != before[1] and now)


NOTEBOOK_STATE = """const app = window.jupyterapp, w = app && app.shell.currentWidget;
if (!w || !w.sessionContext || !w.content) return null;
const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
const cells = w.content.widgets.filter(c => c.model.type === 'code');
return {kernel: kernel ? kernel.status : null, cells: cells.length,
        run: cells.filter(c => c.model.executionCount !== null).length,
        errors: cells.flatMap(c => c.model.outputs.toJSON()).filter(o => o.output_type === 'error')
                     .map(o => o.ename + ': ' + o.evalue),
        text: cells.flatMap(c => c.model.outputs.toJSON()).filter(o => o.output_type === 'stream').map(o => o.text)
                   .join('')};"""


def counts(status: str) -> dict[str, int]:
    "The boxes by class in a status line's first `N boxes (a 1, b 2)` (the dataset browser's boxes drawn)."
    m = re.search(r'(\d+) box(?:es)? ?(?:\(([^)]*)\))?', status)
    per_class = dict((k, int(v)) for k, v in (part.rsplit(' ', 1) for part in m[2].split(', '))) if m[2] else {}
    assert sum(per_class.values()) == int(m[1]), status
    return per_class


def predictions_drawn(status: str) -> tuple[float, int]:
    m = re.search(r'predictions > ([\d.]+): (\d+) box', status)
    return float(m[1]), int(m[2])


def test_jupyterlab_drives_the_browsers(chromium, jupyterlab, tour_data):  # chromium first: it skips soonest
    "Open the tour in JupyterLab, run all cells, and use each browser's controls; screenshots of each state."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    t0 = time.time()
    base, token, root = jupyterlab
    page = Page(chromium, artifacts())
    chromium.get(f'{base}/lab/tree/{TOUR.name}?token={token}&reset')
    page.wait('the notebook and its kernel', lambda: (s := page.js(NOTEBOOK_STATE)) and s['kernel'] == 'idle', 120)
    page.js("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    state = page.wait('all cells to run', lambda: (s := page.js(NOTEBOOK_STATE)) and s['run'] == s['cells']
                      and s['kernel'] == 'idle' and s, 180)
    assert not state['errors'], state['errors']
    aps = json.loads(re.search(r'per-image AP: (\[.*?\])', state['text'])[1].replace('nan', 'NaN'))
    dsb, pb = 'detnb-dataset-browser', 'detnb-prediction-browser'
    page.wait('the browsers to draw their pictures', lambda: page.js(
        'return Array.from(document.querySelectorAll("img.detnb-picture")).filter(i => i.naturalWidth > 0).length')
        == 2)
    body = page.js('return document.body.innerText')
    assert 'Loading widget' not in body and 'Error displaying widget' not in body
    chromium.save_screenshot(str(page.folder / '00_notebook.png'))
    coco = json.loads((tour_data / 'annotations' / 'instances_train.json').read_text())
    names = {c['id']: c['name'] for c in coco['categories']}
    file_ids = {im['file_name']: im['id'] for im in coco['images']}

    def truth(status: str, keep: tuple[str, ...] = tuple(names.values())) -> dict[str, int]:
        "The boxes by class of the image the status line names, from the annotation file."
        image_id = file_ids[re.match(r'image \d+ \((\S+)\)', status)[1]]
        labels = [names[a['category_id']] for a in coco['annotations'] if a['image_id'] == image_id]
        return {k: labels.count(k) for k in names.values() if k in keep and labels.count(k)}

    # the dataset browser: image 0, then the slider's next image
    first, first_picture = page.status(dsb), page.picture(dsb)
    assert first.startswith('image 0 (') and counts(first) == truth(first), first
    page.shot(dsb, '01_dataset_browser_image_0')
    handle = page.find(f'.{dsb} .detnb-image .noUi-handle')
    second, second_picture = page.change(dsb, lambda: handle.send_keys(Keys.ARROW_RIGHT), 'the next image')
    assert second.startswith('image 1 (') and counts(second) == truth(second), second
    assert second_picture != first_picture
    page.shot(dsb, '02_dataset_browser_image_1')
    # the class filter: a plain click on 'circle' (a mouse click, as a user's) selects it alone
    select = page.find(f'.{dsb} .detnb-classes select')
    ActionChains(chromium).click(next(o for o in select.find_elements(By.TAG_NAME, 'option') if o.text == 'circle')) \
        .perform()
    assert page.js('return Array.from(arguments[0].selectedOptions).map(o => o.text)', select) == ['circle']
    circles = page.wait('the circles only', lambda: (s := page.status(dsb)) and 'square' not in s and 'star' not in s
                        and 'triangle' not in s and 'no image' not in s and s)
    assert counts(circles) == truth(circles, ('circle',)) and counts(circles)['circle'] > 0, circles
    page.wait('the picture of circles', lambda: page.picture(dsb) not in (first_picture, second_picture))
    page.shot(dsb, '03_dataset_browser_circles')
    # the pipeline steps: one panel per step, in rows of three
    button = next(b for b in page.find(f'.{dsb} .detnb-view').find_elements(By.TAG_NAME, 'button')
                  if b.text == 'pipeline steps')
    steps, steps_picture = page.change(dsb, button.click, 'the pipeline steps')
    assert steps.endswith(f': {len(STEPS)} panels for {len(STEPS)} pipeline steps'), steps
    import cv2, numpy as np
    rows, tile, title = -(-len(STEPS) // 3), 256, 18
    test_shape = cv2.imdecode(np.frombuffer(steps_picture, np.uint8), cv2.IMREAD_COLOR).shape[:2]
    assert test_shape == (rows * (title + tile + 4), 3 * (tile + 4)), test_shape
    page.shot(dsb, '04_dataset_browser_pipeline_steps')

    # the prediction browser: worst image first, then up the order
    assert len({round(a, 3) for a in aps if a == a}) > 2, f'the trained detector gives the images one AP: {aps}'
    worst = page.status(pb)
    assert worst.startswith(f'image {int(np.argmin(aps))} (') and f'AP {min(aps):.3f}' in worst, (worst, aps)
    page.shot(pb, '05_prediction_browser_worst_first')
    handle = page.find(f'.{pb} .detnb-image .noUi-handle')
    seen = [re.search(r'AP ([\d.]+)', worst)[1]]
    for _ in range(len(aps) - 1):
        status, _ = page.change(pb, lambda: handle.send_keys(Keys.ARROW_RIGHT), 'the next image by AP')
        seen.append(re.search(r'AP ([\d.]+)', status)[1])
    assert seen == [f'{a:.3f}' for a in sorted(aps)], (seen, aps)  # every image, in increasing AP
    # the score threshold: from 0.30 down to 0.05, more predictions drawn
    thr, before = predictions_drawn(page.status(pb))
    assert thr == 0.3
    score = page.find(f'.{pb} .detnb-score .noUi-handle')
    score.send_keys(*[Keys.ARROW_LEFT] * 5)
    status = page.wait('the score threshold 0.05', lambda: (s := page.status(pb)) and 'predictions > 0.05' in s and s)
    assert predictions_drawn(status)[1] > before, (before, status)
    page.shot(pb, '06_prediction_browser_score_0.05')
    print(f'JupyterLab browser test: {time.time() - t0:.1f} s in the page; screenshots in {page.folder}')
