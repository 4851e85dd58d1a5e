#include "adapters/yaml/templates_loader.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace hoso::yaml {

namespace {

SourceLoc loc_of(const YAML::Node& n, const std::string& file) {
  const YAML::Mark m = n.Mark();
  return SourceLoc{file, m.line + 1, m.column + 1};
}

}  // namespace

std::vector<Diagnostic> parse_templates(std::string_view text, const std::string& file,
                                        std::vector<NotificationTemplate>& out) {
  out.clear();
  std::vector<Diagnostic> diags;
  auto error = [&](SourceLoc at, std::string msg) { diags.push_back(Diagnostic{std::move(at), std::move(msg)}); };
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) {
      error(SourceLoc{file, 1, 1}, "expected a map with the key 'templates'");
      return diags;
    }
    for (const auto& kv : root)
      if (kv.first.as<std::string>() != "templates")
        error(loc_of(kv.first, file), fmt::format("unknown key '{}' (expected 'templates')", kv.first.as<std::string>()));
    const YAML::Node all = root["templates"];
    if (!all || !all.IsMap()) {
      error(SourceLoc{file, 1, 1}, "'templates' must be a map of template key → {subject, body}");
      return diags;
    }
    for (const auto& kv : all) {
      NotificationTemplate t;
      t.key = kv.first.as<std::string>();
      t.loc = loc_of(kv.first, file);
      for (const auto& other : out)
        if (other.key == t.key) error(t.loc, fmt::format("duplicate template '{}'", t.key));
      if (!kv.second.IsMap()) {
        error(t.loc, fmt::format("template '{}' must be a map with 'subject' and 'body'", t.key));
        continue;
      }
      bool reported = false;  // a field already has its own diagnostic
      for (const auto& field : kv.second) {
        const std::string name = field.first.as<std::string>();
        if (name != "subject" && name != "body") {
          error(loc_of(field.first, file),
                fmt::format("unknown key '{}' in template '{}' (expected 'subject', 'body')", name, t.key));
          continue;
        }
        if (!field.second.IsScalar() || field.second.Scalar().empty()) {
          error(loc_of(field.second, file), fmt::format("'{}' of template '{}' must be a non-empty text", name, t.key));
          reported = true;
          continue;
        }
        const std::string value = field.second.Scalar();
        if (auto bad = unknown_placeholder(value)) {
          SourceLoc at = loc_of(field.second, file);
          // On a one-line value the column can point at the placeholder itself.
          if (value.find('\n') == std::string::npos) {
            const bool quoted = field.second.Tag() == "!";
            at.col += static_cast<int>(bad->second) + (quoted ? 1 : 0);
          }
          error(at, bad->first == "{"
                        ? fmt::format("unbalanced brace in '{}' of template '{}' (write {{{{ or }}}} for a literal one)",
                                      name, t.key)
                        : fmt::format("unknown placeholder '{{{}}}' in '{}' of template '{}' (known: {})", bad->first,
                                      name, t.key, fmt::join(template_placeholders(), ", ")));
        }
        (name == "subject" ? t.subject : t.body) = value;
      }
      if (!reported && (t.subject.empty() || t.body.empty()))
        error(t.loc, fmt::format("template '{}' needs both 'subject' and 'body'", t.key));
      out.push_back(std::move(t));
    }
  } catch (const YAML::Exception& e) {
    error(SourceLoc{file, e.mark.line + 1, e.mark.column + 1}, e.msg);
  }
  return diags;
}

}  // namespace hoso::yaml
