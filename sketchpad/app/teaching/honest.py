"""Sentences about a trend that check the trend first (issue 15, "honest text").

A view that says "rises with depth" must show that it rose, and say so only when it did. Each
function here gets the numbers and gives words that are true of them: the values themselves
("2/9 → 1/9 → 4/9"), then what they do ("falls, then rises"). No Qt.
"""
from __future__ import annotations

from typing import Sequence

#: Two values closer than this count as equal (shares and accuracies between 0 and 1).
EPS = 1e-9


def steps(values: Sequence[float], eps: float = EPS) -> list[int]:
    """+1, -1 or 0 for each step from one value to the next."""
    return [0 if abs(b - a) <= eps else (1 if b > a else -1) for a, b in zip(values, values[1:])]


def movement(values: Sequence[float], eps: float = EPS) -> str:
    """What a sequence does, in words that are true of it: "rises at every step", "stays the
    same", "falls, then rises", "ends higher but not at every step"…"""
    s = steps(values, eps)
    if not s:
        return "is a single value"
    if all(x == 0 for x in s):
        return "stays the same"
    if all(x > 0 for x in s):
        return "rises at every step" if len(s) > 1 else "rises"
    if all(x < 0 for x in s):
        return "falls at every step" if len(s) > 1 else "falls"
    if all(x >= 0 for x in s):
        return "never falls and ends higher"
    if all(x <= 0 for x in s):
        return "never rises and ends lower"
    words = {1: "rises", -1: "falls", 0: "stays"}
    # merge repeated moves: up, up, down → "rises, then falls"
    merged = [s[0]]
    for x in s[1:]:
        if x != merged[-1]:
            merged.append(x)
    return ", then ".join(words[x] for x in merged)


def arrows(texts: Sequence[str]) -> str:
    return " → ".join(texts)


def count_trend(label: str, counts: Sequence[tuple[int, int]]) -> str:
    """``same class: 2/9 → 1/9 → 4/9 (falls, then rises)`` from ``(hits, total)`` pairs."""
    shares = [h / t if t else 0.0 for h, t in counts]
    return f"{label}: {arrows([f'{h}/{t}' for h, t in counts])} ({movement(shares)})"


def value_trend(label: str, values: Sequence[float]) -> str:
    """``same-class share: 45% → 62% → 81% (rises at every step)``. Shares under 10 % get one
    decimal; what the sentence says the values do is judged on the values as printed, so it
    never says "rises" under "3% → 3% → 3%"."""
    decimals = 1 if max(values, default=0) < 0.1 else 0
    shown = [round(100 * v, decimals) for v in values]
    return (f"{label}: {arrows([f'{v:.{decimals}f}%' for v in shown])} "
            f"({movement(shown)})")


def matches_expectation(values: Sequence[float], eps: float = EPS) -> bool:
    """True when a sequence rises at every step (what the papers' Figure 4 reading expects)."""
    s = steps(values, eps)
    return bool(s) and all(x > 0 for x in s)
