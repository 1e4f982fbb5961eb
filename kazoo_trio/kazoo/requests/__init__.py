"""The requests Erlang sends to ``mod_kazoo``.

``handlers`` (one handler per request, :func:`~.handlers.handle_request`),
``arguments`` (decoding request arguments), ``api_reply`` (API outcomes as
replies), ``bgapi`` (background jobs), ``options`` (per-connection options and
the ``erlang`` API command).
"""
