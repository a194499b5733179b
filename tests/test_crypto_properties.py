"""Property tests for the sealing primitives every record relies on."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldscribe.core import crypto

KEY = crypto.random_key()


@given(st.binary(max_size=4096), st.binary(max_size=200))
def test_seal_round_trips(plaintext: bytes, aad: bytes) -> None:
    assert crypto.open_sealed(KEY, crypto.seal(KEY, plaintext, aad), aad) == plaintext


@given(st.binary(max_size=512), st.binary(min_size=1, max_size=64), st.binary(min_size=1, max_size=64))
def test_other_associated_data_fails(plaintext: bytes, aad: bytes, other: bytes) -> None:
    if aad == other:
        return
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.open_sealed(KEY, crypto.seal(KEY, plaintext, aad), other)


@settings(max_examples=200)
@given(st.binary(min_size=1, max_size=256), st.data())
def test_any_flipped_bit_fails(plaintext: bytes, data: st.DataObject) -> None:
    sealed = bytearray(crypto.seal(KEY, plaintext, b"ctx"))
    index = data.draw(st.integers(0, len(sealed) - 1))
    bit = data.draw(st.integers(0, 7))
    sealed[index] ^= 1 << bit
    with pytest.raises(crypto.AuthenticationFailed):
        crypto.open_sealed(KEY, bytes(sealed), b"ctx")


def test_same_plaintext_seals_differently() -> None:
    assert crypto.seal(KEY, b"same", b"a") != crypto.seal(KEY, b"same", b"a")


def test_truncated_ciphertext_fails() -> None:
    sealed = crypto.seal(KEY, b"hello", b"a")
    for cut in (0, 5, 13, len(sealed) - 1):
        with pytest.raises(crypto.AuthenticationFailed):
            crypto.open_sealed(KEY, sealed[:cut], b"a")
