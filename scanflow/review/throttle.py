"""Slowing down password guessing without locking anyone out.

Wrong passwords are counted per *name and address* (someone guessing at one account from
one computer), per *address* (one computer trying many names) and per *name* across
all addresses (many computers on one account, with a much larger allowance). Past its
allowance a key must wait before the next try (a second after the fifth wrong password
in a row), twice as long after each further miss, up to a minute. Nothing is ever locked: a teacher at their own computer is not held up
by someone else's guesses at their name, and the answer is the same whether the name
is an account or not.

Kept in memory for the running server (one per app): a restart forgets, which costs a
guesser nothing they could not get by waiting a minute.

>>> t = LoginThrottle()
>>> keys = t.keys("mrs.k", "10.0.0.9")
>>> for _ in range(6): t.failed(keys, now=100.0)
>>> t.wait(keys, now=100.0)
2.0
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

WINDOW_SECONDS = 15 * 60  # misses older than this are forgotten
MAX_WAIT_SECONDS = 60.0


@dataclass
class LoginThrottle:
    free: int = 4  # misses allowed per name and address (x4 per address) before waiting
    free_per_name: int = 25  # misses on one name from every address together
    _misses: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        """The counters a login attempt touches, each with its allowance."""
        name = username.strip().lower()
        address = address or "-"
        return [(f"pair:{name}\0{address}", self.free), (f"addr:{address}", self.free * 4),
                (f"name:{name}", self.free_per_name)]

    def wait(self, keys: list[tuple[str, int]], *, now: float) -> float:
        """Seconds to wait before this attempt may be checked (0: go ahead)."""
        longest = 0.0
        with self._lock:
            for key, free in keys:
                misses = [t for t in self._misses.get(key, []) if now - t < WINDOW_SECONDS]
                over = len(misses) - free
                if over > 0:
                    delay = min(MAX_WAIT_SECONDS, 2.0 ** (over - 1))  # 1 s after 5 misses
                    longest = max(longest, misses[-1] + delay - now)
        return max(0.0, longest)

    def failed(self, keys: list[tuple[str, int]], *, now: float) -> None:
        with self._lock:
            for key, _free in keys:
                misses = [t for t in self._misses.get(key, []) if now - t < WINDOW_SECONDS]
                misses.append(now)
                self._misses[key] = misses[-200:]

    def succeeded(self, keys: list[tuple[str, int]]) -> None:
        """A right password clears this person's own counter (not the address's or the
        name's, which others' guesses may have filled)."""
        with self._lock:
            self._misses.pop(keys[0][0], None)
