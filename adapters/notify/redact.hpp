// How a webhook URL appears in logs and messages: a user:password@ part and the signing secret, wherever
// it was put, are hidden. Header-only: the configuration's description uses it as well as the notifier.
#pragma once
#include <fmt/format.h>

#include <string>
#include <string_view>

namespace hoso {

inline std::string redacted_url(std::string_view url, std::string_view secret) {
  const auto scheme_end = url.find("://");
  const auto from = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const auto at = url.find('@', from);
  std::string out(url);
  if (at != std::string_view::npos && url.find_first_of("/?", from) > at)
    out = fmt::format("{}***{}", url.substr(0, from), url.substr(at));
  if (secret.empty()) return out;
  for (auto i = out.find(secret); i != std::string::npos; i = out.find(secret, i))
    out.replace(i, secret.size(), "***");
  return out;
}

}  // namespace hoso
