"""Event streams: the side TCP connections events reach Erlang processes by.

``queue`` (the bounded frame queue, without I/O), ``stream`` (one stream:
listener, client, sender), ``table`` (the streams of every process and the
task owning them), ``bindings`` (what a stream is bound to), ``encoding``
(per-event processing; the legacy and JSON encodings).
"""
