"""Base62 helpers shared by the token format and accessors."""

import secrets

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def random_string(length: int) -> str:
    """Uniform CSPRNG characters: each carries log2(62) ≈ 5.95 bits."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def encode_fixed(value: int, length: int) -> str:
    """Encode a non-negative integer left-padded to exactly `length` characters."""
    if value < 0 or value >= 62**length:
        raise ValueError("value does not fit")
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))
