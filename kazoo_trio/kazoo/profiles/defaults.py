"""The profiles in force before ecallmgr pushes its own (kazoo.conf ``request-handlers``).

Written for kazoo_trio: one event per binding that ecallmgr's fourteen stream
groups make, and one fetch profile per XML section, producing the keys
ecallmgr's handlers read (``Event-Category``, ``Event-Name``, ``Call-ID``,
``Node``, ``Timestamp``, ``Custom-Channel-Vars``, caller and callee ids,
channel state, SIP tags, hang-up causes, application results, the fetch
routing keys ``Fetch-Section``/``Fetch-Version``/``Fetch-Key-Value``…).  It is
a smaller set than Kazoo's own: events ecallmgr never binds are left to the
verbose fallback, and rarely used extras (SDP, transfer history) are only in
the CDR.  The document has the kazoo.conf shape, so it is parsed and compiled
by the same code as a pushed one.
"""

from __future__ import annotations

from functools import cache

from kazoo_trio.kazoo.profiles.engine import ProfileSet

__all__ = ["DEFAULT_PROFILE_XML", "GREGORIAN_EPOCH_OFFSET", "default_profiles"]

GREGORIAN_EPOCH_OFFSET = 62167219200
"""Seconds from 0000-01-01 (Erlang's gregorian seconds) to the Unix epoch."""

_GREGORIAN_SECONDS = (
    "${expr(ceil((${Event-Date-Timestamp} / 1000000) + ${UNIX_EPOCH_IN_GREGORIAN}))}"
)

_CALL_EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CALL_SECURE",
    "CHANNEL_METAFLOW",
)
# CHANNEL_EXECUTE_COMPLETE of these applications is never sent (ecallmgr ignores them).
_QUIET_APPLICATIONS = (
    "set",
    "park",
    "export",
    "event",
    "unshift",
    "kz_multiset",
    "kz_multiunset",
    "kz_prefix_unset",
    "kz_export",
    "ring_ready",
    "log",
    "bridge",
)
_VERBOSE_CALL_EVENTS = ("CHANNEL_DATA", "CHANNEL_SYNC", "CALL_UPDATE", "PRESENCE_IN")


def _simple_events() -> str:
    lines = []
    for name in _CALL_EVENTS:
        lines.append(
            f'<event name="{name}"><fields verbose="false">'
            '<field name="kt-call" type="reference"/>'
            '<field name="kt-addresses" type="reference"/>'
            "</fields></event>"
        )
    for name in _VERBOSE_CALL_EVENTS:
        lines.append(
            f'<event name="{name}"><fields verbose="true">'
            '<field name="kt-call" type="reference"/>'
            "</fields></event>"
        )
    for direction, app in (("tx", "send_fax"), ("rx", "receive_fax")):
        for stage in ("result", "pageresult", "negociateresult"):
            lines.append(
                f'<event name="spandsp::{direction}fax{stage}"><fields verbose="false">'
                '<field name="kt-call" type="reference"/>'
                '<field name="Event-Name" type="static" value="CHANNEL_FAX_STATUS"/>'
                f'<field name="Application-Name" type="static" value="{app}"/>'
                f'<field name="Application-Event" type="static" value="{stage}"/>'
                '<field name="kt-fax" type="reference"/>'
                "</fields></event>"
            )
    for subclass, name in (
        ("sofia::transferor", "CHANNEL_TRANSFEROR"),
        ("sofia::transferee", "CHANNEL_TRANSFEREE"),
    ):
        lines.append(
            f'<event name="{subclass}"><fields verbose="false">'
            '<field name="kt-call" type="reference"/>'
            f'<field name="Event-Name" type="static" value="{name}"/>'
            "</fields></event>"
        )
    for subclass, name in (
        ("loopback::bowout", "CHANNEL_REPLACED"),
        ("loopback::direct", "CHANNEL_DIRECT"),
    ):
        lines.append(
            f'<event name="{subclass}"><fields verbose="true">'
            '<field name="kt-call" type="reference"/>'
            f'<field name="Event-Name" type="static" value="{name}"/>'
            '<field name="Resigning-UUID" as="Call-ID"/>'
            '<field name="Acquired-UUID" as="Replaced-By"/>'
            "</fields></event>"
        )
    return "\n".join(lines)


