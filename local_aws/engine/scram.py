"""SCRAM-SHA-256 password verifiers (RFC 5802/7677, PostgreSQL's storage format).

A password reaches a server only as its verifier, in `CREATE ROLE ... PASSWORD` / `ALTER ROLE`:
the server stores verifiers as they come, so the password itself is never sent to it, never in
its logs, and never on a command line or in a file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)


def verifier(password: str, *, salt: bytes | None = None,
             iterations: int = ITERATIONS) -> str:
    """`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, as PostgreSQL stores it.

    Printable ASCII only: PostgreSQL would normalize other passwords (SASLprep) before hashing,
    and RDS allows no others for a master password. The error never shows the password.
    """
    if not all(" " <= c <= "~" for c in password):
        raise ValueError("a password must be printable ASCII (what RDS allows for a master "
                         "password); this one has other characters (not shown)")
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
