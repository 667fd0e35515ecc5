"""Test helper: pickles that name another program's globals (`torch._utils._rebuild_tensor_v2`,
`dnnlib.tflib.network.Network`) exactly as that program's files do, without importing it
or registering stand-in modules under its name."""
import io
import pickle


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


def dumps(obj, protocol):
    stream = io.BytesIO()
    ForeignNamePickler(stream, protocol=protocol).dump(obj)
    return stream.getvalue()
