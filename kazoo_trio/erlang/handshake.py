"""The distribution handshake as one pure state machine, for both roles.

Bytes from the socket go in with :meth:`Handshake.receive_data`; typed events
come out of :meth:`Handshake.next_event`; whatever must be written next is
taken with :meth:`Handshake.data_to_send`.  Nothing here does I/O, reads a
clock or raises on bad input: anything the peer gets wrong ends in one
:class:`Failed` event whose reason names the ``dist_util`` state it failed in
(``recv_challenge_reply: invalid digest ...``), the way an Erlang node logs it.
Time limits (OTP's ``net_setuptime``, 7 s) belong to the caller.

Typical acceptor loop::

    hs = Handshake(Role.ACCEPTOR, config)
    while True:
        event = hs.next_event()
        if isinstance(event, NameReceived):
            hs.decide_status(Status.OK)
        # Write after *every* next_event(), also when it returned None:
        # processing a message may queue the answer (e.g. the 'r' reply).
        if out := hs.data_to_send():
            await stream.send_all(out)
        if event is None:
            hs.receive_data(await stream.receive_some())   # b"" on EOF
        elif isinstance(event, (Connected, Failed)):
            break
    # after Connected: feed hs.trailing_data to the frame reader first

Messages are ``Len:16`` framed (OTP's ``{packet, 2}``); after the ack both
sides switch to 4-byte frames, and bytes that arrived behind the ack are kept
in :attr:`Handshake.trailing_data` rather than lost.
"""

from __future__ import annotations

import enum
import hmac
import struct
from collections import deque
from collections.abc import Callable
from typing import ClassVar

import attrs

from kazoo_trio.erlang.cookie import digest, gen_challenge
from kazoo_trio.erlang.flags import MANDATORY, DFlag, expand_digest, missing_mandatory

__all__ = [
    "MAX_HANDSHAKE_PACKET",
    "MAX_NODE_NAME",
    "STATUSES",
    "AliveAnswered",
    "Connected",
    "Failed",
    "FailureKind",
    "Handshake",
    "HandshakeConfig",
    "HandshakeEvent",
    "HandshakeState",
    "NameReceived",
    "PeerAlive",
    "Role",
    "Status",
    "is_node_name",
]

# Erlang atoms hold at most 255 characters, and node names travel as Latin-1
# in the handshake, so no valid name is longer.
MAX_NODE_NAME = 255

# The largest legitimate handshake message is a challenge ('N', 19 bytes plus
# the name); OTP ignores extra bytes after the name, so leave room for them,
# but refuse to buffer 64 KiB from a peer that is clearly not speaking the protocol.
MAX_HANDSHAKE_PACKET = 2048


class Status(enum.StrEnum):
    """What an acceptor may answer after :class:`NameReceived` (``dist_util:mark_pending/1``)."""

    OK = "ok"
    OK_SIMULTANEOUS = "ok_simultaneous"
    NOK = "nok"
    ALIVE = "alive"
    NOT_ALLOWED = "not_allowed"


STATUSES = frozenset(Status)


class HandshakeState(enum.StrEnum):
    """What the handshake waits for, named after ``dist_util``'s states.

    ``DECIDE_STATUS`` and ``ANSWER_ALIVE`` wait for the caller; ``CONNECTED``
    and ``FAILED`` are final.  The values are the ``dist_util`` names, which
    also start every :attr:`Failed.reason`.
    """

    RECV_NAME = "recv_name"
    DECIDE_STATUS = "decide_status"
    RECV_STATUS_REPLY = "recv_status_reply"
    RECV_COMPLEMENT = "recv_complement"
    RECV_CHALLENGE_REPLY = "recv_challenge_reply"
    RECV_STATUS = "recv_status"
    ANSWER_ALIVE = "answer_alive"
    RECV_CHALLENGE = "recv_challenge"
    RECV_CHALLENGE_ACK = "recv_challenge_ack"
    CONNECTED = "connected"
    FAILED = "failed"


