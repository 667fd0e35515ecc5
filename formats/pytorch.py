"""Read files written by `torch.save` into NumPy arrays, without torch.

rosinality's checkpoints are such files (legacy format from 2019, zip format since
PyTorch 1.6). `jt.load` only takes them by extension and loses storage offsets and
strides, so we read them here: the pickle names tensors by (storage, offset, size,
stride); storages are raw little-endian arrays, in the zip archive or after the pickles.
Every pickle in the file goes through the safe unpickler; tensor views are checked to lie
inside their storage, and the bytes they expand to are bounded by the file's size.
"""
import io
import math
import os
import zipfile
from collections import OrderedDict

import numpy as np

from formats.safe_pickle import (MAX_DEPTH, PLAIN_GLOBALS, UNPICKLING_ERRORS, FileFormatError,
                                 SafeUnpickler)

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
ZIP_SIGNATURE = b"PK\x03\x04"

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class TorchFormatError(FileFormatError):
    pass


class _StorageType:
    def __init__(self, name):
        self.dtype = STORAGE_DTYPES[name]

    @property
    def itemsize(self):
        return 2 if self.dtype == "bfloat16" else np.dtype(self.dtype).itemsize


class _LazyTensor:
    """A tensor whose storage bytes may come later (legacy files store them last)."""

    def __init__(self, storage_key, offset, shape, stride):
        if not all(isinstance(v, int) and v >= 0 for v in (offset, *shape, *stride)) \
                or len(shape) != len(stride):
            raise TorchFormatError("malformed tensor in the file")
        self.storage_key, self.offset = storage_key, offset
        self.shape, self.stride = tuple(shape), tuple(stride)

    def materialize(self, storages, budget):
        flat = storages[self.storage_key]
        numel = math.prod(self.shape)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride))
        if numel and last >= flat.size:
            raise TorchFormatError("a tensor reaches past the end of its storage")
        budget.spend(numel * flat.itemsize)
        if not self.shape:
            return flat[self.offset].copy()
        if not numel:
            return np.zeros(self.shape, flat.dtype)
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.shape,
            strides=[s * flat.itemsize for s in self.stride])
        return np.ascontiguousarray(view)


class _ByteBudget:
    """Tensors may view one storage many times: bound what they expand to by the file."""

    def __init__(self, file_size):
        self.left = 4 * file_size + 2**20

    def spend(self, nbytes):
        self.left -= nbytes
        if self.left < 0:
            raise TorchFormatError("tensors expand to far more data than the file holds")


def _rebuild_tensor(storage_key, offset, shape, stride, *unused):
    if not isinstance(shape, (tuple, list)) or not isinstance(stride, (tuple, list)):
        raise TorchFormatError("malformed tensor in the file")
    return _LazyTensor(storage_key, offset, shape, stride)


def _rebuild_parameter(tensor, *unused):
    return tensor


class ScriptObject:
    """A module of a torch.jit.save archive: pickle builds it from its attribute dict."""

    class_name = ""

    def __setstate__(self, state):
        self.attributes = state


def _script_class(qualified_name):
    return type(qualified_name.rpartition(".")[2], (ScriptObject,), {"class_name": qualified_name})


def _identity(value):
    return value


TORCH_GLOBALS = {
    **PLAIN_GLOBALS,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{(module, name): _StorageType(name)
       for module in ("torch", "torch.storage") for name in STORAGE_DTYPES},
}


class _TorchUnpickler(SafeUnpickler):
    """torch's globals mapped to our stand-ins; anything else is refused."""

    def __init__(self, file, storage_types):
        super().__init__(file, TORCH_GLOBALS)
        self.storage_types = storage_types
        self.script_classes = {}

    def find_class(self, module, name):
        if isinstance(module, str) and module.startswith("__torch__"):  # TorchScript modules
            qualified = f"{module}.{name}"
            return self.script_classes.setdefault(qualified, _script_class(qualified))
        if module == "torch.jit._pickle" and isinstance(name, str) and name.startswith("build_"):
            return _identity  # typed lists: build_intlist([...]) and the like
        return super().find_class(module, name)

    def persistent_load(self, saved_id):
        # zip: ('storage', type, key, location, numel); legacy adds view metadata
        if not isinstance(saved_id, tuple) or len(saved_id) < 5 or saved_id[0] != "storage" \
                or not isinstance(saved_id[1], _StorageType):
            raise TorchFormatError(f"unsupported persistent id {str(saved_id)[:40]!r}")
        if len(saved_id) > 5 and saved_id[5] is not None:
            raise TorchFormatError("storage views (PyTorch < 0.4 files) are not supported")
        key = str(saved_id[2])
        self.storage_types[key] = saved_id[1]
        return key


