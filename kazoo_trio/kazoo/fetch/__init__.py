"""XML lookups answered by Erlang.

``agents`` (the fetch agents: bindings, requests, replies, failover),
``kazoo_conf`` (the ``kazoo.conf`` lookup that installs the profiles ecallmgr
pushes).
"""
