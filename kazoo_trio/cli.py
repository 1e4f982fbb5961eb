"""The ``kazoo-trio`` command line.

``kazoo-trio run`` starts the Erlang node with the mod_kazoo server and its switch:
the simulated one, or (``--switch freeswitch``) a real FreeSWITCH over its event
socket.  Settings come from ``--settings`` (TOML or mod_kazoo's
``kazoo.conf.xml``); command-line options override them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kazoo_trio import __version__
from kazoo_trio.kazoo.config import Settings, SettingsError, load_settings, settings_from_mapping

__all__ = ["build_parser", "main", "settings_from_args"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kazoo-trio",
        description=(
            "An Erlang C-node that speaks FreeSWITCH's mod_kazoo protocol, "
            "so that Kazoo's ecallmgr (or any Erlang application) can drive a switch."
        ),
    )
    parser.add_argument("--version", action="version", version=f"kazoo-trio {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="run the node (mod_kazoo server + switch) until SIGINT/SIGTERM",
        description=(
            "Run the Erlang node freeswitch@<host> with the registered process mod_kazoo. "
            "Connect from Erlang with e.g. "
            "gen_server:call({mod_kazoo, 'freeswitch@127.0.0.1'}, {api, status, <<>>})."
        ),
    )
    run.add_argument(
        "--name",
        help="node name: alive@host (short or long, e.g. x@127.0.0.1) or just alive "
        "(default: the settings' nodename, else freeswitch@<short hostname>)",
    )
    run.add_argument(
        "--cookie", help="distribution cookie (default: cookie file, ~/.erlang.cookie)"
    )
    run.add_argument("--cookie-file", help="file holding the cookie (owner-only permissions)")
    run.add_argument("--listen-ip", help="address of the node and event-stream listeners")
    run.add_argument("--listen-port", type=int, help="distribution port (0: ephemeral)")
    run.add_argument(
        "--epmd",
        choices=("auto", "external", "embedded"),
        help="use a running EPMD (external), run our own (embedded), or either (auto)",
    )
    run.add_argument("--epmd-port", type=int, help="EPMD port (default 4369)")
    run.add_argument("--settings", metavar="FILE", help="settings file: TOML or kazoo.conf.xml")
    run.add_argument(
        "--switch",
        choices=("sim", "freeswitch"),
        help="the switch behind the node: the simulated one (default) or a FreeSWITCH "
        "reached over its event socket (its password: setting freeswitch-esl-password)",
    )
    run.add_argument(
        "--freeswitch-esl",
        metavar="HOST:PORT",
        help="FreeSWITCH's event socket (default 127.0.0.1:8021)",
    )
    run.add_argument(
        "--xml-curl-listen",
        metavar="HOST:PORT",
        help="where FreeSWITCH's mod_xml_curl posts its lookups (default 127.0.0.1:8090, "
        "path: setting xml-curl-path, default /fsxml)",
    )
    run.add_argument(
        "--sim-traffic",
        metavar="RATE[:HOLD]",
        help="generate RATE simulated inbound calls per second, each hung up by its "
        "caller after HOLD seconds (default 10), routed through the dialplan bindings",
    )
    run.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="logging threshold (default INFO)",
    )
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings file (if any) with the command-line overrides applied (and checked)."""
    settings = load_settings(args.settings) if args.settings else Settings()
    overrides = {
        "nodename": args.name,
        "cookie": args.cookie,
        "cookie-file": args.cookie_file,
        "listen-ip": args.listen_ip,
        "listen-port": args.listen_port,
        "epmd": args.epmd,
        "epmd-port": args.epmd_port,
        "switch": args.switch,
        "freeswitch-esl": args.freeswitch_esl,
        "xml-curl-listen": args.xml_curl_listen,
    }
    given = {key: value for key, value in overrides.items() if value is not None}
    return settings_from_mapping(given, source="command line", base=settings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":
        parser.print_help()
        return 0
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = settings_from_args(args)
    except SettingsError as exc:
        print(f"kazoo-trio: {exc}", file=sys.stderr)
        return 2
    from kazoo_trio.app import run
    from kazoo_trio.erlang.cookie import CookieError
    from kazoo_trio.erlang.epmd_client import EpmdError
    from kazoo_trio.switch.sim.traffic import parse_traffic

    try:
        spec = args.sim_traffic or settings.sim_traffic
        traffic = parse_traffic(spec) if spec else None
        if traffic is not None and settings.switch != "sim":
            raise ValueError("--sim-traffic needs the simulated switch (--switch sim)")
    except ValueError as exc:
        print(f"kazoo-trio: {exc}", file=sys.stderr)
        return 2
    try:
        return run(settings, traffic=traffic)
    except (SettingsError, CookieError, ValueError) as exc:
        # Unusable configuration (including a malformed node name).
        print(f"kazoo-trio: {exc}", file=sys.stderr)
        return 2
    except (OSError, EpmdError) as exc:
        # The environment: a port in use, no EPMD, the name already registered.
        print(f"kazoo-trio: {exc}", file=sys.stderr)
        return 1
