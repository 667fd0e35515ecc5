"""Test helper: pickles that name another program's globals (`torch._utils._rebuild_tensor_v2`,
`dnnlib.tflib.network.Network`) exactly as that program's files do, without importing it
or registering stand-in modules under its name."""
import io

from formats.pt_writer import ForeignName, ForeignNamePickler  # noqa: F401


def dumps(obj, protocol):
    stream = io.BytesIO()
    ForeignNamePickler(stream, protocol=protocol).dump(obj)
    return stream.getvalue()
