"""Fuzzing the config system (issue #18): `Config.fromfile` on random and mutated config files, and
`merge_from_arg_list` / `merge_from_dict` on random overrides, raise only the error types that
`nbs/00_config.ipynb` documents ("Errors name the file and the key"), each naming the file or the override. An
override never adds a key it does not write with `+`, a failed merge changes nothing, and an override's value is
read as data, never run as code.

The default run tries about 300 examples; `pytest --flags slow` runs 10,000 of each kind."""
import builtins, contextlib, copy, itertools
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from detnb.config import Config, config_to_source, parse_override_value

LOAD_ERRORS = (FileNotFoundError, SyntaxError, KeyError, TypeError, RuntimeError, ValueError)
BASE = Config.fromfile('detnb::retinanet/retinanet_r50_fpn_1x_coco.py')  # lists, tuples, None and data_root


def fuzz_settings(examples: int):
    "Reproducible hypothesis settings for `examples` examples (no example database, no deadline)."
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def dotted_paths(node, prefix: str = ''):
    "Every dotted key of `node`, through dicts by key and lists and tuples by index."
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, (list, tuple)) else ()
    for key, value in items:
        path = f'{prefix}{key}'
        yield path
        yield from dotted_paths(value, path + '.')


PATHS = sorted(dotted_paths(BASE))


def is_plain(value) -> bool:
    "Whether `value` is data: literals, and lists, tuples, sets and dicts of them (nothing a call could make)."
    if value is None or value is Ellipsis or type(value) in (bool, int, float, complex, str, bytes): return True
    if type(value) in (list, tuple, set, frozenset): return all(map(is_plain, value))
    if isinstance(value, dict): return all(is_plain(k) and is_plain(v) for k, v in value.items())
    return False


def existing_path(cfg, parts: list[str]) -> bool:
    "Whether the key `parts` goes only through keys that `cfg` has (under a `None` every key is new)."
    node = cfg
    for part in parts:
        if node is None: return True
        if isinstance(node, dict):
            if part not in node: return False
            node = node[part]
        else: node = node[int(part)]  # an override that succeeded went through lists and tuples by index
    return True


# --- overrides ---------------------------------------------------------------------------------------------

SNIPPETS = ['', 'x', '.', '..', '_', '0', '-1', '9', '+', '=', ' ', '._delete_', '[0]', 'é', '\x00']


@st.composite
def keys(draw) -> str:
    "A key of the config, one edited near a random place, or random text."
    kind = draw(st.integers(0, 3))
    if kind == 3: return draw(st.text('abcdefghijklmnopqrstuvwxyz0123456789._+-[]é', max_size=30))
    key = draw(st.sampled_from(PATHS))
    if kind >= 1:  # a typo: a character replaced, dropped or doubled
        at = draw(st.integers(0, len(key)))
        key = key[:at] + draw(st.sampled_from(SNIPPETS)) + key[at + draw(st.integers(0, 1)):]
    return draw(st.sampled_from(['', '', '', '+'])) + key + draw(st.sampled_from(['', '', '', '._delete_']))


CODE = ["__import__('os').system('echo pwned')", "exec('x = 1')", "eval('1 + 1')", "open('pwned', 'w')",
        "().__class__.__base__.__subclasses__()", 'lambda: 1', '[i for i in range(3)]', 'dict(a=1)', 'x if 1 else y',
        "{'a': __import__('os')}", '1 + 1', '(1).__class__', "f'{1}'"]
literals = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
                        lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
                        | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8).map(repr)
values = st.one_of(literals, st.sampled_from(CODE), st.text(max_size=25),
                   st.text('[](),\'"abc01.=+- ', max_size=25), st.integers(0, 300).map(lambda n: '[' * n + ']' * n))
overrides = st.lists(st.one_of(st.tuples(keys(), values).map('='.join), keys()), min_size=1, max_size=3)


def raised_by(f, errors) -> BaseException | None:
    "The error of type `errors` that `f()` raises, or None where it returns (any other error propagates)."
    try: f()
    except errors as e: return e
    return None


def raising(name: str):
    "A stand-in for the builtin `name` that fails the test when called."
    def call(*args, **kwargs): raise AssertionError(f'{name} was called')
    return call


def check_overrides(texts: list[str]):
    "`merge_from_arg_list(texts)` succeeds without eval, or raises a ValueError naming an override and changes nothing."
    for text in texts:
        assert is_plain(parse_override_value(text.partition('=')[2]))
    cfg = copy.deepcopy(BASE)
    with mock.patch.object(builtins, 'eval', raising('eval')), mock.patch.object(builtins, 'exec', raising('exec')):
        error = raised_by(lambda: cfg.merge_from_arg_list(texts), ValueError)
    if error is not None:
        assert any(repr(t) in str(error) for t in texts), (texts, str(error))
        assert cfg == BASE, texts  # a failed merge changes nothing
    elif len(texts) == 1 and not texts[0].startswith('+') and '_delete_' not in texts[0]:
        assert existing_path(BASE, texts[0].partition('=')[0].strip().split('.')), texts  # no silent new key


def check_dict_overrides(options: dict):
    "`merge_from_dict(options)` succeeds, or raises a ValueError naming the key and changes nothing."
    cfg = copy.deepcopy(BASE)
    error = raised_by(lambda: cfg.merge_from_dict(options), ValueError)
    if error is not None:
        assert any(repr(f'{k}={v!r}') in str(error) for k, v in options.items()), (options, str(error))
        assert cfg == BASE, options


