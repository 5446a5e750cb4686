"""Restricted unpickling: SMPL-style pickles without chumpy, refusal of
anything else."""
import io
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp

from pointhmr_mm.utils.safe_pickle import (UnsafePickleError, load_npz,
                                           load_pickle)


def fake_chumpy_classes():
    """Classes whose pickles name chumpy.ch.Ch / chumpy.reordering.Select,
    defined without chumpy and removed again after writing."""
    ch_mod, re_mod = types.ModuleType('chumpy.ch'), types.ModuleType(
        'chumpy.reordering')

    class Ch:
        def __init__(self, x):
            self.x = x

        def __getstate__(self):
            return {'x': self.x}

    class Select:
        def __init__(self, a, idxs, shape):
            self.a, self.idxs, self.preferred_shape = a, idxs, shape

        def __getstate__(self):
            return {'a': self.a, 'idxs': self.idxs,
                    'preferred_shape': self.preferred_shape}

    Ch.__module__, Ch.__qualname__ = 'chumpy.ch', 'Ch'
    Select.__module__, Select.__qualname__ = 'chumpy.reordering', 'Select'
    ch_mod.Ch, re_mod.Select = Ch, Select
    return ch_mod, re_mod


def write_smpl_style_pickle(path, arrays):
    ch_mod, re_mod = fake_chumpy_classes()
    sys.modules.update({'chumpy': types.ModuleType('chumpy'),
                        'chumpy.ch': ch_mod, 'chumpy.reordering': re_mod})
    try:
        full = arrays['shapedirs_full']
        data = dict(
            v_template=ch_mod.Ch(arrays['v_template']),
            shapedirs=re_mod.Select(
                ch_mod.Ch(full), np.arange(full.size).reshape(full.shape)[
                    ..., :2].ravel(), full[..., :2].shape),
            J_regressor=sp.csc_matrix(arrays['J_regressor']),
            tags={'a', 'b'})
        with open(path, 'wb') as f:
            pickle.dump(data, f, protocol=2)
    finally:
        for name in ('chumpy', 'chumpy.ch', 'chumpy.reordering'):
            sys.modules.pop(name, None)


def test_smpl_style_pickle_loads_without_chumpy(tmp_path):
    rng = np.random.default_rng(0)
    arrays = dict(v_template=rng.normal(size=(5, 3)),
                  shapedirs_full=rng.normal(size=(5, 3, 4)),
                  J_regressor=rng.random((2, 5)))
    path = tmp_path / 'model.pkl'
    write_smpl_style_pickle(path, arrays)
    assert 'chumpy' not in sys.modules
    data = load_pickle(path)
    assert 'chumpy' not in sys.modules
    np.testing.assert_array_equal(data['v_template'], arrays['v_template'])
    np.testing.assert_array_equal(data['shapedirs'],
                                  arrays['shapedirs_full'][..., :2])
    assert sp.issparse(data['J_regressor'])
    np.testing.assert_allclose(data['J_regressor'].toarray(),
                               arrays['J_regressor'])
    assert data['tags'] == {'a', 'b'}


class Payload:
    """Pickles as a call to os.system that would create a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f'touch {self.marker}', )


def test_forbidden_global_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pkl'
    path.write_bytes(pickle.dumps({'v': Payload(marker)}, protocol=2))
    with pytest.raises(UnsafePickleError, match='system'):
        load_pickle(path)
    assert not marker.exists()


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pkl'):
        load_pickle(tmp_path / 'nope.pkl')
    bad = tmp_path / 'bad.pkl'
    bad.write_bytes(b'not a pickle')
    with pytest.raises(ValueError, match='bad.pkl'):
        load_pickle(bad)
    with pytest.raises(ValueError, match='not an npz'):
        load_npz(bad)


def test_npz_object_members_and_skipped_keys(tmp_path):
    path = tmp_path / 'mixed.npz'
    objects = np.empty(2, dtype=object)
    objects[0], objects[1] = sp.csr_matrix(np.eye(3)), np.arange(3)
    with zipfile.ZipFile(path, 'w') as archive:
        for key, value in (('A', objects), ('plain', np.ones(4))):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, value, allow_pickle=True)
            archive.writestr(f'{key}.npy', buf.getvalue())
        # an object that names a module nobody can import
        unimportable = pickle.dumps(np.array([Payload('x')], dtype=object))
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buf, dict(descr='|O', fortran_order=False, shape=(1, )))
        archive.writestr('M.npy', buf.getvalue() + unimportable)
    data = load_npz(path, skip_keys=('M', ))
    assert set(data) == {'A', 'plain'}
    np.testing.assert_array_equal(data['A'][0].toarray(), np.eye(3))
    with pytest.raises(UnsafePickleError):
        load_npz(path)
