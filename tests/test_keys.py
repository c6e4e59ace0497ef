from __future__ import annotations

import inspect

import pytest
from redis.crc import key_slot

from coordination.keys import Keys, validate_prefix


def crc16_xmodem(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def cluster_slot(key: str) -> int:
    """HASH_SLOT as the Redis Cluster spec defines it (hash tag = first {...} non-empty)."""
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc16_xmodem(key.encode()) % 16384


def every_key(keys: Keys) -> list[str]:
    """Call every key method of every section with placeholder arguments."""
    out = []
    for section in (keys.scheduler, keys.registry, keys.resources, keys.containers, keys.beat):
        for name, method in inspect.getmembers(section, inspect.ismethod):
            if name.startswith("_"):
                continue
            params = [p for p in inspect.signature(method).parameters.values()]
            out.append(method(*[f"x{i}" for i in range(len(params))]))
    return out


def test_crc16_reference_vector() -> None:
    assert crc16_xmodem(b"123456789") == 0x31C3


@pytest.mark.parametrize("prefix", ["coord", "tenant-a", "t.1_x"])
def test_all_keys_of_a_namespace_share_one_cluster_slot(prefix: str) -> None:
    keys = Keys(prefix)
    names = every_key(keys)
    assert len(names) >= 5
    slots = {cluster_slot(k) for k in names}
    assert slots == {cluster_slot("{" + prefix + "}")}
    assert {key_slot(k.encode()) for k in names} == slots  # redis-py agrees


@pytest.mark.parametrize("bad", ["", "a{b", "a}b", "a:b", "x" * 65, "sp ace"])
def test_bad_prefixes_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        validate_prefix(bad)
