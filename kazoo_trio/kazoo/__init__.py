"""The mod_kazoo server: the ``mod_kazoo`` process of a FreeSWITCH node, over any switch.

Embedding: run :func:`serve` with :class:`Settings` (built, or read by
:func:`load_settings`) and a switch backend
(:class:`~kazoo_trio.switch.protocol.SwitchBackend`); it
reports the :class:`ModKazooServer` once Erlang nodes can connect.

Subpackages: ``requests`` (one handler per request, their arguments, the api
replies, bgapi jobs, per-connection options), ``streams`` (event streams: the
frame queue, the stream, the table of streams, bindings, event encodings),
``fetch`` (fetch agents, the ``kazoo.conf`` lookup), ``profiles`` (Kazoo's
profile engine).
"""

from kazoo_trio.kazoo.config import Settings, SettingsError, load_settings
from kazoo_trio.kazoo.server import ModKazooServer
from kazoo_trio.kazoo.wiring import serve

__all__ = ["ModKazooServer", "Settings", "SettingsError", "load_settings", "serve"]
