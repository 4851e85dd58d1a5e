// The YAML reading helpers the config loaders share: located diagnostics, maps with a fixed set of keys,
// typed scalar values. Internal to adapters/yaml (namespace detail); nothing here throws past `guarded`.
#pragma once
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/definition.hpp"

namespace hoso::yaml::detail {

inline constexpr std::size_t kNpos = std::string_view::npos;

// Offset of the first byte that does not belong to well-formed UTF-8 (no overlongs, no
// surrogates, nothing above U+10FFFF), or kNpos.
std::size_t first_invalid_utf8(std::string_view s);
// 1-based line and column (in bytes) of a byte offset.
SourceLoc loc_of_offset(std::string_view text, std::size_t offset, const std::string& file);
// "invalid UTF-8: byte 0x.. at byte offset N does not start a valid sequence".
std::string utf8_message(std::string_view text, std::size_t offset);
// "'a', 'b', 'c'".
std::string quoted_list(std::initializer_list<const char*> names);
// A decimal integer with an optional sign ("+12", "-3"), the whole of `s`, in range; else nullopt.
std::optional<std::int64_t> parse_int64(std::string_view s);
// True when `s` is one of `names`.
bool contains(std::initializer_list<const char*> names, std::string_view s);
// Every org kind name, comma-separated, for messages.
std::string all_kinds();

// One key/value pair of a YAML map, with the key's text.
struct Entry {
  YAML::Node key, value;
  std::string name;
};

// The entries of a map, in document order.
struct MapView {
  std::vector<Entry> entries;
  SourceLoc loc;
  const Entry* find(std::string_view k) const {
    for (const auto& e : entries)
      if (e.name == k) return &e;
    return nullptr;
  }
};

class Reader {
 public:
  Reader(std::string_view text, const std::string& file) : text_(text), file_(file) {}

  std::vector<Diagnostic> take() { return std::move(diags_); }
  bool failed() const { return !diags_.empty(); }
  std::size_t count() const { return diags_.size(); }
  const std::string& file() const { return file_; }

  void error(SourceLoc loc, std::string message) {
    diags_.push_back(Diagnostic{std::move(loc), std::move(message)});
  }

  SourceLoc at(const YAML::Node& n, const SourceLoc& fallback = {}) const {
    const YAML::Mark m = n.Mark();
    if (m.is_null() || m.line < 0 || m.column < 0)
      return fallback.line > 0 ? fallback : SourceLoc{file_, 1, 1};
    return SourceLoc{file_, m.line + 1, m.column + 1};
  }
  // The value's location; a null value (`key:` with nothing after it) is located at its key,
  // because yaml-cpp marks it at the next token.
  SourceLoc at(const Entry& e) const {
    const SourceLoc k = at(e.key);
    return e.value.IsNull() ? k : at(e.value, k);
  }

  // UTF-8 check, then parse; exactly one document.
  std::optional<YAML::Node> load(std::string_view expected) {
    const std::size_t bad = first_invalid_utf8(text_);
    if (bad != kNpos) {
      error(loc_of_offset(text_, bad, file_), utf8_message(text_, bad));
      return std::nullopt;
    }
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(std::string(text_));
    } catch (const YAML::Exception& e) {
      SourceLoc loc{file_, 1, 1};
      if (!e.mark.is_null() && e.mark.line >= 0 && e.mark.column >= 0)
        loc = {file_, e.mark.line + 1, e.mark.column + 1};
      error(std::move(loc), e.msg.empty() ? std::string("YAML syntax error") : e.msg);
      return std::nullopt;
    }
    if (docs.empty() || docs[0].IsNull()) {
      error(docs.empty() ? SourceLoc{file_, 1, 1} : at(docs[0]),
            fmt::format("empty file: expected {}", expected));
      return std::nullopt;
    }
    if (docs.size() > 1) {
      error(at(docs[1]), "only one YAML document is allowed per file");
      return std::nullopt;
    }
    if (!docs[0].IsMap()) {
      error(at(docs[0]), fmt::format("expected {}", expected));
      return std::nullopt;
    }
    return docs[0];
  }

