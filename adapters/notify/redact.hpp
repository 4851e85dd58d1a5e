// Secrets kept out of logs and messages: how a webhook URL appears (a user:password@ part, the query, where
// services put access tokens, and the signing secret, wherever it was put, are hidden), and any text with a
// secret masked. Header-only: the
// configuration's description uses it as well as the notifiers.
#pragma once
#include <fmt/format.h>

#include <string>
#include <string_view>

namespace hoso {

// `text` with every occurrence of `secret` (when not empty) replaced by ***, searched from after each
// replacement: a secret that occurs in *** (or is one) neither loops nor grows the text.
inline std::string masked(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3))
    text.replace(at, secret.size(), "***");
  return text;
}

// A webhook URL as logs and recorded errors show it: the recorded ones stay in the dossier's history for
// good, so nothing there may let anyone call the receiver.
inline std::string redacted_url(std::string_view url, std::string_view secret) {
  const auto scheme_end = url.find("://");
  const auto from = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  const auto at = url.find('@', from);
  std::string out(url);
  if (at != std::string_view::npos && url.find_first_of("/?#", from) > at)
    out = fmt::format("{}***{}", url.substr(0, from), url.substr(at));
  if (const auto query = out.find_first_of("?#", from); query != std::string::npos)
    out.replace(query + 1, std::string::npos, "***");
  return masked(std::move(out), secret);
}

}  // namespace hoso
