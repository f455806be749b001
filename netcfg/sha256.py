"""SHA-256 for the digests apply reads on every run, without hashlib's start-up.

Importing hashlib loads OpenSSL: 11 million instructions, a tenth of a no-op apply.
CPython carries its own SHA-256 (`_sha256` up to 3.11, `_sha2` from 3.12); hashlib's is
the same function, used where neither is built in.
"""

from __future__ import annotations

try:
    from _sha2 import sha256  # type: ignore[import-not-found]
except ImportError:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha256

__all__ = ["sha256"]
