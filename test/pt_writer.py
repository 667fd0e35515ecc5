"""Test helper: write NumPy trees in torch.save's layouts (zip and legacy), without torch.

Pickle records functions and classes by module and name, so stand-ins registered under
torch's names (only while writing) make the stream name `torch._utils._rebuild_tensor_v2`
and `torch.FloatStorage` exactly as PyTorch does. Checked against the real PyTorch files
in test/data, which the reader must load the same way.
"""
import contextlib
import io
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict

import numpy as np

STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
                 np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage"}


def _rebuild_tensor_v2(*args):
    raise AssertionError("only used as a name while writing")


class _StorageRef:
    def __init__(self, key, array):
        self.key, self.array = key, array


@contextlib.contextmanager
def stand_in_modules(modules):
    """Register {name: module} in sys.modules while writing, so pickle names their members
    as the real program's; what was there before is put back."""
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


@contextlib.contextmanager
def _pt_names():
    torch_module = types.ModuleType("torch")
    utils_module = types.ModuleType("torch._utils")
    _rebuild_tensor_v2.__module__ = "torch._utils"
    utils_module._rebuild_tensor_v2 = _rebuild_tensor_v2
    storage_classes = {}
    for name in STORAGE_NAMES.values():
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch_module, name, cls)
        storage_classes[name] = cls
    with stand_in_modules({"torch": torch_module, "torch._utils": utils_module}):
        yield storage_classes


class _TensorPickler(pickle.Pickler):
    def __init__(self, stream, storage_classes, legacy):
        super().__init__(stream, protocol=2)
        self.storage_classes, self.legacy, self.storages = storage_classes, legacy, []

    def reducer_override(self, obj):
        if not isinstance(obj, np.ndarray):
            return NotImplemented
        array = np.ascontiguousarray(obj)
        ref = _StorageRef(str(len(self.storages)), array.reshape(-1))
        self.storages.append(ref)
        stride = tuple(s // array.itemsize for s in array.strides) if array.ndim else ()
        return _rebuild_tensor_v2, (ref, 0, array.shape, stride, False, OrderedDict())

    def persistent_id(self, obj):
        if not isinstance(obj, _StorageRef):
            return None
        storage_class = self.storage_classes[STORAGE_NAMES[obj.array.dtype]]
        saved = ("storage", storage_class, obj.key, "cpu", obj.array.size)
        return saved + (None,) if self.legacy else saved


def write_pt_zip(obj, path):
    with _pt_names() as classes:
        buffer = io.BytesIO()
        pickler = _TensorPickler(buffer, classes, legacy=False)
        pickler.dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/byteorder", "little")
        for ref in pickler.storages:
            archive.writestr(f"archive/data/{ref.key}", ref.array.astype(ref.array.dtype.newbyteorder("<")).tobytes())
        archive.writestr("archive/version", "3\n")


def write_pt_legacy(obj, path):
    with _pt_names() as classes, open(path, "wb") as stream:
        pickle.dump(0x1950A86A20F9469CFC6C, stream, protocol=2)
        pickle.dump(1001, stream, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, stream, protocol=2)
        pickler = _TensorPickler(stream, classes, legacy=True)
        pickler.dump(obj)
        pickle.dump([ref.key for ref in pickler.storages], stream, protocol=2)
        for ref in pickler.storages:
            stream.write(struct.pack("<q", ref.array.size))
            stream.write(ref.array.tobytes())
