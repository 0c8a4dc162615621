"""Linear algebra over GF(2): matrices for LFSR leap-forward and polynomial primitivity.

Vectors are Python ints (bit i = coordinate i). A matrix is a tuple of row masks: output bit i is the
parity of ``rows[i] & x``. Every multi-step matrix in zoforge is obtained from a one-step function by
:meth:`Matrix.from_function` and powers of it, never written out by hand.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Matrix", "poly_mulmod", "poly_powmod", "is_primitive", "factorize", "is_probable_prime"]


def _parity(x: int) -> int:
    return x.bit_count() & 1


@dataclass(frozen=True)
class Matrix:
    """An n x n matrix over GF(2), stored as row masks."""
    rows: tuple[int, ...]

    @property
    def n(self) -> int:
        return len(self.rows)

    @classmethod
    def identity(cls, n: int) -> "Matrix":
        return cls(tuple(1 << i for i in range(n)))

    @classmethod
    def from_function(cls, n: int, step: Callable[[int], int]) -> "Matrix":
        """The matrix of a linear map, found by applying it to the unit vectors."""
        cols = [step(1 << j) for j in range(n)]
        return cls(tuple(sum(((cols[j] >> i) & 1) << j for j in range(n)) for i in range(n)))

    def columns(self) -> list[int]:
        return [sum(((r >> j) & 1) << i for i, r in enumerate(self.rows)) for j in range(self.n)]

    def __call__(self, x: int) -> int:
        return sum(_parity(r & x) << i for i, r in enumerate(self.rows))

    def __matmul__(self, other: "Matrix") -> "Matrix":
        # (A @ B) x = A (B x): row i of the product is the XOR of B's rows selected by A's row i.
        out = []
        for r in self.rows:
            acc, j = 0, 0
            while r:
                if r & 1:
                    acc ^= other.rows[j]
                r >>= 1
                j += 1
            out.append(acc)
        return Matrix(tuple(out))

    def __pow__(self, e: int) -> "Matrix":
        if e < 0:
            raise ValueError("negative matrix power")
        result, base = Matrix.identity(self.n), self
        while e:
            if e & 1:
                result = result @ base
            base = base @ base
            e >>= 1
        return result

    def weights(self) -> list[int]:
        """Number of inputs of each output bit's XOR (a proxy for its LUT cost)."""
        return [r.bit_count() for r in self.rows]

    def byte_tables(self) -> np.ndarray:
        """Lookup tables for applying the matrix to numpy uint64 vectors, 8 input bits at a time.

        ``tables[b, v]`` is the image of the input whose byte ``b`` equals ``v`` (other bytes zero)."""
        cols = self.columns()
        nbytes = (self.n + 7) // 8
        tables = np.zeros((nbytes, 256), dtype=np.uint64)
        for b in range(nbytes):
            for k in range(8):
                j = 8 * b + k
                if j >= self.n:
                    break
                bit = 1 << k
                # Entries with bit k set get column j XOR-ed in.
                idx = np.arange(256)[(np.arange(256) & bit) != 0]
                tables[b, idx] ^= np.uint64(cols[j])
        return tables


def apply_tables(tables: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Apply a matrix (given by :meth:`Matrix.byte_tables`) to every element of a uint64 array."""
    out = tables[0][(x & np.uint64(0xFF)).astype(np.intp)]
    for b in range(1, tables.shape[0]):
        out ^= tables[b][((x >> np.uint64(8 * b)) & np.uint64(0xFF)).astype(np.intp)]
    return out


# ---- polynomials over GF(2), as ints (bit i = coefficient of x^i) -------------------------------

def poly_mulmod(a: int, b: int, p: int) -> int:
    deg = p.bit_length() - 1
    result = 0
    while b:
        if b & 1:
            result ^= a
        b >>= 1
        a <<= 1
        if (a >> deg) & 1:
            a ^= p
    return result


def poly_powmod(a: int, e: int, p: int) -> int:
    result = 1
    while e:
        if e & 1:
            result = poly_mulmod(result, a, p)
        a = poly_mulmod(a, a, p)
        e >>= 1
    return result


def is_primitive(p: int, factors: list[int]) -> bool:
    """True when the degree-n polynomial ``p`` is primitive: x has multiplicative order 2^n - 1 modulo p.

    ``factors`` are the distinct prime factors of 2^n - 1 (checked by the caller)."""
    n = p.bit_length() - 1
    order = (1 << n) - 1
    if n < 1 or not p & 1:
        return False
    if poly_powmod(0b10, order, p) != 1:
        return False
    return all(poly_powmod(0b10, order // q, p) != 1 for q in factors)


# ---- integer factorisation of 2^n - 1 (for the primitivity proof) --------------------------------

_SMALL_PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47]


def is_probable_prime(n: int) -> bool:
    """Miller-Rabin with the first 15 prime bases: deterministic below 3.3e24, which covers
    every factor of 2^n - 1 for n <= 64."""
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in _SMALL_PRIMES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _pollard_rho(n: int, rng: random.Random) -> int:
    if n % 2 == 0:
        return 2
    while True:
        c = rng.randrange(1, n)
        x = y = rng.randrange(2, n)
        d = 1
        while d == 1:
            x = (x * x + c) % n
            y = (y * y + c) % n
            y = (y * y + c) % n
            d = math.gcd(abs(x - y), n)
        if d != n:
            return d


def factorize(n: int) -> list[int]:
    """Distinct prime factors of n, ascending."""
    rng = random.Random(12345)
    found: set[int] = set()
    stack = [n]
    while stack:
        m = stack.pop()
        if m == 1:
            continue
        if is_probable_prime(m):
            found.add(m)
            continue
        for p in _SMALL_PRIMES:
            if m % p == 0:
                stack += [p, m // p]
                break
        else:
            d = _pollard_rho(m, rng)
            stack += [d, m // d]
    return sorted(found)
