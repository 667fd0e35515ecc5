"""Test helper: write NumPy trees in torch.save's layouts (zip and legacy), without torch.

The stream names `torch._utils._rebuild_tensor_v2` and `torch.FloatStorage` exactly as
PyTorch does (foreign_pickle writes the names; nothing named torch is imported or faked).
Checked against the real PyTorch files in test/data, which the reader must load the same way.
"""
import io
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np

from foreign_pickle import ForeignName, ForeignNamePickler

STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
                 np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage"}
REBUILD_TENSOR = ForeignName("torch._utils", "_rebuild_tensor_v2")
STORAGE_CLASSES = {dtype: ForeignName("torch", name) for dtype, name in STORAGE_NAMES.items()}


class _StorageRef:
    def __init__(self, key, array):
        self.key, self.array = key, array


class _TensorPickler(ForeignNamePickler):
    def __init__(self, stream, legacy):
        super().__init__(stream, protocol=2)
        self.legacy, self.storages = legacy, []

    def reducer_override(self, obj):
        if not isinstance(obj, np.ndarray):
            return NotImplemented
        array = np.ascontiguousarray(obj)
        ref = _StorageRef(str(len(self.storages)), array.reshape(-1))
        self.storages.append(ref)
        stride = tuple(s // array.itemsize for s in array.strides) if array.ndim else ()
        return REBUILD_TENSOR, (ref, 0, array.shape, stride, False, OrderedDict())

    def persistent_id(self, obj):
        if not isinstance(obj, _StorageRef):
            return None
        saved = ("storage", STORAGE_CLASSES[obj.array.dtype], obj.key, "cpu", obj.array.size)
        return saved + (None,) if self.legacy else saved


def write_pt_zip(obj, path):
    buffer = io.BytesIO()
    pickler = _TensorPickler(buffer, legacy=False)
    pickler.dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/byteorder", "little")
        for ref in pickler.storages:
            archive.writestr(f"archive/data/{ref.key}", ref.array.astype(ref.array.dtype.newbyteorder("<")).tobytes())
        archive.writestr("archive/version", "3\n")


def write_pt_legacy(obj, path):
    with open(path, "wb") as stream:
        pickle.dump(0x1950A86A20F9469CFC6C, stream, protocol=2)
        pickle.dump(1001, stream, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, stream, protocol=2)
        pickler = _TensorPickler(stream, legacy=True)
        pickler.dump(obj)
        pickle.dump([ref.key for ref in pickler.storages], stream, protocol=2)
        for ref in pickler.storages:
            stream.write(struct.pack("<q", ref.array.size))
            stream.write(ref.array.tobytes())