  // Entries of a map node (which must be a map): keys must be scalars and unique.
  MapView entries(const YAML::Node& map, std::string_view ctx) {
    MapView view;
    view.loc = at(map);
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node k = it->first;
      if (!k.IsScalar()) {
        error(at(k, view.loc), fmt::format("keys in {} must be plain strings", ctx));
        continue;
      }
      if (const Entry* prev = view.find(k.Scalar())) {
        error(at(k, view.loc), fmt::format("duplicate key '{}' in {} (first at line {})", k.Scalar(), ctx,
                                           at(prev->key).line));
        continue;
      }
      view.entries.push_back(Entry{k, it->second, k.Scalar()});
    }
    return view;
  }

  // Entries of a map with a fixed set of keys: reports unknown and missing keys.
  MapView fixed(const YAML::Node& map, std::string_view ctx, std::initializer_list<const char*> allowed,
                std::initializer_list<const char*> required) {
    MapView view = entries(map, ctx);
    std::vector<Entry> kept;
    for (auto& e : view.entries) {
      if (!contains(allowed, e.name)) {
        error(at(e.key),
              fmt::format("unknown key '{}' in {} (expected one of {})", e.name, ctx, quoted_list(allowed)));
        continue;
      }
      kept.push_back(std::move(e));
    }
    view.entries = std::move(kept);
    for (const char* r : required)
      if (!view.find(r)) error(view.loc, fmt::format("missing key '{}' in {}", r, ctx));
    return view;
  }

  // A short description of a map entry for messages: `what 'id'` when the map has a scalar `id`.
  static std::string named(const YAML::Node& map, std::string_view what, const char* id_key) {
    if (map.IsMap()) {
      for (auto it = map.begin(); it != map.end(); ++it)
        if (it->first.IsScalar() && it->first.Scalar() == id_key && it->second.IsScalar())
          return fmt::format("{} '{}'", what, it->second.Scalar());
    }
    return std::string(what);
  }

  // ---- typed values -------------------------------------------------------------------------
  bool str(const Entry& e, Str& out) {
    if (!e.value.IsScalar()) {
      error(at(e), fmt::format("'{}' must be a string", e.name));
      return false;
    }
    out = Str{e.value.Scalar(), at(e)};
    return true;
  }
  bool str(const MapView& m, const char* key, Str& out) {
    const Entry* e = m.find(key);
    return e ? str(*e, out) : false;
  }

  bool str_list(const Entry& e, std::vector<Str>& out) {
    out.clear();
    const std::string msg = fmt::format("'{}' must be a list of strings", e.name);
    if (!e.value.IsSequence()) {
      error(at(e), msg);
      return false;
    }
    bool ok = true;
    for (const auto& item : e.value) {
      if (!item.IsScalar()) {
        error(at(item, at(e)), msg);
        ok = false;
        continue;
      }
      out.push_back(Str{item.Scalar(), at(item, at(e))});
    }
    return ok;
  }
  bool str_list(const MapView& m, const char* key, std::vector<Str>& out) {
    const Entry* e = m.find(key);
    return e ? str_list(*e, out) : false;
  }

  // A scalar or a list of scalars.
  bool str_or_list(const Entry& e, std::vector<Str>& out) {
    out.clear();
    if (e.value.IsScalar()) {
      out.push_back(Str{e.value.Scalar(), at(e)});
      return true;
    }
    if (e.value.IsSequence()) return str_list(e, out);
    error(at(e), fmt::format("'{}' must be a string or a list of strings", e.name));
    return false;
  }

  bool boolean(const Entry& e, bool& out) {
    if (const auto v = bool_value(e.value)) {
      out = *v;
      return true;
    }
    error(at(e), fmt::format("'{}' must be true or false", e.name));
    return false;
  }

  bool integer(const Entry& e, Located<std::int64_t>& out) {
    if (const auto v = int_value(e.value)) {
      out = Located<std::int64_t>{*v, at(e)};
      return true;
    }
    error(at(e), fmt::format("'{}' must be an integer", e.name));
    return false;
  }

  // The value of a `true`/`false` scalar (plain or !!bool), or nullopt; reports nothing.
  static std::optional<bool> bool_value(const YAML::Node& n) {
    if (!n.IsScalar() || (n.Tag() != "?" && n.Tag() != "tag:yaml.org,2002:bool")) return std::nullopt;
    if (n.Scalar() == "true") return true;
    if (n.Scalar() == "false") return false;
    return std::nullopt;
  }

  // The value of a decimal integer scalar (plain or !!int), or nullopt; reports nothing.
  static std::optional<std::int64_t> int_value(const YAML::Node& n) {
    if (!n.IsScalar() || (n.Tag() != "?" && n.Tag() != "tag:yaml.org,2002:int")) return std::nullopt;
    return parse_int64(n.Scalar());
  }

  // The location of the first character of a scalar's text: after the opening quote of a quoted
  // scalar, at the first content character of a block scalar, else the scalar's mark.
  SourceLoc text_start(const Entry& e) const {
    SourceLoc loc = at(e);
    const YAML::Mark m = e.value.Mark();
    if (!e.value.IsScalar() || m.is_null() || m.pos < 0) return loc;
    const auto pos = static_cast<std::size_t>(m.pos);
    if (pos >= text_.size()) return loc;
    const char c = text_[pos];
    if (c == '"' || c == '\'') {
      ++loc.col;
      return loc;
    }
    if (c != '|' && c != '>') return loc;
    // Block scalar: the content starts on a following non-blank line.
    std::size_t p = text_.find('\n', pos);
    int line = loc.line;
    while (p != kNpos) {
      ++p;
      ++line;
      std::size_t q = p;
      while (q < text_.size() && text_[q] == ' ') ++q;
      if (q < text_.size() && text_[q] != '\n' && text_[q] != '\r') {
        loc.line = line;
        loc.col = static_cast<int>(q - p) + 1;
        return loc;
      }
      p = text_.find('\n', p);
    }
    return loc;
  }

 private:
  std::string_view text_;
  std::string file_;
  std::vector<Diagnostic> diags_;
};

// Runs a parse body, turning any escaping exception into a diagnostic.
template <typename F>
std::vector<Diagnostic> guarded(Reader& r, F&& body) {
  try {
    body();
  } catch (const YAML::Exception& e) {
    r.error(
        SourceLoc{r.file(), e.mark.is_null() ? 1 : e.mark.line + 1, e.mark.is_null() ? 1 : e.mark.column + 1},
        e.msg);
  } catch (const std::exception& e) {
    r.error(SourceLoc{r.file(), 1, 1}, fmt::format("internal error while reading: {}", e.what()));
  } catch (...) {
    r.error(SourceLoc{r.file(), 1, 1}, "internal error while reading");
  }
  return r.take();
}

}  // namespace hoso::yaml::detail
