from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kazoo_trio.erlang.cookie import CookieError, read_cookie
from kazoo_trio.kazoo.config import (
    Settings,
    SettingsError,
    load_settings,
    settings_from_mapping,
    settings_from_toml,
    settings_from_xml,
)

KAZOO_CONF = """<?xml version="1.0"?>
<document type="freeswitch/xml">
 <section name="configuration">
  <configuration name="kazoo.conf" description="General purpose Erlang c-node">
    <settings>
        <param name="listen-ip" value="127.0.0.1" />
        <param name="listen-port" value="6031" />
        <param name="cookie" value="change_me" />
        <param name="shortname" value="false" />
        <param name="nodename" value="freeswitch" />
        <param name="send-msg-batch-size" value="10" />
        <param name="receive-timeout" value="1" />
        <param name="event-stream-framing" value="4" />
        <param name="node-worker-threads" value="5" />
        <param name="expand-headers-on-fetch" value="false" />
        <param name="delay-before-initial-fetch-ms" value="250" />
        <param name="legacy-events" value="yes" />
        <param name="json-term-encoding" value="map" />
    </settings>
    <variables>
        <variable name="UNIX_EPOCH_IN_GREGORIAN" value="62167219200" />
    </variables>
    <event-filter type="whitelist">
        <header name="Event-Name" />
        <header name="Unique-ID" />
    </event-filter>
    <definitions/>
  </configuration>
 </section>
</document>
"""


def test_defaults_are_mod_kazoos() -> None:
    s = Settings()
    assert s.listen_ip == "0.0.0.0"
    assert s.listen_port == 0
    assert s.event_stream_framing == 2
    assert s.event_stream_keep_alive is True
    assert s.legacy_events is False
    assert s.json_term_encoding == "tuple"
    assert s.expand_headers_on_fetch is True
    assert s.fetch_timeout_us == 2_000_000
    assert s.delay_before_initial_fetch == 10.0


def test_kazoo_conf_xml_settings_block() -> None:
    s = settings_from_xml(KAZOO_CONF)
    assert s.listen_ip == "127.0.0.1"
    assert s.listen_port == 6031
    assert s.cookie == "change_me"
    assert s.shortname is False
    assert s.event_stream_framing == 4
    assert s.expand_headers_on_fetch is False
    assert s.delay_before_initial_fetch == pytest.approx(0.25)
    assert s.legacy_events is True
    assert s.json_term_encoding == "map"
    assert s.variables == (("UNIX_EPOCH_IN_GREGORIAN", "62167219200"),)
    assert s.event_filter == ("Event-Name", "Unique-ID")


def test_bare_configuration_element() -> None:
    xml = (
        '<configuration name="kazoo.conf">'
        '<settings><param name="cookie" value="c"/></settings></configuration>'
    )
    assert settings_from_xml(xml).cookie == "c"


def test_xml_without_kazoo_conf_is_an_error() -> None:
    with pytest.raises(SettingsError, match=r"kazoo\.conf"):
        settings_from_xml('<document><section name="x"/></document>')
    with pytest.raises(SettingsError, match="well-formed"):
        settings_from_xml("<configuration")


def test_toml_flat_and_settings_table() -> None:
    flat = settings_from_toml(
        'listen-ip = "10.0.0.1"\nevent_stream_framing = 4\nshortname = true\n'
    )
    assert (flat.listen_ip, flat.event_stream_framing, flat.shortname) == ("10.0.0.1", 4, True)
    table = settings_from_toml(
        '[settings]\ncookie = "abc"\nfetch-timeout = 3500000\n[variables]\nfoo = "bar"\n'
    )
    assert table.cookie == "abc"
    assert table.fetch_timeout_us == 3_500_000
    assert table.variables == (("foo", "bar"),)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("event-stream-framing", 3, "1, 2 or 4"),
        ("event-stream-framing", "two", "event-stream-framing"),
        ("listen-port", 70000, "TCP port"),
        ("legacy-events", "maybe", "boolean"),
        ("epmd", "sometimes", "auto, external or embedded"),
        ("bgapi-timeout", 0, "greater than zero"),
        ("delay-before-initial-fetch-sec", -1, "negative"),
    ],
)
def test_bad_values_name_key_and_value(key: str, value: object, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        settings_from_mapping({key: value})
    assert key in str(info.value)
    assert expected in str(info.value)


def test_unknown_keys_warn_and_ignored_keys_do_not(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="kazoo_trio.kazoo.config"):
        s = settings_from_mapping({"no-such-thing": 1, "receive-timeout": "1"})
    assert s == Settings()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "no-such-thing" in warnings[0].getMessage()


def test_bad_toml_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="TOML"):
        settings_from_toml("listen-ip = ")


