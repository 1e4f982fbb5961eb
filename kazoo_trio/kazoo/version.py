"""The version mod_kazoo reports to Erlang.

ecallmgr splits ``VERSION`` on spaces into module, release and bundle: it must
be exactly three words, the release must compare greater than ``<<"v1.5">>``
as a binary (older releases are refused), and the bundle selects ecallmgr's
``community`` configuration.  So these stay those of the C module whose
protocol this project speaks, not this package's version.
"""

from __future__ import annotations

__all__ = ["BUNDLE", "MODULE", "RELEASE", "VERSION"]

MODULE = "mod_kazoo"
RELEASE = "v1.5.0-1"
BUNDLE = "community"
VERSION = f"{MODULE} {RELEASE} {BUNDLE}"