def _as_array(raw, storage_type):
    if storage_type.dtype == "bfloat16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32)
    return np.frombuffer(raw, dtype=np.dtype(storage_type.dtype).newbyteorder("<"))


def _materialize(obj, storages, budget, depth=0):
    if depth > MAX_DEPTH:
        raise TorchFormatError(f"data nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, _LazyTensor):
        if obj.storage_key not in storages:
            raise TorchFormatError("a tensor names a storage the file does not hold")
        return obj.materialize(storages, budget)
    if isinstance(obj, ScriptObject):
        attributes = getattr(obj, "attributes", {})
        return {"__class__": obj.class_name, **_materialize(attributes, storages, budget, depth + 1)}
    if isinstance(obj, dict):
        items = [(key, _materialize(value, storages, budget, depth + 1))
                 for key, value in obj.items()]
        return OrderedDict(items) if isinstance(obj, OrderedDict) else dict(items)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(value, storages, budget, depth + 1) for value in obj)
    return obj


def _read_zip(path, file_size):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl")]
        if not pickles:
            raise TorchFormatError("zip archive without data.pkl")
        prefix = pickles[0][: -len("data.pkl")]

        def read_entry(name):
            info = archive.getinfo(name)
            if max(info.file_size, info.compress_size) > file_size:  # a bomb, or a bad length
                raise TorchFormatError(f"archive entry {name} claims more bytes than the file has")
            return archive.read(name)

        types = {}
        obj = _TorchUnpickler(io.BytesIO(read_entry(pickles[0])), types).load()
        storages = {key: _as_array(read_entry(f"{prefix}data/{key}"), storage_type)
                    for key, storage_type in types.items()}
    return _materialize(obj, storages, _ByteBudget(file_size))


def _read_legacy(stream, file_size):
    def header_pickle():
        return SafeUnpickler(stream, PLAIN_GLOBALS).load()

    if header_pickle() != LEGACY_MAGIC:
        raise TorchFormatError("not a PyTorch file")
    header_pickle()  # protocol version
    header_pickle()  # sys info (byte order, type sizes)
    types = {}
    obj = _TorchUnpickler(stream, types).load()
    storages = {}
    keys = header_pickle()
    if not isinstance(keys, list):
        raise TorchFormatError("malformed storage list")
    for key in keys:
        if key not in types:
            raise TorchFormatError("the file stores a storage no tensor declared")
        numel = int(np.frombuffer(stream.read(8), dtype="<i8")[0])
        nbytes = numel * types[key].itemsize
        if numel < 0 or nbytes > file_size - stream.tell():
            raise TorchFormatError("a storage is longer than the rest of the file")
        storages[key] = _as_array(stream.read(nbytes), types[key])
    return _materialize(obj, storages, _ByteBudget(file_size))


def _starts_with_magic(payload):
    try:
        return SafeUnpickler(io.BytesIO(payload), {}).load() == LEGACY_MAGIC
    except Exception:
        return False


def is_torch_file(path):
    """True for a zip archive or a pickle stream that starts with torch's magic number."""
    with open(path, "rb") as stream:
        head = stream.read(64)
    return head.startswith(ZIP_SIGNATURE) or _starts_with_magic(head)


def read_torch_file(path):
    """The object saved by torch.save, with every tensor as a NumPy array."""
    file_size = os.path.getsize(path)
    try:
        with open(path, "rb") as stream:
            if stream.read(4) == ZIP_SIGNATURE:
                return _read_zip(path, file_size)
            stream.seek(0)
            return _read_legacy(io.BytesIO(stream.read()), file_size)
    except FileFormatError as error:
        raise TorchFormatError(f"{path}: {error}") from None
    except (*UNPICKLING_ERRORS, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError,
            RuntimeError) as error:
        raise TorchFormatError(f"{path}: not a readable PyTorch file "
                               f"({type(error).__name__}: {str(error)[:80]})") from None
