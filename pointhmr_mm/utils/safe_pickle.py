"""Restricted unpickling of body-model and mesh-topology files.

Official SMPL pickles are Python-2-era files that reference chumpy (which
does not install on current Python/NumPy), and GraphCMR's
``mesh_downsampling.npz`` stores pickled object arrays. Both are read here
through an allow-list: numpy arrays, scipy sparse matrices and chumpy's
``Ch``/``Select``, which become plain arrays. Any other global is refused
before anything runs. No library offers a chumpy-free, allow-listed loader,
hence this module.
"""
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterable, Union

import numpy as np
import scipy.sparse as sp

PathLike = Union[str, Path]
NPY_SUFFIX = '.npy'


class UnsafePickleError(ValueError):
    """A pickle names a global outside the allow-list."""


class _ChumpyStandIn:
    """Captures a chumpy object's pickled state without chumpy.

    Subclasses turn the state into an array in ``value()``.
    """
    def __init__(self, *args, **kwargs):
        self.state = {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {'x': state}

    def _field(self, key: str) -> Any:
        if key not in self.state:
            raise ValueError(f'chumpy {type(self).__name__[1:]} object '
                             f"without '{key}' (has {sorted(self.state)})")
        return self.state[key]


class _Ch(_ChumpyStandIn):
    """``chumpy.ch.Ch``: the array lives in ``state['x']``."""

    def value(self) -> np.ndarray:
        return np.asarray(_resolve(self._field('x')))


class _Select(_ChumpyStandIn):
    """``chumpy.reordering.Select``: flat indices into another Ch."""

    def value(self) -> np.ndarray:
        source = np.asarray(_resolve(self._field('a')))
        flat = source.ravel()[np.asarray(self._field('idxs'))]
        return flat.reshape(self._field('preferred_shape'))


def _numpy_globals():
    # Take numpy's own reconstruction helpers from its reduce tuples, so
    # the private module they live in (numpy.core / numpy._core) does not
    # matter. numpy's scalar() also accepts Python-2 str data (latin1).
    reconstruct = np.ndarray.__reduce__(np.zeros(0))[0]
    scalar = np.float64(0).__reduce__()[0]
    allowed = {}
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed[(module, '_reconstruct')] = reconstruct
        allowed[(module, 'scalar')] = scalar
    allowed[('numpy', 'ndarray')] = np.ndarray
    allowed[('numpy', 'dtype')] = np.dtype
    return allowed


def _sparse_globals():
    allowed = {}
    for fmt in ('csc', 'csr', 'coo'):
        cls = getattr(sp, f'{fmt}_matrix')
        for module in (f'scipy.sparse.{fmt}', f'scipy.sparse._{fmt}',
                       'scipy.sparse'):
            allowed[(module, f'{fmt}_matrix')] = cls
    return allowed


ALLOWED_GLOBALS = {
    **_numpy_globals(),
    **_sparse_globals(),
    ('chumpy.ch', 'Ch'): _Ch,
    ('chumpy.reordering', 'Select'): _Select,
    ('__builtin__', 'set'): set,
    ('builtins', 'set'): set,
    ('copy_reg', '_reconstructor'): None,  # filled below
    ('copyreg', '_reconstructor'): None,
    ('__builtin__', 'object'): object,
    ('builtins', 'object'): object,
}


def _safe_reconstructor(cls, base, state):
    # copyreg._reconstructor (protocol 0/1 pickles of new-style classes),
    # limited to the allow-listed classes.
    allowed = isinstance(cls, type) and cls in ALLOWED_GLOBALS.values()
    if not allowed or base is not object or state is not None:
        raise UnsafePickleError(f'refusing to reconstruct {cls!r}')
    return object.__new__(cls)


def _latin1_encode(text, encoding='latin1'):
    # Python 3 writes bytes into protocol-2 pickles as
    # _codecs.encode(str, 'latin1'); only that harmless form is allowed.
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        raise UnsafePickleError('refusing _codecs.encode with '
                                f'{type(text).__name__}, {encoding!r}')
    return text.encode('latin1')


ALLOWED_GLOBALS[('_codecs', 'encode')] = _latin1_encode
ALLOWED_GLOBALS[('copy_reg', '_reconstructor')] = _safe_reconstructor
ALLOWED_GLOBALS[('copyreg', '_reconstructor')] = _safe_reconstructor


class _RestrictedUnpickler(pickle.Unpickler):

    def __init__(self, file, source: str):
        super().__init__(file, encoding='latin1')
        self.source = source

    def find_class(self, module, name):
        if (module, name) in ALLOWED_GLOBALS:
            return ALLOWED_GLOBALS[(module, name)]
        raise UnsafePickleError(
            f'{self.source}: refusing to load global "{module}.{name}"; '
            'only numpy arrays, scipy.sparse matrices and chumpy Ch/Select '
            'are allowed in body-model files')


def _resolve(obj: Any) -> Any:
    """Replace chumpy stand-ins by arrays, recursively."""
    if isinstance(obj, _ChumpyStandIn):
        return obj.value()
    if isinstance(obj, dict):
        return {k: _resolve(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v) for v in obj)
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        out = np.empty(obj.shape, dtype=object)
        for idx, value in np.ndenumerate(obj):
            out[idx] = _resolve(value)
        return out
    return obj


def _unpickle(stream, source: str) -> Any:
    try:
        return _resolve(_RestrictedUnpickler(stream, source).load())
    except UnsafePickleError:
        raise
    except Exception as err:  # truncated or foreign data
        raise ValueError(f'{source}: not a readable pickle ({err})') from err


def load_pickle(path: PathLike) -> Any:
    """Load a pickle through the allow-list, chumpy objects as arrays.

    Args:
        path: A pickle of any protocol; Python-2 strings are read as
            latin1, as official SMPL files need.

    Returns:
        The unpickled object, with every chumpy ``Ch``/``Select`` replaced
        by a numpy array.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnsafePickleError: The pickle names a global outside the allow-list
            (nothing from the file has been run).
        ValueError: The file is not a readable pickle.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no such file')
    with open(path, 'rb') as f:
        return _unpickle(f, str(path))


def load_npz(path: PathLike, skip_keys: Iterable[str] = ()) -> Dict[str, Any]:
    """Load an ``.npz`` whose members may be pickled object arrays.

    Plain arrays are read with pickling disabled; object arrays go through
    the allow-list. Members named in ``skip_keys`` are never read (e.g.
    GraphCMR's ``M``, which holds psbody pickles).

    Args:
        path: The ``.npz`` file.
        skip_keys: Member names (without ``.npy``) to leave unread.

    Returns:
        dict: member name -> array (object arrays keep their unpickled
        elements, e.g. scipy sparse matrices).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not a zip archive, or a member is not an
            ``.npy`` array.
        UnsafePickleError: An object member names a forbidden global.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'{path}: no such file')
    if not zipfile.is_zipfile(path):
        raise ValueError(f'{path}: not an npz (zip) archive')
    skip = set(skip_keys)
    out = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            key = member[:-len(NPY_SUFFIX)] if member.endswith(
                NPY_SUFFIX) else member
            if key not in skip:
                out[key] = _read_npy_member(archive, member, f'{path}[{key}]')
    return out


def _read_npy_member(archive: zipfile.ZipFile, member: str,
                     source: str) -> Any:
    """One ``.npy`` member: plain arrays without pickle, object arrays
    through the allow-list."""
    data = io.BytesIO(archive.read(member))
    try:
        version = np.lib.format.read_magic(data)
        # format 3.0 differs from 2.0 only in the header's text encoding
        reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        _, _, dtype = reader(data)
    except ValueError as err:
        raise ValueError(f'{source}: not an .npy member ({err})') from err
    if dtype.hasobject:
        return _unpickle(data, source)
    data.seek(0)
    return np.lib.format.read_array(data, allow_pickle=False)
