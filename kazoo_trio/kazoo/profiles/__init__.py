"""mod_kazoo's profile engine: switch events and XML lookups → the JSON ecallmgr reads.

Profiles (XML pushed by ecallmgr in its answer to the ``kazoo.conf`` lookup, or
:func:`default_profiles` before that) are parsed and compiled once into a
:class:`ProfileSet`; building an event's object then runs closures only.
"""

from kazoo_trio.kazoo.profiles.defaults import DEFAULT_PROFILE_XML, default_profiles
from kazoo_trio.kazoo.profiles.engine import (
    JsonEncoder,
    ProfileEncoder,
    ProfileSet,
    binding_key,
    verbose_event,
    verbose_payload,
)
from kazoo_trio.kazoo.profiles.errors import ProfileError
from kazoo_trio.kazoo.profiles.jsonterm import NULL, json_to_term
from kazoo_trio.kazoo.profiles.model import EventPlan, FetchPlan

__all__ = [
    "DEFAULT_PROFILE_XML",
    "NULL",
    "EventPlan",
    "FetchPlan",
    "JsonEncoder",
    "ProfileEncoder",
    "ProfileError",
    "ProfileSet",
    "binding_key",
    "default_profiles",
    "json_to_term",
    "verbose_event",
    "verbose_payload",
]
