#include "engine/result.hpp"

namespace hoso {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidInput:
      return "invalid_input";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kNotPermitted:
      return "not_permitted";
    case ErrorCode::kRefused:
      return "refused";
    case ErrorCode::kVersionConflict:
      return "version_conflict";
    case ErrorCode::kInvalidDefinition:
      return "invalid_definition";
    case ErrorCode::kVerifyFailed:
      return "verify_failed";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

}  // namespace hoso