class FailureKind(enum.Enum):
    """Why a handshake failed, for callers that act on it (the text is for people)."""

    #: We answered ``nok``, or the peer did: a simultaneous connect the other side wins.
    NOK_SIMULTANEOUS = "nok_simultaneous"
    #: ``not_allowed`` either way: ourselves, missing capabilities, a dynamic name.
    NOT_ALLOWED = "not_allowed"
    #: An ``alive`` exchange decided to keep the existing connection.
    ALIVE = "alive"
    #: A digest did not match: the cookies differ.
    BAD_COOKIE = "bad_cookie"
    #: The peer closed the connection before the handshake finished.
    CLOSED = "closed"
    #: The peer sent something the protocol does not allow.
    PROTOCOL = "protocol"


_LOW32 = (1 << 32) - 1
_NAME_HEAD = struct.Struct(">QIH")  # 'N' send_name: flags, creation, name length
_OLD_NAME_HEAD = struct.Struct(">HI")  # 'n' send_name: version, flags
_CHALLENGE_HEAD = struct.Struct(">QIIH")  # 'N' challenge: flags, challenge, creation, name length
_U32 = struct.Struct(">I")
_COMPLEMENT = struct.Struct(">II")  # 'c': high flag word, creation


class Role(enum.Enum):
    """Which end of the TCP connection we are: the side that dialed, or the side that accepted."""

    INITIATOR = "initiator"
    ACCEPTOR = "acceptor"


@attrs.frozen
class HandshakeConfig:
    """What this node tells its peers about itself.

    ``our_name`` is the full node name exactly as peers dial it (``alive@host``;
    an initiating OTP node compares it byte for byte), ``creation`` the value
    EPMD gave us (also carried by every pid and reference we make).
    """

    our_name: str
    cookie: bytes = attrs.field(repr=False)
    flags: int
    creation: int


@attrs.frozen
class NameReceived:
    """Acceptor: the peer said who it is.  Answer with :meth:`Handshake.decide_status`.

    ``peer_flags`` are digest-expanded; after an old ``'n'`` message they are
    only the low 32 bits and ``peer_creation`` is ``None`` (both are completed by
    the ``'c'`` message that follows the challenge).  ``version`` is 6 for
    ``'N'`` and the version field of ``'n'`` (5) otherwise.
    """

    peer_name: str
    peer_flags: int
    peer_creation: int | None
    version: int


@attrs.frozen
class AliveAnswered:
    """Acceptor: we answered ``alive`` and the peer replied.

    ``keep=True`` (``'s' "true"``): the peer considers the old connection dead;
    drop it, the handshake continues.  ``keep=False``: the peer keeps the old
    connection; a :class:`Failed` event follows.
    """

    keep: bool


@attrs.frozen
class PeerAlive:
    """Initiator: the peer already has a connection to us; call :meth:`Handshake.answer_alive`."""


@attrs.frozen
class Connected:
    """Handshake complete; switch to 4-byte frames (start with :attr:`Handshake.trailing_data`)."""

    peer_name: str
    peer_flags: int
    negotiated_flags: int
    peer_creation: int


@attrs.frozen
class Failed:
    """The handshake is over without a connection.

    Write :meth:`Handshake.data_to_send` (it may hold a status such as
    ``not_allowed`` for the peer), then close the socket.  ``reason`` is the
    text to log; ``kind`` is what to act on.
    """

    reason: str
    kind: FailureKind = FailureKind.PROTOCOL


HandshakeEvent = NameReceived | AliveAnswered | PeerAlive | Connected | Failed


def is_node_name(name: str) -> bool:
    """``alive@host``: one ``@``, both parts non-empty (``dist_util:is_node_name/1``)."""
    alive, at, host = name.partition("@")
    return bool(at and alive and host and "@" not in host)


def _show(data: bytes) -> str:
    head = data[:24].hex(" ")
    return f"{len(data)} bytes: {head}{' ...' if len(data) > 24 else ''}"


def _tag(data: bytes) -> str:
    byte = data[0]
    return f"{chr(byte)!r}" if 0x20 < byte < 0x7F else f"0x{byte:02x}"


