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

import numpy as np

from formats.safe_pickle import (PLAIN_GLOBALS, UNPICKLING_ERRORS, FileFormatError,
                                 SafeUnpickler, plain_data)

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
ZIP_SIGNATURE = b"PK\x03\x04"

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class PtFormatError(FileFormatError):
    pass


class _StorageType:
    def __init__(self, name):
        self.dtype = STORAGE_DTYPES[name]

    @property
    def itemsize(self):
        return 2 if self.dtype == "bfloat16" else np.dtype(self.dtype).itemsize


class _Storages:
    """The file's raw storages, filled after the pickle is read (legacy files store them
    last), and a bound on the bytes tensors expand to: views may repeat one storage."""

    def __init__(self, file_size):
        self.types, self.arrays = {}, {}
        self.bytes_left = 4 * file_size + 2**20

    def spend(self, nbytes):
        self.bytes_left -= nbytes
        if self.bytes_left < 0:
            raise PtFormatError("tensors expand to far more data than the file holds")


class _StorageRef:
    def __init__(self, key, storages):
        self.key, self.storages = key, storages


class _LazyTensor:
    """A tensor view (offset, shape, stride) of a storage; plain_data turns it into an array."""

    def __init__(self, ref, offset, shape, stride):
        if not isinstance(ref, _StorageRef) or not isinstance(shape, (tuple, list)) \
                or not isinstance(stride, (tuple, list)) or len(shape) != len(stride) \
                or not all(isinstance(v, int) and v >= 0 for v in (offset, *shape, *stride)):
            raise PtFormatError("malformed tensor in the file")
        self.ref, self.offset = ref, offset
        self.shape, self.stride = tuple(shape), tuple(stride)

    def plain(self, convert):
        flat = self.ref.storages.arrays.get(self.ref.key)
        if flat is None:
            raise PtFormatError("a tensor names a storage the file does not hold")
        numel = math.prod(self.shape)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride))
        if numel and last >= flat.size:
            raise PtFormatError("a tensor reaches past the end of its storage")
        self.ref.storages.spend(numel * flat.itemsize)
        if not self.shape:
            return flat[self.offset].copy()
        if not numel:
            return np.zeros(self.shape, flat.dtype)
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.shape,
            strides=[s * flat.itemsize for s in self.stride])
        return np.ascontiguousarray(view)


def _rebuild_tensor(ref, offset, shape, stride, *unused):
    return _LazyTensor(ref, offset, shape, stride)


def _rebuild_parameter(tensor, *unused):
    return tensor


class ScriptObject:
    """A module of a torch.jit.save archive: pickle builds it from its attribute dict."""

    class_name = ""

    def __setstate__(self, state):
        self.attributes = state

    def plain(self, convert):
        return {"__class__": self.class_name, **convert(getattr(self, "attributes", {}))}


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


class _PtUnpickler(SafeUnpickler):
    """torch's globals mapped to our stand-ins; anything else is refused."""

    def __init__(self, file, storages):
        super().__init__(file, TORCH_GLOBALS)
        self.storages = storages
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
            raise PtFormatError(f"unsupported persistent id {str(saved_id)[:40]!r}")
        if len(saved_id) > 5 and saved_id[5] is not None:
            raise PtFormatError("storage views (PyTorch < 0.4 files) are not supported")
        key = str(saved_id[2])
        self.storages.types[key] = saved_id[1]
        return _StorageRef(key, self.storages)


def _as_array(raw, storage_type):
    if storage_type.dtype == "bfloat16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32)
    return np.frombuffer(raw, dtype=np.dtype(storage_type.dtype).newbyteorder("<"))


def _read_zip(path, file_size):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl")]
        if not pickles:
            raise PtFormatError("zip archive without data.pkl")
        prefix = pickles[0][: -len("data.pkl")]

        def read_entry(name):
            info = archive.getinfo(name)
            if max(info.file_size, info.compress_size) > file_size:  # a bomb, or a bad length
                raise PtFormatError(f"archive entry {name} claims more bytes than the file has")
            return archive.read(name)

        storages = _Storages(file_size)
        obj = _PtUnpickler(io.BytesIO(read_entry(pickles[0])), storages).load()
        for key, storage_type in storages.types.items():
            storages.arrays[key] = _as_array(read_entry(f"{prefix}data/{key}"), storage_type)
    return plain_data(obj)


def _read_legacy(stream, file_size):
    def header_pickle():
        return SafeUnpickler(stream, PLAIN_GLOBALS).load()

    if header_pickle() != LEGACY_MAGIC:
        raise PtFormatError("not a PyTorch file")
    header_pickle()  # protocol version
    header_pickle()  # sys info (byte order, type sizes)
    storages = _Storages(file_size)
    obj = _PtUnpickler(stream, storages).load()
    keys = header_pickle()
    if not isinstance(keys, list):
        raise PtFormatError("malformed storage list")
    for key in keys:
        if key not in storages.types:
            raise PtFormatError("the file stores a storage no tensor declared")
        numel = int(np.frombuffer(stream.read(8), dtype="<i8")[0])
        nbytes = numel * storages.types[key].itemsize
        if numel < 0 or nbytes > file_size - stream.tell():
            raise PtFormatError("a storage is longer than the rest of the file")
        storages.arrays[key] = _as_array(stream.read(nbytes), storages.types[key])
    return plain_data(obj)


def _starts_with_magic(payload):
    try:
        return SafeUnpickler(io.BytesIO(payload), {}).load() == LEGACY_MAGIC
    except Exception:
        return False


def is_pt_file(path):
    """True for a zip archive or a pickle stream that starts with torch's magic number."""
    with open(path, "rb") as stream:
        head = stream.read(64)
    return head.startswith(ZIP_SIGNATURE) or _starts_with_magic(head)


def read_pt_file(path):
    """The object saved by torch.save, with every tensor as a NumPy array."""
    file_size = os.path.getsize(path)
    try:
        with open(path, "rb") as stream:
            if stream.read(4) == ZIP_SIGNATURE:
                return _read_zip(path, file_size)
            stream.seek(0)
            return _read_legacy(io.BytesIO(stream.read()), file_size)
    except FileFormatError as error:
        raise PtFormatError(f"{path}: {error}") from None
    except (*UNPICKLING_ERRORS, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError,
            RuntimeError) as error:
        raise PtFormatError(f"{path}: not a readable PyTorch file "
                               f"({type(error).__name__}: {str(error)[:80]})") from None
