"""The ``kazoo-trio`` command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from kazoo_trio import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kazoo-trio",
        description=(
            "An Erlang C-node that speaks FreeSWITCH's mod_kazoo protocol, "
            "so that Kazoo's ecallmgr (or any Erlang application) can drive a switch."
        ),
    )
    parser.add_argument("--version", action="version", version=f"kazoo-trio {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
