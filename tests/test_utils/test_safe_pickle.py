"""Restricted unpickling: SMPL-style pickles without chumpy, refusal of
anything else."""
import io
import pickle
import struct
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


def py2_string(data: bytes) -> bytes:
    """A Python-2 ``str`` opcode, which Python 3 reads back as text."""
    if len(data) < 256:
        return b'U' + bytes([len(data)]) + data
    return b'T' + struct.pack('<i', len(data)) + data


PY2_FLOAT64_DTYPE = (b'cnumpy\ndtype\n' + py2_string(b'f8') +
                     b'K\x00K\x01\x87R(K\x03' + py2_string(b'<') +
                     b'NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb')


def py2_pickle(values: np.ndarray, scalar: float) -> bytes:
    """Protocol-2 opcodes as Python 2 wrote them for a dict holding a 1-D
    float64 array and a numpy scalar (raw data as ``str``, module
    ``numpy.core``)."""
    array = (b'cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n'
             b'K\x00\x85' + py2_string(b'b') + b'\x87R(K\x01K' +
             bytes([len(values)]) + b'\x85' + PY2_FLOAT64_DTYPE + b'\x89' +
             py2_string(values.astype('<f8').tobytes()) + b'tb')
    number = (b'cnumpy.core.multiarray\nscalar\n' + PY2_FLOAT64_DTYPE +
              py2_string(struct.pack('<d', scalar)) + b'\x86R')
    return (b'\x80\x02}(' + py2_string(b'x') + array + py2_string(b's') +
            number + b'u.')


def test_python2_pickle_with_byte_strings(tmp_path):
    # 1.5 and -2.75 put bytes above 127 into the raw data, which only the
    # latin1 reading keeps intact
    values = np.array([1.5, -2.75, 3e-8])
    path = tmp_path / 'py2.pkl'
    path.write_bytes(py2_pickle(values, -0.5))
    data = load_pickle(path)
    np.testing.assert_array_equal(data['x'], values)
    assert data['s'] == -0.5


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
    with pytest.raises(UnsafePickleError, match=r'evil\.pkl.*system'):
        load_pickle(path)
    assert not marker.exists()


def test_forbidden_global_inside_chumpy_state_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil_ch.pkl'
    ch_mod, _ = fake_chumpy_classes()
    sys.modules.update({'chumpy': types.ModuleType('chumpy'),
                        'chumpy.ch': ch_mod})
    try:
        path.write_bytes(pickle.dumps(ch_mod.Ch(Payload(marker)),
                                      protocol=2))
    finally:
        for name in ('chumpy', 'chumpy.ch'):
            sys.modules.pop(name, None)
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


class FakeMesh:
    """Pickles under a module that is not installed, like psbody's Mesh in
    GraphCMR's ``mesh_downsampling.npz``."""

    def __init__(self):
        self.v = np.zeros((3, 3))


FakeMesh.__module__, FakeMesh.__qualname__ = 'psbody.mesh.mesh', 'Mesh'


def write_npz_member(archive, key, array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    archive.writestr(f'{key}.npy', buf.getvalue())


def test_npz_object_members_and_skipped_keys(tmp_path):
    path = tmp_path / 'mixed.npz'
    objects = np.empty(2, dtype=object)
    objects[0], objects[1] = sp.csr_matrix(np.eye(3)), np.arange(3)
    meshes = np.empty(1, dtype=object)
    meshes[0] = FakeMesh()
    sys.modules.update({'psbody': types.ModuleType('psbody'),
                        'psbody.mesh': types.ModuleType('psbody.mesh'),
                        'psbody.mesh.mesh': types.ModuleType('psbody.mesh.'
                                                             'mesh')})
    sys.modules['psbody.mesh.mesh'].Mesh = FakeMesh
    try:
        with zipfile.ZipFile(path, 'w') as archive:
            write_npz_member(archive, 'A', objects)
            write_npz_member(archive, 'plain', np.ones(4))
            write_npz_member(archive, 'M', meshes)
    finally:
        for name in ('psbody', 'psbody.mesh', 'psbody.mesh.mesh'):
            sys.modules.pop(name, None)
    data = load_npz(path, skip_keys=('M', ))
    assert set(data) == {'A', 'plain'}
    np.testing.assert_array_equal(data['A'][0].toarray(), np.eye(3))
    np.testing.assert_array_equal(data['A'][1], np.arange(3))
    np.testing.assert_array_equal(data['plain'], np.ones(4))
    with pytest.raises(UnsafePickleError, match=r'mixed\.npz\[M\].*psbody'):
        load_npz(path)


def test_npz_member_that_is_not_npy(tmp_path):
    path = tmp_path / 'odd.npz'
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('notes.txt', 'hello')
    with pytest.raises(ValueError, match=r'odd\.npz\[notes\.txt\]'):
        load_npz(path)
    assert load_npz(path, skip_keys=('notes.txt', )) == {}
