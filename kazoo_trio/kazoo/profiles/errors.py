"""The one error the profile engine raises for bad profiles."""

from __future__ import annotations

from kazoo_trio.errors import ConfigurationError

__all__ = ["ProfileError"]


class ProfileError(ConfigurationError, ValueError):
    """A profile document that cannot be used; the message names the element at fault.

    Raised while parsing or compiling, never while building an event: a
    :class:`~kazoo_trio.kazoo.profiles.engine.ProfileSet` that exists is usable,
    so a rejected document leaves the profiles in force untouched.
    """
