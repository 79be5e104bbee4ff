"""Authenticated encryption of secret values (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken

from assay.security.keys import derive_key


class SecretBox:
    def __init__(self, master_key: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(master_key, "assay.secrets.v1")))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with this server's key") from exc
