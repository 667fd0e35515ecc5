"""Test helper: mutations of a valid file's bytes, each a (name, bytes) case, seeded."""
import io
import pickletools

import numpy as np

from formats.checkpoints import jt_save_container

LENGTH_OPCODES = {"BINBYTES": 4, "SHORT_BINBYTES": 1, "BINUNICODE": 4, "SHORT_BINUNICODE": 1,
                  "BINBYTES8": 8, "BINUNICODE8": 8, "FRAME": 8}


def split_jt_save(data):
    """(pickle, True) for a jt.save container, (data, False) otherwise."""
    if len(data) > 28 and jt_save_container(data[:-28]) == data:
        return data[:-28], True
    return data, False


def length_fields(payload):
    """(offset, width) of every length a pickle declares (strings, bytes, frames)."""
    fields = []
    try:
        for opcode, _, position in pickletools.genops(io.BytesIO(payload)):
            if opcode.name in LENGTH_OPCODES:
                fields.append((position + 1, LENGTH_OPCODES[opcode.name]))
    except Exception:
        pass
    return fields


def mutations(data, seed, count=20):
    """Truncations, flipped bytes, wrong declared lengths and random bytes of `data`;
    for a jt.save container also flips re-signed with a valid sha1, as an attacker would."""
    rng = np.random.RandomState(seed)
    cases = [("empty", b""), ("one byte", data[:1])]
    for cut in sorted(rng.randint(1, len(data), count)):
        cases.append((f"truncated at {cut}", data[:cut]))
    payload, signed = split_jt_save(data)
    fields = length_fields(payload)
    for case in range(count):
        mutated = bytearray(payload)
        positions = rng.randint(0, len(payload), rng.randint(1, 9))
        for position in positions:
            mutated[position] = rng.randint(0, 256)
        cases.append((f"flipped {len(positions)} bytes (case {case})",
                      jt_save_container(bytes(mutated)) if signed else bytes(mutated)))
        if signed:  # the checksum alone would catch the flip above
            cases.append((f"flipped {len(positions)} bytes, re-signed (case {case})",
                          bytes(mutated) + data[-28:]))
    for case in range(min(count, len(fields))):
        offset, width = fields[rng.randint(len(fields))]
        mutated = bytearray(payload)
        value = int(rng.choice([0, 1, 2**(8 * width - 1) - 1, 2**(8 * width) - 1,
                                rng.randint(0, 2**31)])) % 2**(8 * width)
        mutated[offset:offset + width] = value.to_bytes(width, "little")
        body = bytes(mutated)
        cases.append((f"length at {offset} set to {value}",
                      jt_save_container(body) if signed else body))
    for case in range(5):
        cases.append((f"random bytes (case {case})",
                      rng.randint(0, 256, rng.randint(1, 4096)).astype(np.uint8).tobytes()))
    return cases
