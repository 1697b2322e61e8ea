"""The documentation site: it builds from a clean checkout, every page keeps its introduction, and a real browser
(Chromium, driven by Selenium) finds every page whole and the search working.

The site is built once per session (`python docs/build.py`, cached in `docs/_build`). The build takes one to three
minutes on two cores, so these tests are marked slow: `pytest tests/test_docs.py --flags slow` (what `.ci/run`
runs, after installing `.[docs]` and Chromium).
"""
import functools, html, http.server, importlib.util, json, re, shutil, subprocess, sys, threading, time
from pathlib import Path
from urllib.parse import urldefrag, urlsplit, unquote
import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow
SITE = ROOT / 'docs' / '_build' / 'html'
CHROMIUM, CHROMEDRIVER = shutil.which('chromium') or '/usr/bin/chromium', shutil.which('chromedriver')


@pytest.fixture(scope='session')
def site() -> Path:
    "The built site (built once per session)."
    missing = [m for m in ('sphinx', 'myst_nb', 'furo', 'nbdev') if importlib.util.find_spec(m) is None]
    if missing: pytest.skip(f'docs extras not installed ({", ".join(missing)}): pip install -e ".[docs]"')
    res = subprocess.run([sys.executable, 'docs/build.py'], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-5000:] + res.stderr[-5000:]
    return SITE


def notebooks() -> list[Path]:
    "The notebooks of `nbs/` that become pages."
    return sorted(p.relative_to(ROOT / 'nbs') for p in (ROOT / 'nbs').rglob('*.ipynb')
                  if not any(part.startswith(('.', '_')) for part in p.relative_to(ROOT / 'nbs').parts))


def page_of(rel: Path) -> Path:
    "The page nbdev names a notebook after (`models/dense_heads/01_fcos_head.ipynb` -> `.../fcos_head.html`)."
    return rel.parent / (re.sub(r'^\d+[a-zA-Z0-9]*_', '', rel.stem) + '.html')


def words(text: str) -> str:
    "The words of an HTML page's text, as one space-separated string (markup and numbers dropped)."
    text = re.sub(r'<(script|style)\b.*?</\1>', ' ', text, flags=re.S)
    return ' '.join(re.findall(r'[A-Za-z]{2,}', html.unescape(re.sub(r'<[^>]+>', ' ', text))))


def md_words(text: str) -> str:
    "The words a markdown paragraph shows, as `words` finds them on the page."
    text = re.sub(r'^\s*(```|~~~).*$', ' ', text, flags=re.M)  # code fences and their language
    text = re.sub(r'(`+)(.+?)\1', lambda m: f' {html.escape(m[2])} ', text, flags=re.S)  # `<split>`s: text, a word
    text = re.sub(r'!\[[^\]]*\]\([^)]*\)', ' ', text)  # a picture's alt text is not shown as text (a Colab badge)
    return words(re.sub(r'\]\([^)]*\)', ']', text))  # link targets are not shown


def title_cell_paragraphs(rel: Path) -> list[str]:
    "The paragraphs (or fenced code blocks) of a notebook's title cell after its `# Title` line."
    cell = json.loads((ROOT / 'nbs' / rel).read_text())['cells'][0]
    lines = ''.join(cell['source']).strip().splitlines()
    if not lines or not lines[0].startswith('# '): return []
    paragraphs, current, fenced = [], [], False
    for line in lines[1:] + ['']:
        if line.lstrip().startswith(('```', '~~~')): fenced = not fenced
        if line.strip() or fenced: current.append(line)
        elif current: paragraphs, current = paragraphs + ['\n'.join(current)], []
    return [p for p in paragraphs if md_words(p)]


def test_pages_keep_their_folders_and_parts(site):
    pages = {page_of(rel).as_posix() for rel in notebooks()}
    built = {p.relative_to(site).as_posix() for p in site.rglob('*.html')}
    assert pages <= built, sorted(pages - built)
    assert 'models/dense_heads/fcos_head.html' in built and 'datasets/base.html' in built
    index = (site / 'index.html').read_text()
    captions = re.findall(r'<p class="caption[^"]*"[^>]*><span class="caption-text">([^<]+)</span>', index)
    for part in ('Core', 'Datasets', 'Transforms', 'Models: dense heads', 'Engine', 'Evaluation', 'Visualization',
                 'APIs', 'Commands', 'Tutorials'):
        assert part in captions, (part, captions)
    assert captions.index('Core') < captions.index('Datasets') < captions.index('Engine') < captions.index('Tutorials')


def test_pages_keep_their_introduction(site):
    "Every paragraph of a notebook's title cell (description and introduction) is on its page, whole."
    lost = []
    for rel in notebooks():
        page = words((site / page_of(rel)).read_text())
        lost += [f'{rel}: {p[:80]!r}' for p in title_cell_paragraphs(rel) if md_words(p) not in page]
    assert not lost, '\n'.join(lost)
    assert title_cell_paragraphs(Path('models/dense_heads/01_fcos_head.ipynb'))  # the check has something to check


