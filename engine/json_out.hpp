// Compact JSON written straight into a string, byte for byte as boost::json::serialize writes the same
// values (keys in the order written; '"', '\\' and control characters escaped the same way, other bytes as
// they are), without building a document first. The codec writes every event and projection with it.
#pragma once
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace hoso {

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
  void quoted(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out_ += '"';
    std::size_t run = 0;  // start of the bytes not yet copied
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(s.data() + run, i - run);
      run = i + 1;
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
    out_.append(s.data() + run, s.size() - run);
    out_ += '"';
  }

  std::string& out_;
  bool comma_ = false;  // a value precedes: the next key or value needs a comma
};

}  // namespace hoso
