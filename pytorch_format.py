"""Read files written by `torch.save` into NumPy arrays, without torch.

rosinality's checkpoints are such files (legacy format from 2019, zip format since
PyTorch 1.6). `jt.load` only takes them by extension and loses storage offsets and
strides, so we read them here: the pickle names tensors by (storage, offset, size,
stride); storages are raw little-endian arrays, in the zip archive or after the pickles.
"""
import pickle
import zipfile
from collections import OrderedDict

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
ZIP_SIGNATURE = b"PK\x03\x04"

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class TorchFormatError(Exception):
    pass


class _StorageType:
    def __init__(self, name):
        if name not in STORAGE_DTYPES:
            raise TorchFormatError(f"unsupported tensor storage type {name}")
        self.dtype = STORAGE_DTYPES[name]


class _LazyTensor:
    """A tensor whose storage bytes may come later (legacy files store them last)."""

    def __init__(self, storage_key, offset, shape, stride):
        self.storage_key, self.offset = storage_key, offset
        self.shape, self.stride = tuple(shape), tuple(stride)

    def materialize(self, storages):
        flat = storages[self.storage_key]
        if not self.shape:
            return flat[self.offset].copy()
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.shape,
            strides=[s * flat.itemsize for s in self.stride])
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage_key, offset, shape, stride, *unused):
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


class _TorchUnpickler(pickle.Unpickler):
    """Maps torch's classes to our stand-ins; anything else torch-specific is refused."""

    def __init__(self, file, storage_dtypes):
        super().__init__(file)
        self.storage_dtypes = storage_dtypes
        self.script_classes = {}

    def find_class(self, module, name):
        if module.startswith("__torch__"):  # TorchScript modules
            qualified = f"{module}.{name}"
            return self.script_classes.setdefault(qualified, _script_class(qualified))
        if module == "torch.jit._pickle" and name.startswith("build_"):
            return _identity  # typed lists: build_intlist([...]) and the like
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module in ("torch", "torch.storage") and name.endswith("Storage"):
            return _StorageType(name)
        if module == "builtins" and name in ("set", "frozenset", "slice", "complex"):
            return super().find_class(module, name)
        raise TorchFormatError(f"unsupported object {module}.{name} in the file")

    def persistent_load(self, saved_id):
        # zip: ('storage', type, key, location, numel); legacy adds view metadata
        if saved_id[0] != "storage":
            raise TorchFormatError(f"unsupported persistent id {saved_id[0]!r}")
        storage_type, key = saved_id[1], str(saved_id[2])
        if len(saved_id) > 5 and saved_id[5] is not None:
            raise TorchFormatError("storage views (PyTorch < 0.4 files) are not supported")
        self.storage_dtypes[key] = storage_type.dtype
        return key


def _as_array(raw, dtype):
    if dtype == "bfloat16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32)
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))


def _materialize(obj, storages):
    if isinstance(obj, _LazyTensor):
        return obj.materialize(storages)
    if isinstance(obj, ScriptObject):
        return {"__class__": obj.class_name, **_materialize(obj.attributes, storages)}
    if isinstance(obj, dict):
        items = [(key, _materialize(value, storages)) for key, value in obj.items()]
        return OrderedDict(items) if isinstance(obj, OrderedDict) else dict(items)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(value, storages) for value in obj)
    return obj


def _read_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl")]
        if not pickles:
            raise TorchFormatError("zip archive without data.pkl")
        prefix = pickles[0][: -len("data.pkl")]
        dtypes = {}
        with archive.open(pickles[0]) as stream:
            obj = _TorchUnpickler(stream, dtypes).load()
        storages = {key: _as_array(archive.read(f"{prefix}data/{key}"), dtype)
                    for key, dtype in dtypes.items()}
    return _materialize(obj, storages)


def _read_legacy(path):
    with open(path, "rb") as stream:
        if pickle.load(stream) != LEGACY_MAGIC:
            raise TorchFormatError("not a PyTorch file")
        pickle.load(stream)  # protocol version
        pickle.load(stream)  # sys info (byte order, type sizes)
        dtypes = {}
        obj = _TorchUnpickler(stream, dtypes).load()
        storages = {}
        for key in pickle.load(stream):
            numel = int(np.frombuffer(stream.read(8), dtype="<i8")[0])
            itemsize = 2 if dtypes[key] == "bfloat16" else np.dtype(dtypes[key]).itemsize
            storages[key] = _as_array(stream.read(numel * itemsize), dtypes[key])
    return _materialize(obj, storages)


def is_torch_file(path):
    """True for a zip archive or a pickle stream that starts with torch's magic number."""
    with open(path, "rb") as stream:
        head = stream.read(4)
        if head == ZIP_SIGNATURE:
            return True
        stream.seek(0)
        try:
            return pickle.load(stream) == LEGACY_MAGIC
        except Exception:
            return False


def read_torch_file(path):
    """The object saved by torch.save, with every tensor as a NumPy array."""
    with open(path, "rb") as stream:
        is_zip = stream.read(4) == ZIP_SIGNATURE
    try:
        return _read_zip(path) if is_zip else _read_legacy(path)
    except (TorchFormatError, KeyError, EOFError, pickle.UnpicklingError,
            zipfile.BadZipFile, ValueError, IndexError) as error:
        raise TorchFormatError(f"{path}: not a readable PyTorch file ({error})") from error
