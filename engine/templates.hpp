// Notification texts (config/templates.yaml): a subject and a body per template key, in Vietnamese, with
// {placeholders} filled from the dossier when a notification is delivered. Pure.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/definition.hpp"

namespace hoso {

struct NotificationTemplate {
  std::string key, subject, body;
  SourceLoc loc;
};

// The placeholders a template may use: ho_so (dossier number), hinh_thuc (award), buoc (current step),
// co_quan (the org told), don_vi (the proposing org), han (the processing limit), thoi_diem (when the
// event happened, Vietnam time), ghi_chu (the event's note); and truong.KEY, the dossier's field KEY
// (dates as dd/mm/yyyy; "" when the dossier has no such field or value).
const std::vector<std::string>& template_placeholders();
inline constexpr std::string_view kFieldPlaceholderPrefix = "truong.";

// The first {name} in `text` that is not a known placeholder, with its byte offset; nullopt when all are
// known. "{{" and "}}" stand for literal braces.
std::optional<std::pair<std::string, std::size_t>> unknown_placeholder(std::string_view text);

// `text` with each {name} replaced by values[name] ("" when absent).
std::string render_template(std::string_view text, const std::map<std::string, std::string>& values);

// The template keys the engine itself uses (deadline reminders and overdue notices).
const std::vector<std::string>& engine_template_keys();

}  // namespace hoso
