#include "engine/status.h"

namespace rollcall {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return "invalid input";
    case ErrorKind::kNotFound: return "not found";
    case ErrorKind::kConflict: return "conflict";
    case ErrorKind::kIncompatible: return "incompatible";
    case ErrorKind::kUnauthorized: return "unauthorized";
    case ErrorKind::kProtocol: return "protocol error";
    case ErrorKind::kBusy: return "busy";
    case ErrorKind::kStorageFull: return "storage full";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kPeerGone: return "peer gone";
    case ErrorKind::kIo: return "I/O error";
    case ErrorKind::kCorruption: return "corruption";
    case ErrorKind::kInternal: return "internal error";
  }
  return "unknown error";
}

std::string Error::to_string() const {
  return std::string(error_kind_name(kind_)) + ": " + message_;
}

}  // namespace rollcall
