// The configuration of `hoso serve`: config/server.yaml (format in the comments of that file), then the
// HOSO_* environment variables, which win over the file. Secrets are never in the file: it names the
// environment variables that hold them (notify.email.password_env, notify.webhook.secret_env).
//
// Problems are one hoso::Error (code kInvalidDefinition, reason "server_config") whose message has a line
// per problem, Vietnamese, "file:line:col: error: <field>: <rule>" for the file and
// "biến môi trường <NAME>: <rule>" for the environment; every problem is reported, not just the first.
// No message ever contains the value of a secret.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/notify/retry_policy.hpp"
#include "adapters/notify/smtp_notifier.hpp"
#include "adapters/notify/webhook_notifier.hpp"
#include "engine/result.hpp"

namespace hoso::yaml {

// The longest duration a setting may give (timeouts, backoffs): 30 days. Far beyond any sensible wait, and
// far from where adding it to a time or converting it to nanoseconds would overflow.
inline constexpr std::int64_t kMaxSettingMillis = 30LL * 24 * 3600 * 1000;

using RetryPolicy = ::hoso::RetryPolicy;

struct ServerConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: any free port
  std::string database;       // empty: not set (the --db option / the CLI default decide)
  std::chrono::milliseconds read_timeout{10000}, idle_timeout{30000};
  std::size_t max_body = 1 << 20;
  std::size_t max_connections = 4096;
  std::vector<std::string> channels{"file"};  // "file" | "email" | "webhook", in config order, each once
  RetryPolicy retry;
  std::string file_path;  // empty: <database>.notifications.jsonl (decided by the caller)
  SmtpSettings smtp;      // password filled from the environment variable named by password_env
  std::string password_env = "HOSO_SMTP_PASSWORD";
  WebhookSettings webhook;  // secret filled from the environment variable named by secret_env
  std::string secret_env = "HOSO_WEBHOOK_SECRET";
};

// Looks an environment variable up: its value, or nullopt when it is not set.
using Env = std::function<std::optional<std::string>(const std::string&)>;

// The process environment (std::getenv).
Env process_env();

// Parses `text` (named `file` in messages), applies the environment overrides, then validates. An
// environment variable set to the empty string counts as not set.
Result<ServerConfig> parse_server_config(std::string_view text, const std::string& file, const Env& env);

// Reads `path` and parses it as above; nullopt: the defaults, still with the environment overrides and the
// validation. Fails with read_text_file's error when the file cannot be read.
Result<ServerConfig> load_server_config(const std::optional<std::string>& path, const Env& env);

// One English log line describing the effective configuration; a secret shows only as "(set)" or
// "(not set)".
std::string describe(const ServerConfig& c);

}  // namespace hoso::yaml