def test_cross_links_resolve(site):
    "nbdev's links to other notebooks' names point into the site, relative to the page."
    fcos = (site / 'models' / 'dense_heads' / 'fcos_head.html').read_text()
    assert 'https://detnb.github.io' not in fcos
    assert re.search(r'href="\.\./task_modules/prior_generators\.html#[a-z]', fcos)
    spec = importlib.util.spec_from_file_location('docs_build', ROOT / 'docs' / 'build.py')
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.dead_links(site) == []


# The browser check

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


@pytest.fixture(scope='session')
def served(site):
    "The site served on 127.0.0.1 (an ephemeral port), as its base URL."
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{server.server_address[1]}/'
    server.shutdown()


@pytest.fixture(scope='session')
def browser():
    "Headless Chromium through Selenium, with the browser's console log."
    if not (Path(CHROMIUM).exists() and CHROMEDRIVER):
        pytest.skip('Chromium not installed: apt-get update && apt-get install -y chromium chromium-driver')
    webdriver = pytest.importorskip('selenium.webdriver', reason='selenium not installed: pip install -e ".[docs]"')
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--window-size=1280,900'):
        opts.add_argument(arg)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


PAGE_STATE = """return {
  ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.name),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  broken: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
  images: document.images.length,
}"""


def test_browser_opens_every_page(site, served, browser):
    "Every page: no console error, no broken image, no dead internal link (file and anchor)."
    t0, errors, offline, state = time.time(), [], [], {}
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob('*.html') if not p.name.startswith('_'))
    for page in pages:
        browser.get(served + page)
        state[page] = browser.execute_script(PAGE_STATE)
        for entry in browser.get_log('browser'):
            if entry['level'] != 'SEVERE': continue
            url = re.match(r'(\S+) - Failed to load resource', entry['message'])
            if url and not url[1].startswith(served): offline.append(url[1])  # a CDN (MathJax), offline here
            else: errors.append(f'{page}: {entry["message"]}')
        for src in state[page]['broken']:  # an external picture (a Colab badge) cannot load offline
            if src.startswith(served): errors.append(f'{page}: broken image {src}')
            else: offline.append(src)
    for page, s in state.items():
        for href in s['links']:
            url, fragment = urldefrag(href)
            if not url.startswith(served): continue
            target = unquote(urlsplit(url).path)[1:] or 'index.html'
            if target.endswith('/'): target += 'index.html'
            if not (site / target).is_file(): errors.append(f'{page}: dead link {href}')
            elif fragment and target in state and unquote(fragment) not in state[target]['ids']:
                errors.append(f'{page}: dead anchor {href}')
    images = sum(s['images'] for s in state.values())
    print(f'\nbrowser: {len(pages)} pages, {images} images, {time.time() - t0:.0f} s'
          + (f'; {len(set(offline))} external resources not reachable offline' if offline else ''))
    assert not errors, '\n'.join(errors[:50])
    assert len(pages) >= len(notebooks())


def test_browser_search_finds_fcoshead(served, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get(served + 'index.html')
    box = browser.find_element(By.CSS_SELECTOR, 'form[action*="search"] input[name="q"]')
    box.send_keys('FCOSHead', Keys.ENTER)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, 'ul.search li a'))
    hrefs = [a.get_attribute('href') for a in browser.find_elements(By.CSS_SELECTOR, 'ul.search li a')]
    assert any('models/dense_heads/fcos_head.html' in h for h in hrefs), hrefs


def test_guide_pages(site):
    "The guide (getting started, user guide, model zoo, MMDetection, changelog) comes first in the site's contents."
    index = (site / 'index.html').read_text()
    guide = ['getting_started', 'user_guide', 'model_zoo', 'mmdetection', 'changelog']
    positions = [index.find(f'href="guide/{name}.html"') for name in guide]
    assert -1 not in positions and positions == sorted(positions), positions
    assert positions[-1] < index.find('href="config.html"')
    zoo = (site / 'guide' / 'model_zoo.html').read_text()
    from detnb.cli import shipped_configs
    from detnb.config import Config
    assert all(name in zoo for name in shipped_configs() if Config.fromfile(name).get('model'))
    assert 'href="../models/dense_heads/fcos_head.html#fcoshead"' in zoo


def test_config_types_link_to_their_pages(site):
    "A `type='Name'` in a page's code links to the page that documents Name."
    text = (site / 'evaluation' / 'voc.html').read_text()
    assert re.search(r'<a class="config-type" href="voc.html#vocmetric"><span class="s1">(&#39;|\')VOCMetric', text)


def test_browser_version_switcher(site, served, browser):
    "The version switcher lists the versions of docs/versions.json, this build's selected; it opens the choice."
    import detnb
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get(served + 'models/dense_heads/fcos_head.html')
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, 'select.version-switcher option'))
    options = browser.execute_script("return Array.from(document.querySelectorAll('select.version-switcher option'))"
                                     ".map(o => [o.text, new URL(o.value, document.baseURI).href, o.selected])")
    listed = json.loads((site / 'versions.json').read_text())
    assert [o[0] for o in options] == [v.get('name', v['version']) for v in listed]
    selected = [o for o in options if o[2]]
    assert len(selected) == 1 and selected[0][1] == served + 'index.html'
    assert any(v['version'] == detnb.__version__ for v in listed)
