// Compact JSON written straight into a string, byte for byte as boost::json::serialize writes the same
// values (keys in the order written; '"', '\\' and control characters escaped the same way, other bytes as
// they are), without building a document first. The codec writes every event and projection with it.
#pragma once
#include <charconv>
#include <cstring>
#include <cstdint>
#include <string>
#include <string_view>

namespace hoso {

// Where `needle` (e.g. a quoted key) first occurs in JSON `text`, npos when nowhere. glibc's memmem, about
// ten times faster here than std::string_view::find, which stops at every '"' (the first byte of a quoted
// key, and the most frequent byte of JSON text) to compare the rest.
inline std::size_t find_in_json(std::string_view text, std::string_view needle) {
  if (needle.empty()) return 0;
  const void* at = ::memmem(text.data(), text.size(), needle.data(), needle.size());
  return at ? static_cast<std::size_t>(static_cast<const char*>(at) - text.data()) : std::string_view::npos;
}

class JsonOut {
 public:
  explicit JsonOut(std::string& out) : out_(out) {}

  JsonOut& begin_object() { return open('{'); }
  JsonOut& end_object() { return close('}'); }
  JsonOut& begin_array() { return open('['); }
  JsonOut& end_array() { return close(']'); }
  // An object key; the value written next is its value.
  JsonOut& key(std::string_view k) {
    comma();
    quoted(k);
    out_ += ':';
    comma_ = false;
    return *this;
  }
  JsonOut& value(std::string_view s) {
    comma();
    quoted(s);
    comma_ = true;
    return *this;
  }
  JsonOut& value(const char* s) { return value(std::string_view(s)); }
  JsonOut& value(const std::string& s) { return value(std::string_view(s)); }
  JsonOut& value(std::int64_t n) {
    comma();
    char buffer[24];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, n).ptr;
    out_.append(buffer, static_cast<std::size_t>(end - buffer));
    comma_ = true;
    return *this;
  }
  JsonOut& value(int n) { return value(static_cast<std::int64_t>(n)); }
  JsonOut& value(bool b) {
    comma();
    out_ += b ? "true" : "false";
    comma_ = true;
    return *this;
  }
  // Text that is already one compact JSON value in this form (e.g. a payload the codec wrote), as it is.
  JsonOut& raw(std::string_view json) {
    comma();
    out_ += json;
    comma_ = true;
    return *this;
  }
  template <typename T>
  JsonOut& member(std::string_view k, const T& v) {
    return key(k).value(v);
  }

 private:
  JsonOut& open(char c) {
    comma();
    out_ += c;
    comma_ = false;
    return *this;
  }
  JsonOut& close(char c) {
    out_ += c;
    comma_ = true;
    return *this;
  }
  void comma() {
    if (comma_) out_ += ',';
  }
  // Whether any of the 8 bytes of `w` must be escaped: below 0x20, '"' or '\\' (bytes from 0x80 never are).
  static bool any_escaped(std::uint64_t w) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
    auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    const std::uint64_t below_space = (w - kOnes * 0x20) & ~w & kHigh;
    return (below_space | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\'))) != 0;
  }
  void quoted(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out_ += '"';
    const char* p = s.data();
    const char* const end = p + s.size();
    const char* run = p;  // start of the bytes not yet copied
    while (p < end) {
      // Eight bytes at a time while none needs escaping (most text), then byte by byte.
      if (end - p >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, sizeof w);
        if (!any_escaped(w)) {
          p += 8;
          continue;
        }
      }
      const auto c = static_cast<unsigned char>(*p);
      if (c >= 0x20 && c != '"' && c != '\\') {
        ++p;
        continue;
      }
      out_.append(run, static_cast<std::size_t>(p - run));
      run = ++p;
      out_ += '\\';
      switch (c) {
        case '"': out_ += '"'; break;
        case '\\': out_ += '\\'; break;
        case '\b': out_ += 'b'; break;
        case '\f': out_ += 'f'; break;
        case '\n': out_ += 'n'; break;
        case '\r': out_ += 'r'; break;
        case '\t': out_ += 't'; break;
        default:
          out_ += "u00";
          out_ += kHex[c >> 4];
          out_ += kHex[c & 0xF];
      }
    }
    out_.append(run, static_cast<std::size_t>(end - run));
    out_ += '"';
  }

  std::string& out_;
  bool comma_ = false;  // a value precedes: the next key or value needs a comma
};

}  // namespace hoso