def _challenge(value: int | None) -> int:
    if value is None:
        return gen_challenge()
    if not 0 <= value < 1 << 32:
        raise ValueError("challenge must be a 32-bit value")
    return value


@attrs.define(eq=False)
class Handshake:
    """One handshake on one connection, either role.

    ``peer_name`` is required for the initiator: the exact node name dialed,
    which the acceptor's challenge must repeat (for the acceptor it is set
    once the peer has named itself).  ``challenge`` fixes the 32-bit
    challenge we send (for replaying recorded exchanges in tests); by
    default it is random.

    Misuse by the caller (answering at the wrong time, an invalid config)
    raises ``RuntimeError``/``ValueError``; nothing the peer sends does.
    """

    role: Role
    config: HandshakeConfig = attrs.field(repr=False)
    peer_name: str | None = attrs.field(default=None, kw_only=True)
    _our_challenge: int = attrs.field(
        default=None, kw_only=True, alias="challenge", converter=_challenge, repr=False
    )
    peer_flags: int = attrs.field(default=0, init=False, repr=False)
    peer_creation: int | None = attrs.field(default=None, init=False, repr=False)
    negotiated_flags: int = attrs.field(default=0, init=False, repr=False)
    #: Bytes received after the handshake ended: the first 4-byte frames.
    trailing_data: bytes = attrs.field(default=b"", init=False, repr=False)
    _state: HandshakeState = attrs.field(default=HandshakeState.RECV_NAME, init=False)
    _our_name: bytes = attrs.field(default=b"", init=False, repr=False)
    _peer_name_bytes: bytes = attrs.field(default=b"", init=False, repr=False)
    _old_name: bool = attrs.field(default=False, init=False, repr=False)  # 'n': 'c' follows
    _in: bytearray = attrs.field(factory=bytearray, init=False, repr=False)
    _eof: bool = attrs.field(default=False, init=False, repr=False)
    _out: bytearray = attrs.field(factory=bytearray, init=False, repr=False)
    _events: deque[HandshakeEvent] = attrs.field(factory=deque, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        config = self.config
        self._our_name = _encode_name(config.our_name, "our_name")
        if not 0 <= config.flags < 1 << 64:
            raise ValueError("flags must fit in 64 bits")
        if config.flags & DFlag.NAME_ME:
            raise ValueError("dynamic node names (NAME_ME) are not supported")
        if not 0 < config.creation < 1 << 32:
            raise ValueError("creation must be a non-zero 32-bit value")
        if self.role is Role.INITIATOR:
            if self.peer_name is None:
                raise ValueError("the initiator needs the peer_name it dialed")
            self._peer_name_bytes = _encode_name(self.peer_name, "peer_name")
            self._send(
                b"N"
                + _NAME_HEAD.pack(config.flags, config.creation, len(self._our_name))
                + self._our_name
            )
            self._state = HandshakeState.RECV_STATUS
        elif self.peer_name is not None:
            raise ValueError("the acceptor learns the peer name from the peer")

    # ---- public interface ---------------------------------------------------

    @property
    def state(self) -> HandshakeState:
        """What we wait for; ``DECIDE_STATUS`` and ``ANSWER_ALIVE`` mean the caller must answer."""
        return self._state

    def receive_data(self, data: bytes) -> None:
        """Bytes read from the socket; ``b""`` means the peer closed it.

        After :class:`Connected` the bytes are appended to :attr:`trailing_data`;
        after :class:`Failed` they are dropped.
        """
        if self._state is HandshakeState.CONNECTED:
            self.trailing_data += data
        elif self._state is not HandshakeState.FAILED:
            if data:
                self._in += data
            else:
                self._eof = True

    def next_event(self) -> HandshakeEvent | None:
        """The next event, or ``None`` if more data (or the caller's answer) is needed.

        Processing may queue bytes to send whatever it returns (the initiator's
        ``'r'`` reply has no event of its own): write :meth:`data_to_send`
        after every call.
        """
        if not self._events:
            self._advance()
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        """Everything to write to the socket now (empties the outgoing buffer)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def decide_status(self, status: Status | str) -> None:
        """Acceptor, after :class:`NameReceived`: send the status and go on or give up.

        ``ok``/``ok_simultaneous`` continue with our challenge; ``alive`` asks the
        peer whether its old connection is dead (:class:`AliveAnswered` follows);
        ``nok``/``not_allowed`` end the handshake with :class:`Failed`.
        """
        if self._state is not HandshakeState.DECIDE_STATUS:
            raise RuntimeError(f"decide_status() called in state {self._state}")
        if status not in STATUSES:
            expected = sorted(str(known) for known in STATUSES)
            raise ValueError(f"unknown status {status!r}; expected one of {expected}")
        status = Status(status)
        self._send(b"s" + status.encode("ascii"))
        if status is Status.OK or status is Status.OK_SIMULTANEOUS:
            self._send_challenge()
        elif status is Status.ALIVE:
            self._state = HandshakeState.RECV_STATUS_REPLY
        else:
            kind = FailureKind.NOK_SIMULTANEOUS if status is Status.NOK else FailureKind.NOT_ALLOWED
            self._fail(f"mark_pending: answered {status} to node {self.peer_name}", kind)

    def answer_alive(self, keep: bool) -> None:
        """Initiator, after :class:`PeerAlive`: ``True`` (``'s' "true"``) continues.

        Answer ``True`` when we have no working connection to the peer (so its
        old one is stale and it should drop it); ``False`` keeps the old
        connection and ends this handshake with :class:`Failed`.
        """
        if self._state is not HandshakeState.ANSWER_ALIVE:
            raise RuntimeError(f"answer_alive() called in state {self._state}")
        self._send(b"strue" if keep else b"sfalse")
        if keep:
            self._state = HandshakeState.RECV_CHALLENGE
        else:
            self._fail(
                f"recv_status: node {self.peer_name} already has a connection to us, "
                "answered false to keep it",
                FailureKind.ALIVE,
            )

    # ---- machinery -----------------------------------------------------------

    def _send(self, packet: bytes) -> None:
        self._out += len(packet).to_bytes(2, "big")
        self._out += packet

    def _fail(self, reason: str, kind: FailureKind = FailureKind.PROTOCOL) -> None:
        self._state = HandshakeState.FAILED
        self._in.clear()
        self._events.append(Failed(reason, kind))

    def _advance(self) -> None:
        while not self._events:
            handler = self._handlers.get(self._state)
            if handler is None:  # waiting for the caller, or finished
                return
            packet = self._read_packet()
            if packet is None:
                return
            handler(self, packet)

    def _read_packet(self) -> bytes | None:
        buf = self._in
        if len(buf) >= 2:
            size = (buf[0] << 8) | buf[1]
            if size == 0:
                self._fail(f"{self._state}: empty handshake message")
                return None
            if size > MAX_HANDSHAKE_PACKET:
                self._fail(
                    f"{self._state}: handshake message of {size} bytes "
                    f"(more than {MAX_HANDSHAKE_PACKET}); not a distribution peer?"
                )
                return None
            if len(buf) >= 2 + size:
                packet = bytes(buf[2 : 2 + size])
                del buf[: 2 + size]
                return packet
        if self._eof:
            pending = f" after {len(buf)} bytes of an incomplete message" if buf else ""
            self._fail(f"{self._state}: connection closed by peer{pending}", FailureKind.CLOSED)
        return None

    def _connected(self) -> None:
        self._state = HandshakeState.CONNECTED
        self.negotiated_flags = self.config.flags & self.peer_flags
        self.trailing_data = bytes(self._in)
        self._in.clear()
        assert self.peer_name is not None and self.peer_creation is not None
        self._events.append(
            Connected(self.peer_name, self.peer_flags, self.negotiated_flags, self.peer_creation)
        )

    def _check_flags(self, *, low_only: bool) -> bool:
        required = MANDATORY & _LOW32 if low_only else MANDATORY
        missing = missing_mandatory(self.peer_flags, required=required)
        if not missing:
            return True
        names = "[" + ", ".join(f'"{m}"' for m in missing) + "]"
        if self.role is Role.ACCEPTOR:
            self._send(b"snot_allowed")
            how = f"from node {self.peer_name} rejected"
        else:
            how = f"to node {self.peer_name} aborted"
        self._fail(
            f"check_dflags: connection attempt {how} since it cannot handle {names}",
            FailureKind.NOT_ALLOWED,
        )
        return False

    # ---- acceptor states -------------------------------------------------------

    def _recv_name(self, packet: bytes) -> None:
        tag = packet[0]
        if tag == 0x4E:  # 'N'
            if len(packet) < 1 + _NAME_HEAD.size:
                self._fail(f"recv_name: truncated 'N' name message ({_show(packet)})")
                return
            flags, creation, size = _NAME_HEAD.unpack_from(packet, 1)
            start = 1 + _NAME_HEAD.size
            if start + size > len(packet):
                self._fail(f"recv_name: name length {size} runs past the message ({_show(packet)})")
                return
            name, version, peer_creation = packet[start : start + size], 6, creation
        elif tag == 0x6E:  # 'n', OTP 23/24 without EPMD
            if len(packet) < 1 + _OLD_NAME_HEAD.size:
                self._fail(f"recv_name: truncated 'n' name message ({_show(packet)})")
                return
            version, flags = _OLD_NAME_HEAD.unpack_from(packet, 1)
            name, peer_creation = packet[1 + _OLD_NAME_HEAD.size :], None
            self._old_name = True
        else:
            self._fail(f"recv_name: expected a name message 'N' or 'n', got {_tag(packet)}")
            return
        text = name.decode("latin-1")
        if flags & DFlag.NAME_ME:
            self.peer_name = text
            self._send(b"snot_allowed")
            self._fail(
                f"recv_name: {text!r} asked for a dynamic name (NAME_ME); not supported",
                FailureKind.NOT_ALLOWED,
            )
            return
        if len(name) > MAX_NODE_NAME or not is_node_name(text):
            self._fail(f"recv_name: invalid node name {text[:300]!r}")
            return
        self.peer_name = text
        self.peer_flags = expand_digest(flags)
        self.peer_creation = peer_creation
        if self._check_flags(low_only=self._old_name):
            self._state = HandshakeState.DECIDE_STATUS
            self._events.append(NameReceived(text, self.peer_flags, peer_creation, version))

    def _send_challenge(self) -> None:
        self._send(
            b"N"
            + _CHALLENGE_HEAD.pack(
                self.config.flags, self._our_challenge, self.config.creation, len(self._our_name)
            )
            + self._our_name
        )
        if self._old_name:
            self._state = HandshakeState.RECV_COMPLEMENT
        else:
            self._state = HandshakeState.RECV_CHALLENGE_REPLY

    def _recv_status_reply(self, packet: bytes) -> None:
        if packet == b"strue":
            self._events.append(AliveAnswered(True))
            self._send_challenge()
        elif packet == b"sfalse":
            self._events.append(AliveAnswered(False))
            self._fail(
                f"recv_status_reply: node {self.peer_name} keeps its existing connection",
                FailureKind.ALIVE,
            )
        else:
            self._fail(f"recv_status_reply: expected 's' true/false, got {_show(packet)}")

    def _recv_complement(self, packet: bytes) -> None:
        if len(packet) != 1 + _COMPLEMENT.size or packet[0] != 0x63:  # 'c'
            self._fail(f"recv_complement: expected a 9-byte 'c' message, got {_show(packet)}")
            return
        high, creation = _COMPLEMENT.unpack_from(packet, 1)
        self.peer_flags = expand_digest(self.peer_flags | (high << 32))
        self.peer_creation = creation
        if self._check_flags(low_only=False):
            self._state = HandshakeState.RECV_CHALLENGE_REPLY

    def _recv_challenge_reply(self, packet: bytes) -> None:
        if len(packet) != 21 or packet[0] != 0x72:  # 'r'
            self._fail(f"recv_challenge_reply: expected a 21-byte 'r' message, got {_show(packet)}")
            return
        (their_challenge,) = _U32.unpack_from(packet, 1)
        expected = digest(self.config.cookie, self._our_challenge)
        if not hmac.compare_digest(packet[5:], expected):
            self._fail(
                f"recv_challenge_reply: invalid digest from node {self.peer_name} "
                "(the cookies differ)",
                FailureKind.BAD_COOKIE,
            )
            return
        self._send(b"a" + digest(self.config.cookie, their_challenge))
        self._connected()

    # ---- initiator states ------------------------------------------------------

    def _recv_status(self, packet: bytes) -> None:
        if packet[0] != 0x73:  # 's'
            self._fail(f"recv_status: expected a status message 's', got {_tag(packet)}")
            return
        status = packet[1:]
        peer = self.peer_name
        if status in (b"ok", b"ok_simultaneous"):
            self._state = HandshakeState.RECV_CHALLENGE
        elif status == b"alive":
            self._state = HandshakeState.ANSWER_ALIVE
            self._events.append(PeerAlive())
        elif status == b"nok":
            self._fail(
                f"recv_status: node {peer} answered nok (it is connecting to us at the "
                "same time and its connection wins)",
                FailureKind.NOK_SIMULTANEOUS,
            )
        elif status == b"not_allowed":
            self._fail(
                f"recv_status: node {peer} answered not_allowed (capability flags "
                "or its allow list)",
                FailureKind.NOT_ALLOWED,
            )
        elif status.startswith(b"named:"):
            self._fail(f"recv_status: unexpected status 'named:' from {peer} (no NAME_ME sent)")
        else:
            self._fail(f"recv_status: unknown status {status[:64]!r} from node {peer}")

    def _recv_challenge(self, packet: bytes) -> None:
        if packet[0] != 0x4E or len(packet) < 1 + _CHALLENGE_HEAD.size:  # 'N'
            self._fail(f"recv_challenge: expected an 'N' challenge, got {_show(packet)}")
            return
        flags, challenge, creation, size = _CHALLENGE_HEAD.unpack_from(packet, 1)
        start = 1 + _CHALLENGE_HEAD.size
        name = packet[start : start + size]
        if start + size > len(packet) or name != self._peer_name_bytes:
            self._fail(
                f"recv_challenge: no_node: the challenge names {name.decode('latin-1')[:300]!r}, "
                f"but we dialed {self.peer_name!r}"
            )
            return
        self.peer_flags = expand_digest(flags)
        self.peer_creation = creation
        if not self._check_flags(low_only=False):
            return
        self._send(b"r" + _U32.pack(self._our_challenge) + digest(self.config.cookie, challenge))
        self._state = HandshakeState.RECV_CHALLENGE_ACK

    def _recv_challenge_ack(self, packet: bytes) -> None:
        if len(packet) != 17 or packet[0] != 0x61:  # 'a'
            self._fail(f"recv_challenge_ack: expected a 17-byte 'a' message, got {_show(packet)}")
            return
        expected = digest(self.config.cookie, self._our_challenge)
        if not hmac.compare_digest(packet[1:], expected):
            self._fail(
                f"recv_challenge_ack: invalid digest from node {self.peer_name} "
                "(the cookies differ)",
                FailureKind.BAD_COOKIE,
            )
            return
        self._connected()

    _handlers: ClassVar[dict[HandshakeState, Callable[[Handshake, bytes], None]]] = {
        HandshakeState.RECV_NAME: _recv_name,
        HandshakeState.RECV_STATUS_REPLY: _recv_status_reply,
        HandshakeState.RECV_COMPLEMENT: _recv_complement,
        HandshakeState.RECV_CHALLENGE_REPLY: _recv_challenge_reply,
        HandshakeState.RECV_STATUS: _recv_status,
        HandshakeState.RECV_CHALLENGE: _recv_challenge,
        HandshakeState.RECV_CHALLENGE_ACK: _recv_challenge_ack,
    }


def _encode_name(name: str, what: str) -> bytes:
    try:
        raw = name.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"{what} {name!r} is not Latin-1, as OTP sends node names") from None
    if len(raw) > MAX_NODE_NAME or not is_node_name(name):
        raise ValueError(f"{what} {name!r} is not a node name alive@host")
    return raw
