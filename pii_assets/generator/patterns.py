"""Random strings from a small regex subset, compiled once (rstr re-parses on every call).

Supported: literals, ``\\d``, ``[...]`` classes with ranges, ``{n}`` / ``{n,m}`` / ``?``
quantifiers, ``(a|b)`` groups of literal alternatives and top-level ``|``. That covers identifier formats such as
``[A-Z]{2}\\d{7}|\\d{9}``; anything else raises ``ValueError`` when the pattern is compiled.
"""

from __future__ import annotations

import random
import re
import string
from functools import lru_cache

_TOKEN = re.compile(r"(\\d|\\.|\[[^\]]+\]|\((?:[^()|]+\|)+[^()|]+\)|[^\\\[\]{}()?|*+])(\{\d+(?:,\d+)?\}|\?)?")


def _expand_class(body: str) -> str:
    chars, i = [], 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            chars += [chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1)]
            i += 3
        else:
            chars.append(body[i])
            i += 1
    return "".join(dict.fromkeys(chars))


def _compile_branch(branch: str) -> list[tuple[tuple[str, ...], int, int]]:
    tokens, pos = [], 0
    while pos < len(branch):
        m = _TOKEN.match(branch, pos)
        if not m:
            raise ValueError(f"unsupported pattern syntax at {branch[pos:]!r}")
        atom, quant = m.groups()
        if atom == r"\d":
            choices = tuple(string.digits)
        elif atom.startswith("\\"):
            choices = (atom[1],)
        elif atom.startswith("["):
            choices = tuple(_expand_class(atom[1:-1]))
        elif atom.startswith("("):
            choices = tuple(atom[1:-1].split("|"))
        else:
            choices = (atom,)
        if quant is None:
            lo = hi = 1
        elif quant == "?":
            lo, hi = 0, 1
        else:
            lo, _, hi_s = quant[1:-1].partition(",")
            lo, hi = int(lo), int(hi_s or lo)
        tokens.append((choices, lo, hi))
        pos = m.end()
    return tokens


def _top_level_branches(pattern: str) -> list[str]:
    branches, depth, start = [], 0, 0
    for i, c in enumerate(pattern):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(c, 0)
        if c == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
    return branches + [pattern[start:]]


@lru_cache(maxsize=None)
def compile_pattern(pattern: str) -> tuple[list[tuple[tuple[str, ...], int, int]], ...]:
    return tuple(_compile_branch(branch) for branch in _top_level_branches(pattern))


def generate(pattern: str, rng: random.Random) -> str:
    branch = rng.choice(compile_pattern(pattern))
    out = []
    for choices, lo, hi in branch:
        n = lo if lo == hi else rng.randint(lo, hi)
        out += rng.choices(choices, k=n) if len(choices) > 1 else choices * n
    return "".join(out)