plain_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=6),
                            lambda inner: st.lists(inner, max_size=3)
                            | st.dictionaries(st.sampled_from(['type', 'depth', 'lr', '_delete_', 'x']), inner,
                                              max_size=3), max_leaves=8)


@fuzz_settings(150)
@given(overrides)
def test_fuzz_overrides(texts):
    check_overrides(texts)


@fuzz_settings(50)
@given(st.dictionaries(keys(), plain_values, min_size=1, max_size=3))
def test_fuzz_dict_overrides(options):
    check_dict_overrides(options)


@pytest.mark.slow
@fuzz_settings(10_000)
@given(overrides)
def test_fuzz_overrides_10k(texts):
    check_overrides(texts)


def test_override_fuzz_finds_the_misspelling():
    "The checks above fail where they should: a misspelled key that was silently added is caught."
    with pytest.raises(AssertionError):
        assert existing_path(BASE, 'optim_wraper.optimizer.lr'.split('.'))
    with pytest.raises(ValueError, match="did you mean 'optim_wrapper'"):
        copy.deepcopy(BASE).merge_from_arg_list(['optim_wraper.optimizer.lr=0.5'])


# --- config files ------------------------------------------------------------------------------------------

NAMES = ['model', 'backbone', 'depth', 'data_root', 'dataset_type', 'backend_args', 'type', 'lr', 'pipeline', 'a',
         'b2', 'train_dataloader', 'dataset', 'neck', 'ann_file']
EXTRA_LINES = ["x = {{_base_.data_root}}", "y = '{{_base_.dataset_type}}/a'", 'z = _base_.model.backbone',
               "data_root = 'data/x/'", "w = data_root + 'ann.json'", 'model = dict(backbone=dict(_delete_=True))',
               "model = dict(backbone=dict(_delete_=True, type='ResNet'))", "q = '{{ _base_.nothing }}'",
               "train_dataloader = dict(dataset=dict(data_root=data_root))", "r = f'{{_base_.data_root}}'",
               'import math', 'def f(x): return x', 's = {{_base_.model.neck.in_channels.1}}', 't = [1, 2][5]']
BASES = ['detnb::_base_/datasets/coco_detection.py', 'detnb::_base_/models/retinanet_r50_fpn.py',
         'detnb::_base_/schedules/schedule_1x.py', 'other.py', 'missing.py', 'main.py', 'detnb::nothing.py']
TOKENS = ["'", '"', '(', ')', '[', ']', '{', '}', ',', ':', '=', '.', ' ', '\n', '\t', '\\', '#', '{{', '}}',
          '{{_base_.', '_base_', '_delete_', 'dict(', 'None', '0', '1e9', '\x00', '\r', 'é', '\ufeff', '+', '-', '/',
          '%', 'f"', 'b"', 'lambda', 'if', 'not']

names = st.sampled_from(NAMES)
data = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner)
                    | st.dictionaries(names, inner, max_size=3), max_leaves=10)


@st.composite
def config_texts(draw) -> bytes:
    "A config file: bases, generated values and extra lines, then edited at random places (maybe not UTF-8)."
    lines = []
    if draw(st.booleans()): lines.append(f'_base_ = {draw(st.lists(st.sampled_from(BASES), max_size=3))!r}')
    lines.append(config_to_source(draw(st.dictionaries(names.filter(lambda n: n != 'type'), data, max_size=4))))
    lines += draw(st.lists(st.sampled_from(EXTRA_LINES), max_size=3))
    text = '\n'.join(lines)
    for _ in range(draw(st.integers(0, 4))):  # edits: delete or insert at a random place
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at + draw(st.integers(0, 2)):]
    raw = text.encode('utf-8')
    if draw(st.integers(0, 19)) == 0:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + b'\xff' + raw[at:]
    return raw


DANGEROUS = ('exit', 'quit', 'input', 'breakpoint', 'help')
counter = itertools.count()


def check_file(folder, main: bytes, other: bytes):
    "`Config.fromfile` of `main` (its bases may include `other.py`) loads, or raises a documented error naming a file."
    case = folder / f'case{next(counter)}'
    case.mkdir()
    (case / 'main.py').write_bytes(main)
    (case / 'other.py').write_bytes(other)
    with contextlib.ExitStack() as stack:  # a mutation that calls one of these must not touch the machine
        for name in DANGEROUS: stack.enter_context(mock.patch.object(builtins, name, raising(name)))
        loaded = []
        error = raised_by(lambda: loaded.append(Config.fromfile(case / 'main.py')), LOAD_ERRORS)
    if error is not None: assert str(case) in str(error) or 'detnb::nothing.py' in str(error), repr(error)
    else: assert isinstance(loaded[0], Config) and '_base_' not in loaded[0]


@pytest.fixture(scope='module')
def fuzz_folder(tmp_path_factory):
    return tmp_path_factory.mktemp('fuzz_config')


quiet = pytest.mark.filterwarnings('ignore::SyntaxWarning', 'ignore::DeprecationWarning')  # mutated source code


@quiet
@fuzz_settings(150)
@given(main=config_texts(), other=config_texts())
def test_fuzz_config_files(fuzz_folder, main, other):
    check_file(fuzz_folder, main, other)


@quiet
@pytest.mark.slow
@fuzz_settings(10_000)
@given(main=config_texts(), other=config_texts())
def test_fuzz_config_files_10k(fuzz_folder, main, other):
    check_file(fuzz_folder, main, other)
