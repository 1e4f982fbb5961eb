"""Tag bytes of the external term format (erts `external.h`; the tags OTP documents in its
"External Term Format" chapter).

Only the values live here, so the encoder and the decoder agree on one table.
"""

from __future__ import annotations

from typing import Final

VERSION: Final = 131
COMPRESSED: Final = 80

NEW_FLOAT_EXT: Final = 70
BIT_BINARY_EXT: Final = 77
ATOM_CACHE_REF: Final = 82
NEW_PID_EXT: Final = 88
NEW_PORT_EXT: Final = 89
NEWER_REFERENCE_EXT: Final = 90
SMALL_INTEGER_EXT: Final = 97
INTEGER_EXT: Final = 98
FLOAT_EXT: Final = 99
ATOM_EXT: Final = 100
REFERENCE_EXT: Final = 101
PORT_EXT: Final = 102
PID_EXT: Final = 103
SMALL_TUPLE_EXT: Final = 104
LARGE_TUPLE_EXT: Final = 105
NIL_EXT: Final = 106
STRING_EXT: Final = 107
LIST_EXT: Final = 108
BINARY_EXT: Final = 109
SMALL_BIG_EXT: Final = 110
LARGE_BIG_EXT: Final = 111
NEW_FUN_EXT: Final = 112
EXPORT_EXT: Final = 113
NEW_REFERENCE_EXT: Final = 114
SMALL_ATOM_EXT: Final = 115
MAP_EXT: Final = 116
FUN_EXT: Final = 117
ATOM_UTF8_EXT: Final = 118
SMALL_ATOM_UTF8_EXT: Final = 119
V4_PORT_EXT: Final = 120
LOCAL_EXT: Final = 121

# Longest list OTP writes as STRING_EXT (its length field is 16 bits).
STRING_EXT_MAX: Final = 65535
# Erlang atoms hold at most 255 characters (each up to 4 UTF-8 bytes).
ATOM_MAX_CHARS: Final = 255
# Port ids above this no longer fit NEW_PORT_EXT's 28-bit number; OTP 25
# switches to V4_PORT_EXT exactly there (checked against term_to_binary).
NEW_PORT_MAX_ID: Final = 0x0FFFFFFF
