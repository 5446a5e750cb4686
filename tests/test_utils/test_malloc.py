"""glibc malloc settings (``utils/malloc.py``); mallopt itself is faked
so the test process keeps its allocator as it is."""
import pytest

from pointhmr_mm.utils import malloc


class FakeGlibc:

    def __init__(self, refuse=()):
        self.calls, self.refuse = [], refuse

    def mallopt(self, param, value):
        self.calls.append((param, value.value))
        return 0 if param in self.refuse else 1


def test_thresholds_reach_mallopt(monkeypatch):
    libc = FakeGlibc()
    monkeypatch.setattr(malloc, '_glibc', lambda: libc)
    applied = malloc.configure_malloc_from_cfg(
        dict(mmap_threshold=2**30, trim_threshold=2**29))
    assert applied == dict(mmap_threshold=2**30, trim_threshold=2**29)
    assert sorted(libc.calls) == sorted([(malloc.M_MMAP_THRESHOLD, 2**30),
                                         (malloc.M_TRIM_THRESHOLD, 2**29)])
    # None leaves a setting alone
    libc.calls.clear()
    assert malloc.configure_malloc(trim_threshold=5) == dict(trim_threshold=5)
    assert libc.calls == [(malloc.M_TRIM_THRESHOLD, 5)]
    assert malloc.configure_malloc_from_cfg(None) == {}


def test_refused_setting_warns_and_is_not_reported(monkeypatch):
    monkeypatch.setattr(malloc, '_glibc',
                        lambda: FakeGlibc(refuse=(malloc.M_MMAP_THRESHOLD,)))
    with pytest.warns(UserWarning, match='mmap_threshold'):
        applied = malloc.configure_malloc(mmap_threshold=2**30,
                                          trim_threshold=2**30)
    assert applied == dict(trim_threshold=2**30)


def test_other_c_libraries_change_nothing(monkeypatch):
    monkeypatch.setattr(malloc, '_glibc', lambda: None)
    assert malloc.configure_malloc(mmap_threshold=2**30) == {}


@pytest.mark.parametrize('cfg, match', [
    (dict(mmap_threshold=-1), 'malloc_cfg.mmap_threshold'),
    (dict(trim_threshold=2**31), 'malloc_cfg.trim_threshold'),
    (dict(trim_threshold='1G'), 'malloc_cfg.trim_threshold'),
    (dict(mmap_threshold=True), 'malloc_cfg.mmap_threshold'),
    (dict(arena_max=2), 'unknown keys'),
    ([2**30], 'must be a dict'),
])
def test_bad_settings_name_the_key(monkeypatch, cfg, match):
    libc = FakeGlibc()
    monkeypatch.setattr(malloc, '_glibc', lambda: libc)
    with pytest.raises(ValueError, match=match):
        malloc.configure_malloc_from_cfg(cfg)
    assert libc.calls == []
