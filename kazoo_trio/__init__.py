"""kazoo_trio: FreeSWITCH's mod_kazoo Erlang interface as a trio C-node."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kazoo-trio")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
