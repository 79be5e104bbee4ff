"""Key handling, secret encryption and signed links."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from assay.config import Settings
from assay.security.keys import load_master_key
from assay.security.links import LinkSigner
from assay.security.secret_box import SecretBox


def test_generated_key_is_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    first = load_master_key(settings)
    assert stat.S_IMODE(settings.secret_key_file.stat().st_mode) == 0o600
    assert load_master_key(settings) == first


def test_configured_key_wins_and_must_be_long(tmp_path: Path) -> None:
    assert load_master_key(Settings(home=tmp_path, secret_key=SecretStr("k" * 32))) == b"k" * 32
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(ValueError, match="at least 16"):
        load_master_key(Settings(home=tmp_path, secret_key=SecretStr("short")))


def test_secret_box_round_trip_and_key_binding() -> None:
    box = SecretBox(b"a" * 32)
    sealed = box.seal("sk-123")
    assert "sk-123" not in sealed and sealed != box.seal("sk-123")
    assert box.open(sealed) == "sk-123"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(b"b" * 32).open(sealed)


def test_links_expire_and_resist_tampering() -> None:
    signer = LinkSigner(b"m" * 32)
    query = dict(part.split("=", 1) for part in signer.query("k/x.csv", "x.csv", 60).split("&"))
    expires, signature = int(query["expires"]), query["signature"]
    assert signer.verify("k/x.csv", "x.csv", expires, signature)
    assert not signer.verify("k/y.csv", "x.csv", expires, signature)
    assert not signer.verify("k/x.csv", "x.csv", expires + 1, signature)
    assert not signer.verify("k/x.csv", "x.csv", 1, signer._signature("k/x.csv", "x.csv", 1))
    assert not LinkSigner(b"n" * 32).verify("k/x.csv", "x.csv", expires, signature)
