"""Test helper: checkpoint files whose pickle would run a shell command when unpickled
naively, in every container the project reads. The command creates `marker`, so a test
proves that nothing ran by that file never appearing."""
import io
import os
import pickle

from formats.checkpoints import jt_save_container  # anyone can compute its checksum
from official_writer import Network, network_state
from foreign_pickle import dumps
from pt_writer import write_pt_legacy, write_pt_zip



class RunsCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def hostile_pickle(marker, protocol=4):
    return pickle.dumps({"g_running": RunsCommand(f"touch {marker}")}, protocol=protocol)


def official_style_pickle(payload_object):
    """(G, D, Gs) of dnnlib Networks, as NVIDIA pickles them, with `payload_object` inside."""
    def network(name):
        return Network(network_state(name, name, {}, [("lod", payload_object)]))
    return dumps((network("G"), network("D"), network("Gs")), protocol=4)


def write_hostile_files(folder):
    """{container: path} of files that would create folder/marker if loaded naively."""
    marker = os.path.join(folder, "marker")
    evil = RunsCommand(f"touch {marker}")
    paths = {name: os.path.join(folder, f"{name}.model") for name in
             ("plain_pickle", "jt_save", "torch_zip", "torch_legacy", "torch_legacy_header",
              "official")}
    with open(paths["plain_pickle"], "wb") as f:
        f.write(hostile_pickle(marker))
    with open(paths["jt_save"], "wb") as f:
        f.write(jt_save_container(hostile_pickle(marker)))
    write_pt_zip({"g_running": evil}, paths["torch_zip"])
    write_pt_legacy({"g_running": evil}, paths["torch_legacy"])
    with open(paths["torch_legacy_header"], "wb") as f:  # the header pickles are read too
        f.write(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2))
        f.write(pickle.dumps(evil, protocol=2))
    paths["official"] = os.path.join(folder, "official.pkl")
    with open(paths["official"], "wb") as f:
        f.write(official_style_pickle(evil))
    return paths, marker


def nested_pickle(depth):
    """A list nested `depth` deep, built with pickle opcodes (no recursion in the writer)."""
    body = io.BytesIO()
    body.write(b"\x80\x04" + b"]" * depth + b"a" * (depth - 1) + b".")
    return body.getvalue()
