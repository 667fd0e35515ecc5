"""Test helper: write NumPy trees in torch.save's legacy layout, without torch (the zip
layout is the project's own writer, formats.pt_writer). Checked against the real PyTorch files
in test/data, which the reader must load the same way."""
import pickle
import struct

from formats.pt_writer import TensorPickler, write_pt_zip  # noqa: F401 (the tests' zip writer)


def write_pt_legacy(obj, path):
    with open(path, "wb") as stream:
        pickle.dump(0x1950A86A20F9469CFC6C, stream, protocol=2)
        pickle.dump(1001, stream, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, stream, protocol=2)
        pickler = TensorPickler(stream, legacy=True)
        pickler.dump(obj)
        pickle.dump([ref.key for ref in pickler.storages], stream, protocol=2)
        for ref in pickler.storages:
            stream.write(struct.pack("<q", ref.array.size))
            stream.write(ref.array.tobytes())
