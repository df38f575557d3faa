"""Key naming and reply decoding shared by the Redis adapters."""

from __future__ import annotations


def namespaced(namespace: str, kind: str, name: str) -> str:
    """One prefix per deployment (or test) so several can share a Redis without colliding."""
    if not namespace:
        raise ValueError("namespace must not be empty")
    return f"{namespace}:{kind}:{name}"


def text(value: bytes | str) -> str:
    """Replies are bytes unless the client was built with decode_responses=True; accept both."""
    return value.decode() if isinstance(value, bytes) else value