def test_load_settings_picks_format_by_content(tmp_path: Path) -> None:
    xml = tmp_path / "kazoo.conf.xml"
    xml.write_text(KAZOO_CONF)
    assert load_settings(xml).listen_port == 6031
    toml = tmp_path / "settings.toml"
    toml.write_text("listen-port = 7000\n")
    assert load_settings(toml).listen_port == 7000
    with pytest.raises(SettingsError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")


def test_node_name_rules() -> None:
    assert Settings(nodename="x@127.0.0.1").node_name() == "x@127.0.0.1"
    assert Settings(nodename="fs").node_name(hostname="fs1.example.com") == "fs@fs1"
    long = Settings(nodename="fs", shortname=False).node_name(hostname="fs1.example.com")
    assert long == "fs@fs1.example.com"
    # shortname cuts the host part only, not a dot in the name part.
    assert Settings(nodename="a.b@h.example.com", shortname=True).node_name() == "a.b@h"


def test_cookie_resolution_order(tmp_path: Path) -> None:
    cookie_file = tmp_path / "cookie"
    cookie_file.write_text("from_file\n")
    cookie_file.chmod(0o400)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".erlang.cookie").write_text("from_home")
    (home / ".erlang.cookie").chmod(0o600)
    assert Settings(cookie="c", cookie_file=str(cookie_file)).resolve_cookie() == "c"
    assert Settings(cookie_file=str(cookie_file)).resolve_cookie(home=str(home)) == "from_file"
    assert Settings().resolve_cookie(home=str(home)) == "from_home"
    # No cookie anywhere is an error, not mod_kazoo's public default.
    with pytest.raises(SettingsError, match="no cookie"):
        Settings().resolve_cookie(home=str(tmp_path / "nobody"))
    # Erlang's rule, not "the first line": text after the line break is refused.
    cookie_file.chmod(0o600)
    cookie_file.write_text("from_file\nignored")
    with pytest.raises(SettingsError, match="bad characters"):
        Settings(cookie_file=str(cookie_file)).resolve_cookie()


def test_cookie_file_must_be_private(tmp_path: Path) -> None:
    cookie_file = tmp_path / "cookie"
    cookie_file.write_text("secret")
    cookie_file.chmod(0o644)
    with pytest.raises(CookieError, match="owner only"):
        read_cookie(cookie_file)
    with pytest.raises(SettingsError, match="cookie-file"):
        Settings(cookie_file=str(cookie_file)).resolve_cookie()
    # Erlang sets no length limit (mod_kazoo's 255-byte one is gone).
    cookie_file.chmod(0o600)
    cookie_file.write_text("x" * 300)
    assert Settings(cookie_file=str(cookie_file)).resolve_cookie() == "x" * 300


def test_profiles_in_kazoo_conf_are_kept_for_the_profile_engine() -> None:
    assert settings_from_xml(KAZOO_CONF).profiles_xml is None  # <definitions/> is empty
    with_profiles = KAZOO_CONF.replace(
        "<definitions/>",
        '<event-handlers><profile name="default"><event name="CHANNEL_CREATE"/>'
        "</profile></event-handlers>",
    )
    assert settings_from_xml(with_profiles).profiles_xml == with_profiles


def test_sim_traffic_setting_is_checked_when_read() -> None:
    assert settings_from_toml('sim-traffic = "2:30"').sim_traffic == "2:30"
    assert Settings().sim_traffic is None
    with pytest.raises(SettingsError, match="sim-traffic"):
        settings_from_mapping({"sim-traffic": "fast"})
