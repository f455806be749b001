"""The digest the no-op records of apply are keyed on (kernel/settled.py): BLAKE2b of
32 bytes, built into every CPython.

hashlib would load OpenSSL first: 11 million instructions, a tenth of a no-op apply.
A fresh apply of 1,000 pairs digests 0.4 MB (its config and the dump of the
namespace): 1.5 ms with CPython's own SHA-256, a third of that with BLAKE2b.
"""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # an interpreter built without its own hashes
    from hashlib import blake2b

DIGEST_BYTES = 32


def running_digest(data: bytes = b"") -> blake2b:
    """A running digest, fed `data` so far."""
    return blake2b(data, digest_size=DIGEST_BYTES)
