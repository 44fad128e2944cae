"""Routing data as the PBX keeps it: the keys and values the rendered dialplans read at call time.

Asterisk keeps them in AstDB (family `mayday`, key `prefix/45`, read in dialplan as `${DB(mayday/prefix/45)}`),
FreeSWITCH in mod_hash (realm `mayday`, key `prefix_45`, read as `${hash(select/mayday/prefix_45)}`). One
table of names serves both:

- `default_did/<extension>` → the DID an agent's calls present when nothing else chooses one;
- `prefix/<1-4 digits>` → the DID presented when an agent dials that prefix before the number (the prefix is
  removed before dialling; no prefix is the start of another);
- `route/<leading digits>` or `route/any` → `<trunk>|<strip>|<prepend>|<did>|<min>|<max>`: the longest
  leading-digit match wins (`any` when none does); `strip` leading digits are removed and `prepend` put in
  front; `did` (may be empty) is presented unless the agent chose one; the number, as dialled after any
  prefix, must have `min` to `max` digits;
- `inbound/<did>` → `queue|<name>`, `agent|<extension>` or `extension|<number>`: where a call to that DID goes.

Values are digits and names checked by `telephony.validators`; `|` separates fields and never occurs inside one.
"""

from __future__ import annotations

from dataclasses import dataclass

FAMILY = "mayday"  # the AstDB family and the mod_hash realm
ANY = "any"  # the route key that matches every number no longer route matches
ROUTE_DIGITS_MAX = 10  # leading digits of an outbound route
PREFIX_DIGITS_MAX = 4
KINDS = ("default_did", "prefix", "route", "inbound")
TARGETS = ("queue", "agent", "extension")


@dataclass(frozen=True)
class Route:
    trunk: str
    strip: int
    prepend: str
    did: str
    min_length: int
    max_length: int

    def value(self) -> str:
        return f"{self.trunk}|{self.strip}|{self.prepend}|{self.did}|{self.min_length}|{self.max_length}"


def key(kind: str, name: str) -> str:
    """The key as Mayday names it (`prefix/45`); backends spell it their way."""
    if kind not in KINDS:
        raise ValueError(f"unknown routing key kind {kind!r}")
    return f"{kind}/{name}"


def hash_key(name: str) -> str:
    """mod_hash spelling of a key: `prefix/45` → `prefix_45` (a `/` would end the key in `hash insert/…`)."""
    kind, _, rest = name.partition("/")
    return f"{kind}_{rest}"


def from_hash_key(name: str) -> str | None:
    """`prefix_45` → `prefix/45`; None for a key Mayday did not write."""
    for kind in KINDS:
        if name.startswith(kind + "_") and len(name) > len(kind) + 1:
            return f"{kind}/{name[len(kind) + 1 :]}"
    return None
