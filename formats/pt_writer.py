"""NumPy trees written in PyTorch's zip file layout, without PyTorch.

The pickle names PyTorch's tensor-rebuilding function and the storage classes exactly as
PyTorch does, so its loader accepts the file with weights_only: only tensors, (ordered) dicts,
lists, tuples and plain values go in. Nothing named torch is imported or stood in for: the
names are written into the stream as text (ForeignName).
"""
import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np

STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
                 np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage"}


class ForeignName:
    """A global of another program, written into the stream by module and name only."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle accepts only callables as reduce functions
        raise TypeError(f"{self.module}.{self.name} is only a name to write")


class ForeignNamePickler(pickle._Pickler):
    """The pure-Python pickler (it routes every object through `save`), writing ForeignName
    as a GLOBAL opcode; everything else pickles as usual."""

    def save(self, obj, save_persistent_id=True):
        if not isinstance(obj, ForeignName):
            return super().save(obj, save_persistent_id)
        if id(obj) in self.memo:
            self.write(self.get(self.memo[id(obj)][0]))
            return
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("ascii"))
        self.memoize(obj)


REBUILD_TENSOR = ForeignName("torch._utils", "_rebuild_tensor_v2")
STORAGE_CLASSES = {dtype: ForeignName("torch", name) for dtype, name in STORAGE_NAMES.items()}


class StorageRef:
    def __init__(self, key, array):
        self.key, self.array = key, array


class TensorPickler(ForeignNamePickler):
    """NumPy arrays become tensors, each with a storage of its own."""

    def __init__(self, stream, legacy=False):
        super().__init__(stream, protocol=2)
        self.legacy, self.storages = legacy, []

    def reducer_override(self, obj):
        if not isinstance(obj, np.ndarray):
            return NotImplemented
        array = np.ascontiguousarray(obj).reshape(obj.shape)  # (it makes 0-d arrays 1-d)
        if array.dtype not in STORAGE_NAMES:
            raise TypeError(f"no PyTorch storage written for {array.dtype}")
        ref = StorageRef(str(len(self.storages)), array.reshape(-1))
        self.storages.append(ref)
        stride = tuple(s // array.itemsize for s in array.strides) if array.ndim else ()
        return REBUILD_TENSOR, (ref, 0, array.shape, stride, False, OrderedDict())

    def persistent_id(self, obj):
        if not isinstance(obj, StorageRef):
            return None
        saved = ("storage", STORAGE_CLASSES[obj.array.dtype], obj.key, "cpu", obj.array.size)
        return saved + (None,) if self.legacy else saved


def write_pt_zip(obj, path):
    """torch.save's zip layout, written atomically."""
    buffer = io.BytesIO()
    pickler = TensorPickler(buffer)
    pickler.dump(obj)
    temp_path = os.path.join(os.path.dirname(os.path.abspath(path)),
                             f".{os.path.basename(path)}.tmp{os.getpid()}")
    with zipfile.ZipFile(temp_path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/byteorder", "little")
        for ref in pickler.storages:
            little = ref.array.astype(ref.array.dtype.newbyteorder("<"))
            archive.writestr(f"archive/data/{ref.key}", little.tobytes())
        archive.writestr("archive/version", "3\n")
    os.replace(temp_path, path)
