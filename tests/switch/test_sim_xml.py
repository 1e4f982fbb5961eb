from __future__ import annotations

import pytest
import trio

from kazoo_trio.switch.protocol import FetchHandler, XmlLookup
from kazoo_trio.switch.xmltext import NOT_FOUND_XML, parse_document, to_freeswitch_xml
from tests.switch.simhelpers import make_switch

DIRECTORY = """<document type="freeswitch/xml">
  <section name="directory">
    <domain name="example.com">
      <params>
        <param name="dial-string" value="{presence_id=${dialed_user}@${dialed_domain}}"/>
      </params>
      <user id="1000" note="a &amp; b &lt;c&gt; &quot;q&quot;">
        <variables><variable name="caf\u00e9" value="x"/></variables>
      </user>
    </domain>
    <domain name="other.com"/>
  </section>
</document>"""

DOMAIN_TEXT = (
    '<domain name="example.com">\n'
    "  <params>\n"
    '    <param name="dial-string" value="{presence_id=${dialed_user}@${dialed_domain}}"/>\n'
    "  </params>\n"
    '  <user id="1000" note="a &amp; b &lt;c&gt; &quot;q&quot;">\n'
    "    <variables>\n"
    '      <variable name="caf&#xE9;" value="x"/>\n'
    "    </variables>\n"
    "  </user>\n"
    "</domain>\n"
)


async def test_xml_locate_through_a_bound_handler() -> None:
    sw, _ = make_switch()
    seen: list[XmlLookup] = []

    async def handler(lookup: XmlLookup) -> str | None:
        seen.append(lookup)
        await trio.lowlevel.checkpoint()
        return DIRECTORY

    sw.bind_xml(["directory"], handler)
    result = await sw.api("xml_locate", "directory domain name example.com")
    assert (result.ok, result.text) == (True, DOMAIN_TEXT)
    [lookup] = seen
    assert (lookup.section, lookup.tag_name, lookup.key_name, lookup.key_value) == (
        "directory",
        "domain",
        "name",
        "example.com",
    )
    assert lookup.params.name == "REQUEST_PARAMS"
    assert [(k, v) for k, v in lookup.params.headers][-4:] == [
        ("section", "directory"),
        ("tag", "domain"),
        ("tag_attr_name", "name"),
        ("tag_attr_val", "example.com"),
    ]
    # The attribute value is compared ignoring case; an empty element prints as <x/>.
    other = await sw.api("xml_locate", "directory domain name OTHER.com")
    assert other.text == '<domain name="other.com"/>\n'
    missing = await sw.api("xml_locate", "directory domain name nowhere.org")
    assert missing.text == "can't find anything\n"


async def test_xml_locate_section_only_and_root() -> None:
    sw, _ = make_switch()

    async def handler(lookup: XmlLookup) -> str | None:
        return (
            '<document type="freeswitch/xml">'
            '<section name="dialplan"><x a="1"/></section></document>'
        )

    sw.bind_xml(["dialplan"], handler)
    assert (await sw.api("xml_locate", "dialplan")).text == (
        '<section name="dialplan">\n  <x a="1"/>\n</section>\n'
    )
    assert (await sw.api("xml_locate", "root")).text == '<document type="freeswitch/xml"/>\n'


async def test_xml_locate_with_nothing_bound_and_bad_args() -> None:
    sw, _ = make_switch()
    result = await sw.api("xml_locate", "directory domain name example.com")
    assert (result.ok, result.text) == (True, "can't find anything\n")
    assert (await sw.api("xml_locate", "")).text == "-ERR bad args\n"
    assert (await sw.api("xml_locate", "directory domain")).text == "-ERR bad args\n"


async def test_lookup_order_not_found_errors_and_sections() -> None:
    sw, _ = make_switch()
    asked: list[str] = []

    def handler(name: str, answer: str | None, fail: bool = False) -> FetchHandler:
        async def fetch(lookup: XmlLookup) -> str | None:
            asked.append(name)
            if fail:
                raise RuntimeError("handler bug")
            return answer

        return fetch

    sw.bind_xml(["dialplan"], handler("dialplan-only", DIRECTORY))
    sw.bind_xml(["directory"], handler("none", None))
    sw.bind_xml(["directory"], handler("broken", None, fail=True))
    sw.bind_xml(["directory"], handler("not-found", NOT_FOUND_XML))
    sw.bind_xml(["directory"], handler("garbage", "<document><unclosed>"))
    unbind_good = sw.bind_xml(["directory", "config"], handler("good", DIRECTORY))
    sw.bind_xml([], handler("catch-all", DIRECTORY))

    found = await sw.xml_lookup("directory", "domain", "name", "example.com", [("user", "1000")])
    assert found == DIRECTORY
    assert asked == ["none", "broken", "not-found", "garbage", "good"]

    asked.clear()
    unbind_good()
    unbind_good()  # idempotent
    assert await sw.xml_lookup("directory", "", "", "") == DIRECTORY
    assert asked == ["none", "broken", "not-found", "garbage", "catch-all"]

    asked.clear()
    assert await sw.xml_lookup("configuration", "configuration", "name", "acl.conf") == DIRECTORY
    assert asked == ["catch-all"]


async def test_lookup_returns_none_when_nobody_answers() -> None:
    sw, _ = make_switch()

    async def not_found(lookup: XmlLookup) -> str | None:
        return NOT_FOUND_XML

    assert await sw.xml_lookup("dialplan", "context", "name", "x") is None
    sw.bind_xml(["dialplan"], not_found)
    assert await sw.xml_lookup("dialplan", "context", "name", "x") is None


async def test_lookup_params() -> None:
    sw, _ = make_switch()
    seen: list[XmlLookup] = []

    async def handler(lookup: XmlLookup) -> str | None:
        seen.append(lookup)
        return None

    sw.bind_xml(["directory"], handler)
    await sw.xml_lookup("directory", "domain", "name", "d", [("Action", "sip_auth")])
    assert seen[0].params.name == "REQUEST_PARAMS"
    assert seen[0].params.get("Action") == "sip_auth"
    own = sw.new_event("CHANNEL_DATA", headers=[("Unique-ID", "u")])
    await sw.xml_lookup("directory", "", "", "", own)
    assert seen[1].params is own


def test_bind_rejects_unknown_sections() -> None:
    sw, _ = make_switch()

    async def handler(lookup: XmlLookup) -> str | None:
        return None

    with pytest.raises(ValueError):
        sw.bind_xml(["nonsense"], handler)


def test_printer_text_and_escapes() -> None:
    root = parse_document('<a x="1&#10;2&#9;&quot;"><b>t &amp; u&#13;</b><c/><d>\u20ac"</d></a>')
    assert to_freeswitch_xml(root) == (
        '<a x="1&#xA;2&#x9;&quot;">\n  <b>t &amp; u&#xD;</b>\n  <c/>\n  <d>&#x20AC;"</d>\n</a>\n'
    )


async def test_answers_with_leading_text_are_accepted() -> None:
    sw, _ = make_switch()

    async def handler(lookup: XmlLookup) -> str | None:
        return "\n  " + DIRECTORY

    sw.bind_xml(["directory"], handler)
    assert await sw.xml_lookup("directory", "", "", "") == "\n  " + DIRECTORY
    result = await sw.api("xml_locate", "directory domain name other.com")
    assert result.text == '<domain name="other.com"/>\n'
