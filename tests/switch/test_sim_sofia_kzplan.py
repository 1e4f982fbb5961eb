"""kazoo_endpoints.c's decisions as :func:`kz_plan` makes them: which dial string, which
variables, which time limit."""

from __future__ import annotations

import json
from collections.abc import Sequence

from kazoo_trio.switch.expand import expand_variables
from kazoo_trio.switch.kz.endpoints import KzPlan, directory_user, kz_plan, profile_variables

DOMAIN = "d.example.com"


def expand(text: str, headers: Sequence[tuple[str, str]]) -> str:
    found: dict[str, str] = {}
    for name, value in headers:
        found.setdefault(name.lower(), value)
    return expand_variables(
        text, lookup=lambda n: found.get(n.lower()), global_lookup=lambda n: None
    )


def user_xml(params: str, callfwd: str = "", variables: str = "") -> str:
    return (
        '<document type="freeswitch/xml"><section name="directory">'
        f'<domain name="{DOMAIN}"><user id="u1" number-alias="100">'
        f"<variables>{variables}</variables>"
        '<profile-variables><variable name="Endpoint-Caller-ID-Name" value="Bob"/>'
        "</profile-variables>"
        f"<params>{params}</params>{callfwd}</user></domain></section></document>"
    )


def plan(
    xml: str,
    var_event: list[tuple[str, str]] | None = None,
    *,
    calling: list[tuple[str, str]] | None = None,
    timeout: str | None = None,
) -> KzPlan:
    x_user = directory_user(xml, "u1", DOMAIN)
    assert x_user is not None
    result = kz_plan(x_user, DOMAIN, var_event or [], calling, timeout, expand)
    assert isinstance(result, KzPlan), result
    return result


ENDPOINT = '<param name="endpoint-dial-string" value="sofia/p/${dialed_user}@${dialed_domain}"/>'
FORWARD = '<param name="callforward-dial-string" value="loopback/555"/>'


def callfwd(**flags: str) -> str:
    body = "".join(
        f'<variable name="{k.replace("_", "-")}" value="{v}"/>' for k, v in flags.items()
    )
    return f"<call-forward>{body}</call-forward>"


def test_directory_user_by_id_or_alias() -> None:
    xml = user_xml(ENDPOINT)
    assert directory_user(xml, "100", DOMAIN) is not None
    assert directory_user(xml, "u2", DOMAIN) is None
    assert directory_user(xml, "u1", "other") is None
    assert directory_user("<not xml", "u1", DOMAIN) is None


def test_dial_string_expanded_with_dialed_user_and_variables() -> None:
    xml = user_xml(
        ENDPOINT + '<param name="dial-var-leg_delay_start" value="2"/>',
        variables='<variable name="ecallmgr_Owner-ID" value="o1"/>',
    )
    result = plan(xml, [("leg_timeout", "25"), ("ecallmgr_Owner-ID", "old")])
    assert result.dial == f"sofia/p/u1@{DOMAIN}"
    assert result.failover is None
    variables = dict(result.variables)
    assert variables["ecallmgr_Owner-ID"] == "o1"  # the directory's wins
    assert variables["leg_delay_start"] == "2"
    assert variables["dialed_user"] == "u1"
    assert result.timelimit == 25
    assert plan(xml).timelimit == 60
    with_calling = plan(xml, [("leg_timeout", "25")], calling=[("Unique-ID", "a")])
    assert with_calling.timelimit == 25
    # The calling channel's call_timeout comes first.
    assert (
        plan(xml, [("leg_timeout", "25")], calling=[("Unique-ID", "a")], timeout="30").timelimit
        == 30
    )
    names, fields = profile_variables(result)
    assert names == [("Endpoint-Caller-ID-Name", "Bob")]
    assert fields == {"callee_id_name": "Bob", "orig_caller_id_name": "Bob"}


def test_call_forward_modes() -> None:
    append = plan(user_xml(ENDPOINT + FORWARD, callfwd()))
    assert append.dial == f"sofia/p/u1@{DOMAIN},loopback/555"
    separated = plan(
        user_xml(ENDPOINT + FORWARD + '<param name="endpoint-separator" value=":_:"/>', callfwd())
    )
    assert separated.dial == f"sofia/p/u1@{DOMAIN}:_:loopback/555"
    substitute = plan(user_xml(ENDPOINT + FORWARD, callfwd(Is_Substitute="true")))
    assert substitute.dial == "loopback/555"
    failover = plan(user_xml(ENDPOINT + FORWARD, callfwd(Is_Failover="true")))
    assert (failover.dial, failover.failover) == (f"sofia/p/u1@{DOMAIN}", "loopback/555")
    # Direct calls only: forwarded only when the runtime context flags a direct call.
    direct_xml = user_xml(ENDPOINT + FORWARD, callfwd(Direct_Calls_Only="true"))
    assert plan(direct_xml).dial == f"sofia/p/u1@{DOMAIN}"
    ctx = json.dumps({"Flags": ["direct_call"]})
    forwarded = plan(direct_xml, [("kz-endpoint-runtime-context", ctx)])
    assert forwarded.dial == f"sofia/p/u1@{DOMAIN},loopback/555"


def test_runtime_context_reaches_the_expansion_and_loops_are_refused() -> None:
    xml = user_xml('<param name="endpoint-dial-string" value="null/${kz_ctx_Caller_Number}"/>')
    ctx = json.dumps({"Caller": {"Number": "42"}, "Count": 3})
    assert plan(xml, [("kz-endpoint-runtime-context", ctx)]).dial == "null/42"
    looping = user_xml('<param name="endpoint-dial-string" value="KZ/u1@x"/>')
    x_user = directory_user(looping, "u1", DOMAIN)
    assert x_user is not None
    assert kz_plan(x_user, DOMAIN, [], None, None, expand) == "INVALID_IE_CONTENTS"
