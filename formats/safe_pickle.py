"""A pickle reader that builds data and never runs code from the file.

A pickle names the functions to call while loading it (its "globals"); a hostile file names
`os.system`. This unpickler resolves only the globals a checkpoint really holds, each to a
stand-in of ours that builds plain data, and refuses every other one before anything runs.
numpy arrays are rebuilt from their raw bytes after checking the byte count against shape
and dtype (no object arrays, nothing allocated beyond what the file holds).
"""
import collections
import io
import math
import pickle
import struct

import numpy as np

MAX_DEPTH = 100  # checkpoints nest a few levels; deeper is a malformed or hostile file
NUMERIC_KINDS = "biufc"


class FileFormatError(Exception):
    """The file is not what a checkpoint holds; the message is one line."""


def numeric_dtype(spec):
    try:
        dtype = np.dtype(spec)
    except TypeError:
        raise FileFormatError(f"unsupported array type {spec!r}") from None
    if dtype.kind not in NUMERIC_KINDS and dtype != np.bool_:
        raise FileFormatError(f"unsupported array type {dtype} (only numbers are read)")
    return dtype


class DType:
    """Stands in for numpy.dtype(name, align, copy); its pickled state sets the byte order."""

    def __init__(self, name, align=False, copy=False):
        if not isinstance(name, str):
            raise FileFormatError("malformed array type in the file")
        self.dtype = numeric_dtype(name)

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in "<>|=":
            raise FileFormatError("malformed array type in the file")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


class NdarrayClass:
    """Stands in for the numpy.ndarray class, which pickles pass to _reconstruct."""


class ArrayBuilder:
    """numpy.core.multiarray._reconstruct(ndarray, ...) then __setstate__(state)."""

    def __init__(self, cls, shape, typecode):
        if cls is not NdarrayClass:
            raise FileFormatError("malformed array in the file")
        self.array = None

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise FileFormatError("malformed array in the file")
        shape, dtype, fortran, raw = state[-4:]
        if not isinstance(dtype, DType):
            raise FileFormatError("malformed array type in the file")
        self.array = array_from_bytes(raw, dtype.dtype, shape, bool(fortran))


def array_from_bytes(raw, dtype, shape, fortran=False):
    """An array over `raw`, after checking that raw holds exactly shape * itemsize bytes."""
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise FileFormatError("malformed array shape in the file")
    if not isinstance(raw, (bytes, bytearray)):
        raise FileFormatError("array without raw data (object arrays are not read)")
    if math.prod(shape) * dtype.itemsize != len(raw):
        raise FileFormatError(f"array of shape {shape} does not match its {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def numpy_scalar(dtype, raw):
    if not isinstance(dtype, DType) or not isinstance(raw, bytes):
        raise FileFormatError("malformed number in the file")
    return array_from_bytes(raw, dtype.dtype, ())[()]


def array_argument(builder):
    """jittor_core.Var(array): StyleGAN-jittor's jt.save files pickle Vars this way."""
    if not isinstance(builder, ArrayBuilder):
        raise FileFormatError("malformed jittor Var in the file")
    return builder


NUMPY_GLOBALS = {("numpy", "ndarray"): NdarrayClass, ("numpy", "dtype"): DType}
for _core in ("numpy.core.multiarray", "numpy._core.multiarray"):  # numpy 1 and 2 names
    NUMPY_GLOBALS[(_core, "_reconstruct")] = ArrayBuilder
    NUMPY_GLOBALS[(_core, "scalar")] = numpy_scalar
JITTOR_GLOBALS = {("jittor", "jittor_core.Var"): array_argument,
                  ("jittor_core", "Var"): array_argument}
PLAIN_GLOBALS = {("collections", "OrderedDict"): collections.OrderedDict,
                 ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
                 ("builtins", "slice"): slice, ("builtins", "complex"): complex}


class SafeUnpickler(pickle._Unpickler):
    """Resolves only the globals in `allowed` ((module, name) -> stand-in).

    Built on pickle's Python implementation: the C one sizes its memo table by the index a
    file names, so a 2-byte edit makes it allocate gigabytes; this one keeps a dict."""

    def __init__(self, file, allowed):
        super().__init__(file)
        self.allowed = allowed

    def find_class(self, module, name):
        try:
            return self.allowed[(module, name)]
        except (KeyError, TypeError):
            raise FileFormatError(f"refused to load {module}.{name}: checkpoints never hold it, "
                                  "so the file may be built to run code") from None

    def persistent_load(self, saved_id):
        raise FileFormatError("unsupported persistent reference in the file")


def plain_data(obj, depth=0):
    """Stand-ins replaced by what they stand for: arrays, dicts, lists, numbers, strings."""
    if depth > MAX_DEPTH:
        raise FileFormatError(f"data nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, ArrayBuilder):
        if obj.array is None:
            raise FileFormatError("array without data in the file")
        return obj.array
    if hasattr(obj, "plain"):  # a format's own stand-in (a tensor view, a dnnlib Network, ...)
        return obj.plain(lambda value: plain_data(value, depth + 1))
    if isinstance(obj, DType):
        return obj.dtype
    if isinstance(obj, dict):
        return type(obj)((key, plain_data(value, depth + 1)) for key, value in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain_data(value, depth + 1) for value in obj)
    return obj


UNPICKLING_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError,
                     IndexError, AttributeError, OverflowError, MemoryError, RecursionError,
                     UnicodeDecodeError, struct.error)


def load_pickle(payload, allowed=None):
    """The object pickled in `payload` (bytes), as plain data; FileFormatError otherwise."""
    allowed = {**NUMPY_GLOBALS, **JITTOR_GLOBALS, **PLAIN_GLOBALS, **(allowed or {})}
    try:
        return plain_data(SafeUnpickler(io.BytesIO(payload), allowed).load())
    except FileFormatError:
        raise
    except UNPICKLING_ERRORS as error:
        raise FileFormatError(f"not a readable pickle ({type(error).__name__})") from None