_DOCUMENT = """\
<configuration name="kazoo.conf" description="kazoo_trio built-in profiles">
<variables>
  <variable name="UNIX_EPOCH_IN_GREGORIAN" value="@GREGORIAN@"/>
</variables>
<definitions>
  <definition name="kt-identity">
    <field name="Switch-Nodename" as="Node"/>
    <field name="FreeSWITCH-Hostname" as="Media-Server"/>
    <field name="FreeSWITCH-Hostname" as="Switch-Hostname"/>
    <field name="Switch-Nodename"/>
    <field name="variable_Switch-URL" as="Switch-URL"/>
    <field name="variable_Switch-URI" as="Switch-URI"/>
    <field name="App-Name" type="static" value="freeswitch"/>
    <field name="App-Version" type="static" value="1.0"/>
  </definition>
  <definition name="kt-vars">
    <field name="Custom-Channel-Vars" type="static" serialize-as="object">
      <fields verbose="false">
        <field name="X-ecallmgr_" type="prefix" exclude-prefix="true"/>
        <field name="variable_sip_h_X-ecallmgr_" type="prefix" exclude-prefix="true"/>
        <field name="variable_ecallmgr_" type="prefix" exclude-prefix="true"/>
        <field name="ecallmgr_" type="prefix" exclude-prefix="true"/>
        <field name="Fetch-UUID" as="Fetch-ID"/>
        <field name="variable_presence_id" as="Presence-ID"/>
        <field name="variable_Call-Interaction-ID" as="Call-Interaction-ID"/>
      </fields>
    </field>
    <field name="Custom-Application-Vars" type="static" serialize-as="object">
      <filters><filter type="include" compare="prefix" value="variable_cav_"/></filters>
      <fields verbose="false">
        <field name="variable_cav_" type="prefix" exclude-prefix="true"/>
      </fields>
    </field>
    <field name="Call-Control" type="static" serialize-as="object">
      <filters><filter type="include" compare="prefix" value="variable_Call-Control-"/></filters>
      <fields verbose="false">
        <field name="variable_Call-Control-" type="prefix" exclude-prefix="true"/>
      </fields>
    </field>
  </definition>
  <definition name="kt-call">
    <field name="Event-Category" type="static" value="call_event"/>
    <field name="Event-Name" type="first-of" value="kazoo_event_name|Event-Subclass|Event-Name"/>
    <field name="Event-Date-Timestamp" as="Msg-ID"/>
    <field name="Timestamp" type="expand" serialize-as="number" value="@TIMESTAMP@"/>
    <field name="Call-ID" type="first-of" value="Unique-ID|Caller-Unique-ID|caller-unique-id"/>
    <field name="Caller-Channel-Created-Time" as="Channel-Created-Time"/>
    <field name="variable_sip_invite_domain" as="Domain-Name"/>
    <field name="kt-identity" type="reference"/>
    <field name="Call-Direction"/>
    <field name="Channel-State" type="expand" value="${regex(${Channel-State}|^CS_(.*)$|%1)}"/>
    <field name="Channel-Call-State"/>
    <field name="Channel-Name"/>
    <field name="Answer-State" as="Channel-Answer-State"/>
    <field name="Caller-ID-Number" type="first-of"
      value="variable_origination_caller_id_number|variable_effective_caller_id_number|
          Caller-Caller-ID-Number"/>
    <field name="Caller-ID-Name" type="first-of"
      value="variable_origination_caller_id_name|variable_effective_caller_id_name|
          Caller-Caller-ID-Name"/>
    <field name="Callee-ID-Number" type="first-of"
      value="variable_origination_callee_id_number|variable_effective_callee_id_number|
          Caller-Callee-ID-Number|Other-Leg-Caller-ID-Number"/>
    <field name="Callee-ID-Name" type="first-of"
      value="variable_origination_callee_id_name|variable_effective_callee_id_name|
          Caller-Callee-ID-Name|Other-Leg-Caller-ID-Name"/>
    <field name="Caller-Context"/>
    <field name="Caller-Destination-Number"/>
    <field name="variable_sofia_profile_name" as="Caller-Profile"/>
    <field name="variable_presence_id" as="Presence-ID"/>
    <field name="variable_sip_to_tag" as="To-Tag"/>
    <field name="variable_sip_from_tag" as="From-Tag"/>
    <field name="variable_sip_user_agent" as="User-Agent"/>
    <field name="variable_is_loopback" as="Channel-Is-Loopback" serialize-as="boolean"/>
    <field name="loopback" type="group">
      <filters><filter name="variable_is_loopback" type="include" value="1"/></filters>
      <fields verbose="false">
        <field name="variable_loopback_leg" as="Channel-Loopback-Leg"/>
        <field name="variable_other_loopback_leg_uuid" as="Channel-Loopback-Other-Leg-ID"/>
        <field name="variable_loopback_bowout" as="Channel-Loopback-Bowout" serialize-as="boolean"/>
        <field name="variable_loopback_bowout_on_execute"
          as="Channel-Loopback-Bowout-Execute" serialize-as="boolean"/>
      </fields>
    </field>
    <field name="Other-Leg-Direction"/>
    <field name="Other-Leg-Caller-ID-Name"/>
    <field name="Other-Leg-Caller-ID-Number"/>
    <field name="Other-Leg-Destination-Number"/>
    <field name="Other-Leg-Call-ID" type="first-of"
      value="Other-Leg-Unique-ID|Other-Leg-Call-ID|variable_origination_uuid"/>
    <field name="Raw-Application-Name" type="first-of" value="kazoo_application_name|Application|
        Event-Subclass"/>
    <field name="Application-Data" as="Raw-Application-Data"/>
    <field name="Application-Name" type="first-of"
      value="Application-UUID-Name|kazoo_application_name|Application|Event-Subclass"/>
    <field name="Application-Response" type="first-of" value="kazoo_application_response|
        Application-Response"/>
    <field name="Application-UUID" type="first-of" value="app_uuid|variable_app_uuid|
        Application-UUID"/>
    <field name="kt-vars" type="reference"/>
  </definition>
  <definition name="kt-addresses">
    <field name="Request" type="first-of"
      value="variable_sip_req_uri|variable_sip_invite_req_uri|variable_sip_loopback_req_uri|
          variable_sip_to_uri|variable_sip_invite_to_uri"/>
    <field name="To" type="first-of"
      value="variable_sip_to_uri|variable_sip_invite_to_uri|variable_sip_req_uri|
          variable_sip_invite_req_uri|variable_sip_loopback_req_uri"/>
    <field name="To-URI" type="first-of" value="variable_sip_to_uri|variable_sip_invite_to_uri"/>
    <field name="From" type="first-of"
      value="variable_sip_from_uri|variable_presence_id|variable_sip_invite_from_uri|
          variable_sip_loopback_from_uri"/>
    <field name="From-URI" type="first-of" value="variable_sip_from_uri|
        variable_sip_invite_from_uri"/>
    <field name="To-DID" type="first-of"
      value="variable_ecallmgr_E164-Destination|variable_ecallmgr_Original-Number|
          Caller-Destination-Number"/>
    <field name="Destination-Number" type="first-of"
      value="variable_sip_h_X-FS-Destination-Number|Hunt-Destination-Number|
          Caller-Destination-Number"/>
  </definition>
  <definition name="kt-hangup">
    <field name="Hangup-Cause" type="first-of"
      value="variable_originate_failed_cause|variable_bridge_hangup_cause|variable_hangup_cause|
          Hangup-Cause"/>
    <field name="Hangup-Code" type="first-of"
      value="variable_proto_specific_hangup_cause|variable_last_bridge_proto_specific_hangup_cause"/>
    <field name="Disposition" type="first-of" value="variable_originate_disposition|
        variable_endpoint_disposition"/>
    <field name="variable_duration" as="Duration-Seconds" serialize-as="number"/>
    <field name="variable_progresssec" as="Ringing-Seconds" serialize-as="number"/>
    <field name="variable_billsec" as="Billing-Seconds" serialize-as="number"/>
    <field name="variable_billmsec" as="Billing-Milli-Seconds" serialize-as="number"/>
    <field name="variable_Media-Recordings" as="Media-Recordings" as-array="true"/>
    <field name="variable_switch_r_sdp" as="Remote-SDP"/>
    <field name="variable_rtp_local_sdp_str" as="Local-SDP"/>
  </definition>
  <definition name="kt-recording">
    <field name="Application-Name" type="static" value="record"/>
    <field name="Application-Response" type="first-of" value="Record-File-Path|
        kazoo_application_response"/>
    <field name="Recording" type="static" serialize-as="object">
      <fields verbose="false">
        <field name="Recording-Variable-" type="prefix" exclude-prefix="true"/>
        <field name="Record-File-Path" as="File-Path"/>
        <field name="variable_record_ms" as="File-MilliSeconds" serialize-as="number"/>
        <field name="variable_record_seconds" as="File-Seconds" serialize-as="number"/>
        <field name="variable_record_file_size" as="File-Size" serialize-as="number"/>
        <field name="variable_record_completion_cause" as="Completion-Cause"/>
      </fields>
    </field>
  </definition>
  <definition name="kt-fax">
    <field name="Application-Data" type="static" serialize-as="object">
      <fields verbose="false">
        <field name="variable_fax_success" as="Fax-Success" serialize-as="boolean"/>
        <field name="variable_fax_result_code" as="Fax-Result-Code" serialize-as="number"/>
        <field name="variable_fax_result_text" as="Fax-Result-Text"/>
        <field name="variable_fax_document_transferred_pages"
          as="Fax-Transferred-Pages" serialize-as="number"/>
        <field name="variable_fax_document_total_pages" as="Fax-Total-Pages" serialize-as="number"/>
        <field name="variable_fax_transfer_rate" as="Fax-Transfer-Rate" serialize-as="number"/>
        <field name="variable_fax_remote_station_id" as="Fax-Remote-Station-ID"/>
        <field name="variable_has_t38" as="Fax-T38-Used" serialize-as="boolean"/>
        <field name="variable_fax_ecm_used" as="Fax-ECM-Used" serialize-as="boolean"/>
      </fields>
    </field>
  </definition>
  <definition name="kt-fetch">
    <field name="Event-Category" type="static" value="fetch"/>
    <field name="kt-identity" type="reference"/>
    <field name="Fetch-UUID"/>
    <field name="Fetch-UUID" as="Msg-ID"/>
    <field name="Unique-ID" as="Call-ID"/>
    <field name="Fetch-Section"/>
    <field name="Fetch-Timeout" serialize-as="number"/>
    <field name="Fetch-Timestamp-Micro" serialize-as="number"/>
    <field name="Kazoo-Bundle" as="Fetch-Version"/>
    <field name="kt-vars" type="reference"/>
    <field name="Custom-SIP-Headers" type="static" serialize-as="object">
      <filters><filter type="include" compare="prefix" value="variable_sip_h_"/></filters>
      <fields verbose="false">
        <field name="variable_sip_h_" type="prefix" exclude-prefix="true"/>
      </fields>
    </field>
    <field name="Custom-AUTH-Headers" type="static" serialize-as="object">
      <filters><filter name="Fetch-Section" type="include" value="directory"/></filters>
      <fields verbose="false">
        <field name="variable_sip_h_X-AUTH-" type="prefix" exclude-prefix="true"/>
        <field name="X-AUTH-" type="prefix" exclude-prefix="true"/>
      </fields>
    </field>
  </definition>
</definitions>
<event-handlers>
  <profile name="default">
    <events>
      @SIMPLE_EVENTS@
      <event name="CHANNEL_DESTROY">
        <filters><filter name="variable_hangup_cause" value="WRONG_CALL_STATE"/></filters>
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="kt-addresses" type="reference"/>
          <field name="kt-hangup" type="reference"/>
        </fields>
      </event>
      <event name="CHANNEL_BRIDGE">
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="Bridge-A-Unique-ID"/>
          <field name="Bridge-B-Unique-ID"/>
        </fields>
      </event>
      <event name="CHANNEL_UNBRIDGE">
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="Bridge-A-Unique-ID"/>
          <field name="Bridge-B-Unique-ID"/>
          <field name="Application-Response" type="first-of" value="
              variable_originate_disposition|#FAIL"/>
          <field name="Disposition" type="first-of" value="variable_originate_disposition|
              variable_endpoint_disposition"/>
        </fields>
      </event>
      <event name="CHANNEL_EXECUTE_COMPLETE">
        <filters>
          <filter name="Application-UUID" value="null"/>
          <filter type="include" name="variable_Call-Control-Queue"/>
          <filter type="include" name="Application-UUID-Name"/>
          <filter name="Application-UUID-Name" value="set"/>
          @QUIET_APPLICATIONS@
        </filters>
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="Application-Response" type="first-of"
            value="Application-Response|variable_originate_disposition|
                variable_endpoint_disposition|#NONE"/>
          <field name="Disposition" type="first-of" value="variable_originate_disposition|
              variable_endpoint_disposition"/>
          <field name="Bridge-Hangup-Cause" type="first-of" value="variable_bridge_hangup_cause|
              variable_last_bridge_hangup_cause"/>
          <field name="variable_endpoint_disposition" as="Endpoint-Disposition"/>
          <field name="variable_transfer_disposition" as="Transfer-Disposition"/>
          <field name="Hangup-Cause" type="first-of"
            value="variable_originate_failed_cause|variable_hangup_cause|
                variable_bridge_hangup_cause|Hangup-Cause"/>
        </fields>
      </event>
      <event name="DTMF">
        <filters><filter name="variable_conference_name" compare="exists"/></filters>
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="DTMF-Digit"/>
          <field name="DTMF-Duration" serialize-as="number"/>
        </fields>
      </event>
      <event name="DETECTED_TONE">
        <fields verbose="true">
          <field name="kt-call" type="reference"/>
        </fields>
      </event>
      <event name="RECORD_START">
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="kt-recording" type="reference"/>
        </fields>
      </event>
      <event name="RECORD_STOP">
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="kt-recording" type="reference"/>
          <field name="variable_playback_terminator_used" as="Terminator"/>
          <field name="variable_record_ms" as="Length"/>
          <field name="variable_silence_hits_exhausted"
            as="Silence-Terminated" serialize-as="boolean"/>
        </fields>
      </event>
      <event name="ROUTE_WINNER">
        <fields verbose="false">
          <field name="Event-Category" type="static" value="dialplan"/>
          <field name="Event-Subclass" as="Event-Name"/>
          <field name="Unique-ID" as="Call-ID"/>
          <field name="Fetch-UUID"/>
          <field name="Fetch-Winning-PID"/>
          <field name="Controller-Queue"/>
          <field name="Controller-PID"/>
          <field name="Request-From-PID" as="Reply-To-PID"/>
          <field name="App-Name" type="static" value="mod_kazoo"/>
          <field name="App-Version" type="static" value="1.0"/>
          <field name="kt-vars" type="reference"/>
        </fields>
      </event>
      <event name="conference::maintenance">
        <fields verbose="false">
          <field name="Event-Category" type="static" value="conference"/>
          <field name="Event-Name" type="static" value="event"/>
          <field name="kt-identity" type="reference"/>
          <field name="Core-UUID"/>
          <field name="Action" as="Event"/>
          <field name="Conference-Name" as="Conference-ID"/>
          <field name="Conference-Unique-ID" as="Instance-ID"/>
          <field name="Conference-Profile" as="Profile"/>
          <field name="Unique-ID" as="Call-ID"/>
          <field name="Member-ID" as="Participant-ID" serialize-as="number"/>
          <field name="Account-ID" type="first-of" value="Conference-Account-ID|
              variable_ecallmgr_Account-ID"/>
          <field name="Caller-Caller-ID-Name" as="Caller-ID-Name"/>
          <field name="Caller-Caller-ID-Number" as="Caller-ID-Number"/>
          <field name="Channel-Presence-ID"/>
          <field name="Conference-Vars" type="static" serialize-as="object">
            <fields verbose="false">
              <field name="Conference-" type="prefix" exclude-prefix="true"/>
            </fields>
          </field>
          <field name="Conference-Channel-Vars" type="static" serialize-as="object">
            <fields verbose="false">
              <field name="variable_conference_moderator" as="Is-Moderator" serialize-as="boolean"/>
              <field name="Floor" serialize-as="boolean"/>
              <field name="Video" serialize-as="boolean"/>
              <field name="Hear" serialize-as="boolean"/>
              <field name="Speak" serialize-as="boolean"/>
              <field name="Talking" serialize-as="boolean"/>
              <field name="Mute-Detect" serialize-as="boolean"/>
              <field name="Energy-Level" serialize-as="number"/>
              <field name="Member-ID" serialize-as="number"/>
            </fields>
          </field>
          <field name="kt-vars" type="reference"/>
        </fields>
      </event>
      <event name="kazoo::noop">
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="Application-Name" type="static" value="noop"/>
          <field name="kazoo_application_response" as="Application-Response"/>
        </fields>
      </event>
      <event name="kazoo::masquerade">
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="Application-Response" type="first-of"
            value="variable_bridge_hangup_cause|variable_originate_disposition|
                variable_endpoint_disposition|#FAIL"/>
          <field name="kt-hangup" type="reference"/>
        </fields>
      </event>
      <event name="sofia::replaced">
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="Event-Name" type="static" value="CHANNEL_REPLACED"/>
          <field name="Replaced-By" type="first-of" value="variable_att_xfer_replaced_by|
              att_xfer_replaced_by"/>
        </fields>
      </event>
      <event name="sofia::intercepted">
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="Event-Name" type="static" value="CHANNEL_INTERCEPTED"/>
          <field name="Intercepted-By" type="first-of" value="variable_intercepted_by|
              intercepted_by"/>
        </fields>
      </event>
      <event name="KZ_CDR">
        <filters>
          <filter name="${variable_Call-Control-Node}" type="include" compare="field"
            value="Target-Node"/>
          <filter name="variable_hangup_cause" value="WRONG_CALL_STATE"/>
        </filters>
        <fields verbose="false">
          <field name="kt-call" type="reference"/>
          <field name="kt-addresses" type="reference"/>
          <field name="kt-hangup" type="reference"/>
          <field name="Event-Category" type="static" value="cdr"/>
          <field name="Event-Name" type="static" value="report"/>
          <field name="Core-UUID" as="Node"/>
          <field name="Caller-Channel-Created-Time"
            as="Channel-Created-Time" serialize-as="number"/>
          <field name="variable_ecallmgr_Account-ID" as="Account-ID"/>
          <field name="variable_originating_leg_uuid" as="Originating-Leg-UUID"/>
          <field name="_json_transfer_history" as="Transfer-History" serialize-as="raw"/>
          <field name="_json_originated_legs" as="Originated-Legs" serialize-as="raw"/>
          <field name="Extended-Data" type="static" serialize-as="object">
            <fields verbose="false">
              <field name="_json_callflow" as="Channel-CallFlow" serialize-as="raw"/>
              <field name="_json_channel_stats" as="Channel-Stats" serialize-as="raw"/>
              <field name="_json_channel_media_errors"
                as="Channel-Media-Errors" serialize-as="raw"/>
              <field name="_json_application_log" as="Channel-Application-Log" serialize-as="raw"/>
            </fields>
          </field>
        </fields>
      </event>
      <event name="HEARTBEAT">
        <fields verbose="true">
          <field name="Event-Category" type="static" value="switch"/>
          <field name="Event-Info" as="FreeSWITCH-Is-Ready"/>
        </fields>
      </event>
    </events>
  </profile>
</event-handlers>
<fetch-handlers>
  <profile name="configuration">
    <fields verbose="true"><field name="kt-fetch" type="reference"/></fields>
    <params><param name="fetch-timeout" value="3500000"/></params>
  </profile>
  <profile name="directory">
    <fields verbose="true"><field name="kt-fetch" type="reference"/></fields>
    <params><param name="fetch-timeout" value="3500000"/></params>
  </profile>
  <profile name="chatplan">
    <fields verbose="true"><field name="kt-fetch" type="reference"/></fields>
    <params><param name="fetch-timeout" value="3500000"/></params>
  </profile>
  <profile name="channels">
    <fields verbose="true">
      <field name="kt-fetch" type="reference"/>
      <field name="Event-Category" type="static" value="channels"/>
      <field name="Event-Name" type="static" value="channel_req"/>
    </fields>
    <params><param name="fetch-timeout" value="3500000"/></params>
  </profile>
  <profile name="languages">
    <fields verbose="true">
      <field name="kt-fetch" type="reference"/>
      <field name="Event-Category" type="static" value="languages"/>
      <field name="Event-Name" type="static" value="language_req"/>
    </fields>
    <params><param name="fetch-timeout" value="3500000"/></params>
  </profile>
  <profile name="dialplan">
    <fields verbose="false">
      <field name="kt-fetch" type="reference"/>
      <field name="Event-Category" type="static" value="dialplan"/>
      <field name="Event-Name" type="static" value="route_req"/>
      <field name="Timestamp" type="expand" serialize-as="number" value="@TIMESTAMP@"/>
      <field name="Call-Direction"/>
      <field name="Caller-ID-Number" type="first-of"
        value="variable_origination_caller_id_number|variable_effective_caller_id_number|
            Caller-Caller-ID-Number"/>
      <field name="Caller-ID-Name" type="first-of"
        value="variable_origination_caller_id_name|variable_effective_caller_id_name|
            Caller-Caller-ID-Name"/>
      <field name="Callee-ID-Number" type="first-of"
        value="variable_origination_callee_id_number|variable_effective_callee_id_number|
            Caller-Callee-ID-Number"/>
      <field name="Callee-ID-Name" type="first-of"
        value="variable_origination_callee_id_name|variable_effective_callee_id_name|
            Caller-Callee-ID-Name"/>
      <field name="From-Network-Addr" type="first-of" value="variable_sip_h_X-AUTH-IP|
          variable_sip_received_ip"/>
      <field name="From-Network-Port" type="first-of" value="variable_sip_h_X-AUTH-PORT|
          variable_sip_received_port"/>
      <field name="variable_sip_user_agent" as="User-Agent"/>
      <field name="variable_sip_invite_domain" as="Domain-Name"/>
      <field name="kt-addresses" type="reference"/>
      <field name="variable_sip_to_tag" as="To-Tag"/>
      <field name="variable_sip_from_tag" as="From-Tag"/>
      <field name="Resource-Type" type="static" value="audio"/>
      <field name="Call-Setup" type="static" value="true" serialize-as="boolean"/>
      <field name="Hunt-Context"/>
      <field name="Hunt-Destination-Number"/>
      <field name="Hunt-Context" as="Fetch-Key-Value"/>
      <field name="Hunt-Prepend-CID-Name" as="Prepend-CID-Name"/>
      <field name="Request" type="expand"
        value="${first-of(variable_sip_h_X-FS-Destination-Number|Hunt-Destination-Number|
            Caller-Destination-Number)}@${first-of(variable_sip_invite_domain|
            variable_sip_to_host|variable_sip_req_host|variable_ecallmgr_Realm)}"/>
      <field name="To" type="expand"
        value="${first-of(variable_sip_to_user|Hunt-Destination-Number)}@${first-of(
            variable_sip_invite_domain|variable_sip_to_host|variable_sip_req_host|
            variable_ecallmgr_Realm)}"/>
      <field name="variable_sip_to_uri" as="To-URI"/>
      <field name="From" type="expand"
        value="${first-of(Hunt-Caller-ID-Number|origination_callee_id_number|
            variable_sip_from_user)}@${first-of(variable_sip_invite_domain|
            variable_sip_from_host|variable_sip_req_host|variable_ecallmgr_Realm)}"/>
    </fields>
    <params><param name="fetch-timeout" value="3500000"/></params>
  </profile>
</fetch-handlers>
</configuration>
"""

DEFAULT_PROFILE_XML = (
    _DOCUMENT.replace("@GREGORIAN@", str(GREGORIAN_EPOCH_OFFSET))
    .replace("@TIMESTAMP@", _GREGORIAN_SECONDS)
    .replace("@SIMPLE_EVENTS@", _simple_events())
    .replace(
        "@QUIET_APPLICATIONS@",
        "".join(f'<filter name="Application" value="{app}"/>' for app in _QUIET_APPLICATIONS),
    )
)
"""The built-in profile document (kazoo.conf shape)."""


@cache
def default_profiles() -> ProfileSet:
    """The built-in profiles, compiled once (a :class:`ProfileSet` is immutable)."""
    return ProfileSet.from_xml(DEFAULT_PROFILE_XML)
