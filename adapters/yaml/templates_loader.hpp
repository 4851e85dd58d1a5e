// config/templates.yaml: the Vietnamese texts of notifications, one subject and body per template key.
// Problems are diagnostics "file:line:col: error: message"; nothing throws.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "engine/definition.hpp"
#include "engine/templates.hpp"

namespace hoso::yaml {

// Parses the file: a map `templates:` of key → {subject, body}; unknown keys, missing or empty texts and
// unknown {placeholders} are located diagnostics.
std::vector<Diagnostic> parse_templates(std::string_view text, const std::string& file,
                                        std::vector<NotificationTemplate>& out);

}  // namespace hoso::yaml
