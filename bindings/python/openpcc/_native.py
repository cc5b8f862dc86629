"""Loading libopenpcc (the C API, include/openpcc/openpcc.h) with ctypes, and the function prototypes.

Where the library is looked for, in order:
  1. $OPENPCC_LIBRARY (a path to the .so file);
  2. next to this package (a wheel or a copy that bundles libopenpcc.so.0);
  3. the install prefix: `cmake --install` puts this package in <prefix>/<libdir>/python3/site-packages/openpcc and
     the library in <prefix>/<libdir>, so the parent directories of the package are searched;
  4. the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache): libopenpcc.so.0.
"""

import ctypes
import ctypes.util
import os

ABI_MAJOR = 0
_SONAME = "libopenpcc.so.%d" % ABI_MAJOR


class LibraryNotFound(ImportError):
    """libopenpcc could not be loaded; the message lists every place tried."""


def _candidates():
    env = os.environ.get("OPENPCC_LIBRARY")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    for name in (_SONAME, "libopenpcc.so"):
        yield os.path.join(here, name)
    parent = here
    for _ in range(4):
        parent = os.path.dirname(parent)
        yield os.path.join(parent, _SONAME)
        yield os.path.join(parent, "lib", _SONAME)
    yield _SONAME
    found = ctypes.util.find_library("openpcc")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (missing)")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise LibraryNotFound("libopenpcc not found; set OPENPCC_LIBRARY to libopenpcc.so.0. Tried: " + "; ".join(tried))


class Header(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("name_length", ctypes.c_size_t),
        ("value", ctypes.c_char_p),
        ("value_length", ctypes.c_size_t),
    ]


_c = ctypes
_p = ctypes.c_void_p
_pp = ctypes.POINTER(ctypes.c_void_p)
_status = ctypes.c_int

# name: (restype, argtypes)
_PROTOTYPES = {
    "openpcc_version": (_c.c_char_p, []),
    "openpcc_version_number": (_c.c_uint32, []),
    "openpcc_status_name": (_c.c_char_p, [_c.c_int]),
    "openpcc_error_status": (_status, [_p]),
    "openpcc_error_message": (_c.c_void_p, [_p]),
    "openpcc_error_message_length": (_c.c_size_t, [_p]),
    "openpcc_error_free": (None, [_p]),
    "openpcc_client_create": (_status, [_c.c_char_p, _pp, _pp]),
    "openpcc_client_create_from_json": (_status, [_c.c_char_p, _c.c_size_t, _c.c_char_p, _pp, _pp]),
    "openpcc_client_close": (_status, [_p, _pp]),
    "openpcc_client_free": (None, [_p]),
    "openpcc_client_request": (
        _status,
        [_p, _c.c_char_p, _c.c_char_p, _c.POINTER(Header), _c.c_size_t, _c.c_char_p, _c.c_size_t, _pp, _pp],
    ),
    "openpcc_response_status": (_c.c_int, [_p]),
    "openpcc_response_header_count": (_c.c_size_t, [_p]),
    "openpcc_response_header": (
        _status,
        [_p, _c.c_size_t, _pp, _c.POINTER(_c.c_size_t), _pp, _c.POINTER(_c.c_size_t)],
    ),
    "openpcc_response_next_chunk": (_status, [_p, _pp, _c.POINTER(_c.c_size_t), _pp]),
    "openpcc_response_read": (_status, [_p, _c.c_void_p, _c.c_size_t, _c.POINTER(_c.c_size_t), _pp]),
    "openpcc_response_finish": (_status, [_p, _pp]),
    "openpcc_response_ended": (_c.c_int, [_p]),
    "openpcc_response_credit_value": (_c.c_int64, [_p]),
    "openpcc_response_refund": (_c.c_int64, [_p]),
    "openpcc_response_node_id": (_c.c_char_p, [_p]),
    "openpcc_response_free": (None, [_p]),
}

lib = _load()
for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes

_major = lib.openpcc_version_number() >> 16
if _major != ABI_MAJOR:
    raise LibraryNotFound(
        "libopenpcc %s has ABI %d; this binding needs %d" % (lib.openpcc_version().decode(), _major, ABI_MAJOR)
    )
