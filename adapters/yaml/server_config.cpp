#include "adapters/yaml/server_config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <utility>

#include "adapters/notify/redact.hpp"
#include "adapters/yaml/loader.hpp"
#include "adapters/yaml/reader.hpp"

namespace hoso::yaml {

namespace {

using detail::Entry;

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
constexpr const char* kMillisExpected = "cần số mili giây từ 1 đến 2592000000 (30 ngày)";
constexpr const char* kChannels[] = {"file", "email", "webhook"};

// Where a value came from, to locate a problem with it: a place in the file, an environment variable,
// or neither (a default).
struct Origin {
  std::string field;  // "notify.email.port"
  std::optional<SourceLoc> loc;
  std::string env;
};

// One value to set: a YAML node from the file, or the text of an environment variable.
struct Raw {
  Origin origin;
  const YAML::Node* node = nullptr;  // null: from the environment, in `text`
  std::string text;
};

// What a message says it received; never used for a secret.
std::string got(const Raw& v) {
  if (!v.node || v.node->IsScalar()) return fmt::format("nhận được '{}'", v.node ? v.node->Scalar() : v.text);
  if (v.node->IsSequence()) return "nhận được một danh sách";
  if (v.node->IsMap()) return "nhận được một bảng";
  return "nhận được giá trị trống";
}

// The configuration being read, and the problems found so far.
class Ctx {
 public:
  Ctx(detail::Reader& r, ServerConfig& config) : c(config), r_(r) {}

  detail::Reader& reader() { return r_; }
  std::vector<std::string> take_env_problems() { return std::move(env_problems_); }

  // Reports `rule` against the value's origin: "file:line:col: error: field: rule" for the file,
  // "biến môi trường NAME: rule" for the environment.
  void fail(const Origin& o, const std::string& rule) {
    if (!o.env.empty())
      env_problems_.push_back(fmt::format("biến môi trường {}: {}", o.env, rule));
    else if (o.loc)
      r_.error(*o.loc, fmt::format("{}: {}", o.field, rule));
    else
      env_problems_.push_back(fmt::format("{}: {}", o.field, rule));
  }
  void set(const Raw& v) { where[v.origin.field] = v.origin; }
  Origin origin(const std::string& field) const {
    const auto it = where.find(field);
    return it == where.end() ? Origin{field, std::nullopt, {}} : it->second;
  }

  // ---- typed values: each reports its own problem and returns nullopt -------------------------
  std::optional<std::string> text(const Raw& v) {
    if (v.node && !v.node->IsScalar()) {
      fail(v.origin, fmt::format("cần một chuỗi, {}", got(v)));
      return std::nullopt;
    }
    return v.node ? v.node->Scalar() : v.text;
  }
  std::optional<std::int64_t> integer(const Raw& v, std::int64_t lo, std::int64_t hi, std::string_view rule) {
    const auto n = v.node ? detail::Reader::int_value(*v.node) : detail::parse_int64(v.text);
    if (!n || *n < lo || *n > hi) {
      fail(v.origin, fmt::format("{}, {}", rule, got(v)));
      return std::nullopt;
    }
    return n;
  }
  std::optional<std::chrono::milliseconds> millis(const Raw& v) {
    const auto n = integer(v, 1, kMaxSettingMillis, kMillisExpected);
    if (!n) return std::nullopt;
    return std::chrono::milliseconds(*n);
  }
  std::optional<bool> boolean(const Raw& v) {
    std::optional<bool> b;
    if (v.node)
      b = detail::Reader::bool_value(*v.node);
    else if (v.text == "true" || v.text == "false")
      b = v.text == "true";
    if (!b) fail(v.origin, fmt::format("cần true hoặc false, {}", got(v)));
    return b;
  }
  std::optional<double> number(const Raw& v, double lo, std::string_view rule) {
    std::optional<double> d;
    if (!v.node ||
        (v.node->IsScalar() && (v.node->Tag() == "?" || v.node->Tag() == "tag:yaml.org,2002:float" ||
                                v.node->Tag() == "tag:yaml.org,2002:int"))) {
      const std::string& s = v.node ? v.node->Scalar() : v.text;
      double x = 0;
      const auto r = std::from_chars(s.data(), s.data() + s.size(), x);
      if (!s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(x) && x >= lo)
        d = x;
    }
    if (!d) fail(v.origin, fmt::format("{}, {}", rule, got(v)));
    return d;
  }

  std::map<std::string, Origin> where;                // the origin of every value set, by field
  std::vector<std::pair<std::string, Origin>> chans;  // the channels with the origin of each
  ServerConfig& c;

 private:
  detail::Reader& r_;
  std::vector<std::string> env_problems_;
};

// ---- the fields ---------------------------------------------------------------------------------

using Setter = std::function<void(Ctx&, const Raw&)>;

struct Field {
  std::string section;  // "server", "notify.email", …
  std::string key;
  const char* env;  // the overriding environment variable, or nullptr
  Setter set;
};

template <typename Get>
Setter text_field(Get get) {
  return [get](Ctx& x, const Raw& v) {
    if (auto s = x.text(v)) get(x.c) = std::move(*s);
  };
}
template <typename Get>
Setter millis_field(Get get) {
  return [get](Ctx& x, const Raw& v) {
    if (auto ms = x.millis(v)) get(x.c) = *ms;
  };
}
template <typename Get>
Setter bool_field(Get get) {
  return [get](Ctx& x, const Raw& v) {
    if (auto b = x.boolean(v)) get(x.c) = *b;
  };
}

// ADDRESS:PORT, the port 0–65535.
bool parse_listen(std::string_view s, std::string& address, std::uint16_t& port) {
  const auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  const std::string_view digits = s.substr(colon + 1);
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return false;
  const auto n = detail::parse_int64(digits);
  if (!n || *n > 65535) return false;
  address = std::string(s.substr(0, colon));
  port = static_cast<std::uint16_t>(*n);
  return true;
}

void set_listen(Ctx& x, const Raw& v) {
  const auto s = x.text(v);
  if (s && !parse_listen(*s, x.c.address, x.c.port))
    x.fail(v.origin,
           fmt::format("cần dạng ĐỊA_CHỈ:CỔNG, cổng 0–65535 (0: một cổng trống bất kỳ), {}", got(v)));
}

// The channels: a YAML list, or a comma-separated environment variable.
void set_channels(Ctx& x, const Raw& v) {
  std::vector<std::pair<std::string, Origin>> items;
  if (v.node) {
    if (!v.node->IsSequence()) return x.fail(v.origin, fmt::format("cần một danh sách kênh, {}", got(v)));
    for (const auto& item : *v.node) {
      const Raw one{Origin{v.origin.field, x.reader().at(item, *v.origin.loc), {}}, &item, {}};
      if (auto s = x.text(one)) items.emplace_back(*s, one.origin);
    }
    if (items.size() != v.node->size()) return;
  } else {
    std::string_view rest = v.text;
    while (true) {
      const auto comma = rest.find(',');
      std::string_view name = rest.substr(0, comma);
      while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
      while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
      items.emplace_back(std::string(name), v.origin);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (items.empty()) return x.fail(v.origin, "cần ít nhất một kênh (file, email, webhook)");
  std::vector<std::pair<std::string, Origin>> kept;
  for (auto& [name, origin] : items) {
    if (std::find(std::begin(kChannels), std::end(kChannels), name) == std::end(kChannels)) {
      x.fail(origin, fmt::format("kênh '{}' không có (các kênh: file, email, webhook)", name));
    } else if (std::any_of(kept.begin(), kept.end(), [&](const auto& k) { return k.first == name; })) {
      x.fail(origin, fmt::format("kênh '{}' lặp lại: mỗi kênh chỉ được ghi một lần", name));
    } else {
      kept.emplace_back(name, origin);
    }
  }
  if (kept.size() != items.size()) return;
  x.c.channels.clear();
  for (const auto& k : kept) x.c.channels.push_back(k.first);
  x.chans = std::move(kept);
}

// The NAME of an environment variable; its value is never echoed, in case a secret was written there.
template <typename Get>
Setter env_name_field(Get get) {
  return [get](Ctx& x, const Raw& v) {
    const std::string s = v.node && v.node->IsScalar() ? v.node->Scalar() : std::string();
    const bool ok = v.node && v.node->IsScalar() &&
                    (s.empty() || ((std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_') &&
                                   std::all_of(s.begin(), s.end(), [](char ch) {
                                     return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
                                   })));
    if (!ok)
      return x.fail(
          v.origin,
          "cần TÊN của một biến môi trường (chữ cái, chữ số, '_', không bắt đầu bằng chữ số), không "
          "phải giá trị bí mật");
    get(x.c) = s;
  };
}

const std::vector<Field>& fields() {
  static const std::vector<Field> all = {
      {"server", "listen", "HOSO_LISTEN", set_listen},
      {"server", "database", "HOSO_DB",
       text_field([](ServerConfig& c) -> std::string& { return c.database; })},
      {"server", "read_timeout_ms", nullptr,
       millis_field([](ServerConfig& c) -> std::chrono::milliseconds& { return c.read_timeout; })},
      {"server", "idle_timeout_ms", nullptr,
       millis_field([](ServerConfig& c) -> std::chrono::milliseconds& { return c.idle_timeout; })},
      {"server", "max_body_bytes", nullptr,
       [](Ctx& x, const Raw& v) {
         if (auto n = x.integer(v, 1, kMaxInt64, "cần số byte lớn hơn 0"))
           x.c.max_body = static_cast<std::size_t>(*n);
       }},
      {"server", "max_connections", "HOSO_MAX_CONNECTIONS",
       [](Ctx& x, const Raw& v) {
         if (auto n = x.integer(v, 1, 1'000'000, "cần số kết nối từ 1 đến 1000000"))
           x.c.max_connections = static_cast<std::size_t>(*n);
       }},
      {"notify", "channels", "HOSO_NOTIFY_CHANNELS", set_channels},
      {"notify.retry", "max_attempts", "HOSO_NOTIFY_MAX_ATTEMPTS",
       [](Ctx& x, const Raw& v) {
         if (auto n = x.integer(v, 1, std::numeric_limits<int>::max(), "cần số nguyên từ 1 trở lên"))
           x.c.retry.max_attempts = static_cast<int>(*n);
       }},
      {"notify.retry", "initial_backoff_ms", nullptr,
       millis_field([](ServerConfig& c) -> std::chrono::milliseconds& { return c.retry.initial_backoff; })},
      {"notify.retry", "max_backoff_ms", nullptr,
       millis_field([](ServerConfig& c) -> std::chrono::milliseconds& { return c.retry.max_backoff; })},
      {"notify.retry", "multiplier", nullptr,
       [](Ctx& x, const Raw& v) {
         if (auto d = x.number(v, 1.0, "cần một số từ 1 trở lên")) x.c.retry.multiplier = *d;
       }},
      {"notify.file", "path", "HOSO_NOTIFY_FILE",
       text_field([](ServerConfig& c) -> std::string& { return c.file_path; })},
      {"notify.email", "host", "HOSO_SMTP_HOST",
       [](Ctx& x, const Raw& v) {
         auto s = x.text(v);
         if (s && s->empty())
           return x.fail(v.origin, "cần tên máy hoặc địa chỉ của máy chủ SMTP, không được trống");
         if (s) x.c.smtp.host = std::move(*s);
       }},
      {"notify.email", "port", "HOSO_SMTP_PORT",
       [](Ctx& x, const Raw& v) {
         if (auto n = x.integer(v, 1, 65535, "cần số cổng 1–65535"))
           x.c.smtp.port = static_cast<std::uint16_t>(*n);
       }},
      {"notify.email", "helo", nullptr,
       text_field([](ServerConfig& c) -> std::string& { return c.smtp.helo_name; })},
      {"notify.email", "from", "HOSO_SMTP_FROM",
       text_field([](ServerConfig& c) -> std::string& { return c.smtp.from; })},
      {"notify.email", "from_name", nullptr,
       text_field([](ServerConfig& c) -> std::string& { return c.smtp.from_name; })},
      {"notify.email", "starttls", "HOSO_SMTP_STARTTLS",
       bool_field([](ServerConfig& c) -> bool& { return c.smtp.starttls; })},
      {"notify.email", "require_tls", nullptr,
       bool_field([](ServerConfig& c) -> bool& { return c.smtp.require_tls; })},
      {"notify.email", "verify_peer", nullptr,
       bool_field([](ServerConfig& c) -> bool& { return c.smtp.verify_peer; })},
      {"notify.email", "ca_file", nullptr,
       text_field([](ServerConfig& c) -> std::string& { return c.smtp.ca_file; })},
      {"notify.email", "username", "HOSO_SMTP_USERNAME",
       text_field([](ServerConfig& c) -> std::string& { return c.smtp.username; })},
      {"notify.email", "password_env", nullptr,
       env_name_field([](ServerConfig& c) -> std::string& { return c.password_env; })},
      {"notify.email", "timeout_ms", nullptr,
       millis_field([](ServerConfig& c) -> std::chrono::milliseconds& { return c.smtp.timeout; })},
      {"notify.webhook", "url", "HOSO_WEBHOOK_URL",
       text_field([](ServerConfig& c) -> std::string& { return c.webhook.url; })},
      {"notify.webhook", "secret_env", nullptr,
       env_name_field([](ServerConfig& c) -> std::string& { return c.secret_env; })},
      {"notify.webhook", "timeout_ms", nullptr,
       millis_field([](ServerConfig& c) -> std::chrono::milliseconds& { return c.webhook.timeout; })},
      {"notify.webhook", "verify_peer", nullptr,
       bool_field([](ServerConfig& c) -> bool& { return c.webhook.verify_peer; })},
      {"notify.webhook", "ca_file", nullptr,
       text_field([](ServerConfig& c) -> std::string& { return c.webhook.ca_file; })},
  };
  return all;
}

// The sections inside each section (the root is ""): a section's keys are its fields and these.
const std::vector<std::pair<std::string, std::string>> kSections = {
    {"", "server"},     {"", "notify"},      {"notify", "retry"},
    {"notify", "file"}, {"notify", "email"}, {"notify", "webhook"},
};
// Keys that would hold a secret, refused with the key to use instead.
const std::vector<std::pair<std::string, std::string>> kSecretKeys = {
    {"notify.email.password", "password_env"},
    {"notify.webhook.secret", "secret_env"},
};

std::string join(const std::string& section, const std::string& key) {
  return section.empty() ? key : section + "." + key;
}

void read_section(Ctx& x, const YAML::Node& map, const std::string& path, const SourceLoc& loc) {
  detail::Reader& r = x.reader();
  if (!map.IsMap()) {
    const Raw v{Origin{path, loc, {}}, &map, {}};
    return x.fail(v.origin, fmt::format("cần một bảng (các khóa: giá trị), {}", got(v)));
  }
  std::vector<std::string> allowed;
  for (const auto& f : fields())
    if (f.section == path) allowed.push_back(f.key);
  for (const auto& [parent, name] : kSections)
    if (parent == path) allowed.push_back(name);
  const auto view = r.entries(map, path.empty() ? "the file" : fmt::format("'{}'", path));
  for (const auto& e : view.entries) {
    const std::string field = join(path, e.name);
    const auto secret =
        std::find_if(kSecretKeys.begin(), kSecretKeys.end(), [&](const auto& s) { return s.first == field; });
    if (secret != kSecretKeys.end()) {
      x.fail(Origin{field, r.at(e.key), {}},
             fmt::format(
                 "không ghi bí mật vào tệp cấu hình: đặt nó trong một biến môi trường và ghi TÊN biến đó ở "
                 "khóa '{}'",
                 join(path, secret->second)));
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), e.name) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "'" : ", '") + a + "'";
      x.fail(Origin{field, r.at(e.key), {}}, fmt::format("khóa không được biết (các khóa được phép{}: {})",
                                                         path.empty() ? " ở gốc tệp" : "", list));
      continue;
    }
    const auto f = std::find_if(fields().begin(), fields().end(),
                                [&](const Field& g) { return g.section == path && g.key == e.name; });
    if (f == fields().end()) {
      read_section(x, e.value, field, r.at(e));
      continue;
    }
    const Raw v{Origin{field, r.at(e), {}}, &e.value, {}};
    x.set(v);
    f->set(x, v);
  }
}

void apply_env(Ctx& x, const Env& env) {
  for (const auto& f : fields()) {
    if (!f.env) continue;
    auto value = env(f.env);
    if (!value || value->empty()) continue;
    const Raw v{Origin{join(f.section, f.key), std::nullopt, f.env}, nullptr, std::move(*value)};
    x.set(v);
    f.set(x, v);
  }
  auto secret = [&](const std::string& name) {
    auto value = name.empty() ? std::nullopt : env(name);
    return value ? std::move(*value) : std::string();
  };
  x.c.smtp.password = secret(x.c.password_env);
  x.c.webhook.secret = secret(x.c.secret_env);
}

// Checks between fields, after the overrides. Each problem is located where the value was set, else where
// the channel that needs it was enabled.
void validate(Ctx& x) {
  ServerConfig& c = x.c;
  if (c.retry.initial_backoff > c.retry.max_backoff) {
    const Origin initial = x.origin("notify.retry.initial_backoff_ms");
    x.fail(initial.loc ? initial : x.origin("notify.retry.max_backoff_ms"),
           fmt::format(
               "notify.retry.initial_backoff_ms không được lớn hơn notify.retry.max_backoff_ms ({} > {})",
               c.retry.initial_backoff.count(), c.retry.max_backoff.count()));
  }
  auto channel = [&](const char* name) -> const Origin* {
    for (const auto& [n, o] : x.chans)
      if (n == name) return &o;
    return nullptr;
  };
  const Origin from = x.origin("notify.email.from");
  if (!c.smtp.from.empty() && c.smtp.from.find('@') == std::string::npos)
    x.fail(from, fmt::format("cần một địa chỉ email có '@', nhận được '{}'", c.smtp.from));
  else if (const Origin* email = channel("email"); email && c.smtp.from.empty())
    x.fail(from.loc || !from.env.empty() ? from : *email,
           "kênh email cần địa chỉ người gửi notify.email.from (hoặc HOSO_SMTP_FROM) có '@', nhận được ''");
  if (!c.smtp.username.empty() && c.smtp.password.empty())
    x.fail(x.origin("notify.email.username"),
           c.password_env.empty()
               ? std::string("có tên đăng nhập nhưng không có mật khẩu: notify.email.password_env trống")
               : fmt::format(
                     "có tên đăng nhập nhưng biến môi trường {} (notify.email.password_env) chưa đặt hoặc "
                     "trống",
                     c.password_env));
  // AUTH sends the password (base64, not encrypted): over the network only inside TLS. A relay on this
  // machine (loopback) may take it without.
  // (An address, not a name that starts like one: "127.0.0.1.mail.example" is not this machine.)
  boost::system::error_code not_ip;
  const auto ip = boost::asio::ip::make_address(c.smtp.host, not_ip);
  const bool loopback = c.smtp.host == "localhost" || (!not_ip && ip.is_loopback());
  if (!c.smtp.username.empty() && !c.smtp.starttls && !c.smtp.require_tls && !loopback)
    x.fail(x.origin("notify.email.username"),
           fmt::format("có tên đăng nhập nhưng không dùng TLS với máy chủ SMTP {}: mật khẩu sẽ đi qua mạng "
                       "không mã hóa; hãy đặt notify.email.starttls: true (hoặc require_tls), hoặc dùng một "
                       "máy chủ chuyển tiếp trên chính máy này (127.0.0.1)",
                       c.smtp.host));
  const Origin url = x.origin("notify.webhook.url");
  const bool http = (c.webhook.url.rfind("http://", 0) == 0 && c.webhook.url.size() > 7) ||
                    (c.webhook.url.rfind("https://", 0) == 0 && c.webhook.url.size() > 8);
  if (!c.webhook.url.empty() && !http)
    x.fail(url, fmt::format("cần một URL http:// hoặc https://MÁY[:CỔNG][/ĐƯỜNG_DẪN], nhận được '{}'",
                            redacted_url(c.webhook.url, c.webhook.secret)));
  if (const Origin* webhook = channel("webhook")) {
    if (c.webhook.url.empty())
      x.fail(*webhook,
             "kênh webhook cần notify.webhook.url (hoặc HOSO_WEBHOOK_URL) là một URL http:// hoặc https://");
    if (c.webhook.secret.empty())
      x.fail(*webhook,
             c.secret_env.empty()
                 ? std::string("kênh webhook cần khóa ký HMAC: notify.webhook.secret_env trống")
                 : fmt::format(
                       "kênh webhook cần khóa ký HMAC trong biến môi trường {} (notify.webhook.secret_env), "
                       "biến này chưa đặt hoặc trống",
                       c.secret_env));
  }
}

Error config_error(std::vector<Diagnostic> diags, std::vector<std::string> env_problems) {
  std::string message;
  for (const auto& d : diags) message += (message.empty() ? "" : "\n") + d.format();
  for (const auto& p : env_problems) message += (message.empty() ? "" : "\n") + p;
  return Error{ErrorCode::kInvalidDefinition, std::move(message), "server_config", {}};
}

// The file (empty `text` and `file`: none), the environment, then the checks between fields.
Result<ServerConfig> build(std::optional<std::string_view> text, const std::string& file, const Env& env) {
  ServerConfig config;
  detail::Reader r(text.value_or(std::string_view()), file);
  Ctx x(r, config);
  auto diags = detail::guarded(r, [&] {
    if (text) {
      if (const auto root = r.load("a map with the keys 'server' and 'notify'"))
        read_section(x, *root, "", r.at(*root));
    }
    const bool file_ok = !r.failed();
    apply_env(x, env);
    if (file_ok && x.chans.empty())
      for (const auto& name : config.channels)
        x.chans.emplace_back(name, Origin{"notify.channels", std::nullopt, {}});
    if (file_ok) validate(x);
  });
  auto env_problems = x.take_env_problems();
  if (!diags.empty() || !env_problems.empty()) return config_error(std::move(diags), std::move(env_problems));
  return config;
}

}  // namespace

Env process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
}

Result<ServerConfig> parse_server_config(std::string_view text, const std::string& file, const Env& env) {
  return build(text, file, env);
}

Result<ServerConfig> load_server_config(const std::optional<std::string>& path, const Env& env) {
  if (!path) return build(std::nullopt, "", env);
  auto text = read_text_file(*path);
  if (!text) return text.error();
  return build(*text, *path, env);
}

std::string describe(const ServerConfig& c) {
  auto set = [](const std::string& s) { return s.empty() ? "(not set)" : "(set)"; };
  auto on = [](bool b) { return b ? "on" : "off"; };
  std::string channels;
  for (const auto& ch : c.channels) channels += (channels.empty() ? "" : ",") + ch;
  std::string line = fmt::format(
      "config: listen {}:{}, database {}, read timeout {} ms, idle timeout {} ms, max body {} bytes, max "
      "connections {}; channels {}; "
      "retry up to {} attempts, backoff {} ms x{} up to {} ms",
      c.address, c.port, c.database.empty() ? "(not set)" : c.database, c.read_timeout.count(),
      c.idle_timeout.count(), c.max_body, c.max_connections, channels.empty() ? "(none)" : channels,
      c.retry.max_attempts, c.retry.initial_backoff.count(), c.retry.multiplier, c.retry.max_backoff.count());
  const auto has = [&](const char* name) {
    return std::find(c.channels.begin(), c.channels.end(), name) != c.channels.end();
  };
  if (has("file"))
    line += fmt::format("; file {}",
                        c.file_path.empty() ? "(default: <database>.notifications.jsonl)" : c.file_path);
  if (has("email"))
    line += fmt::format(
        "; email smtp {}:{} helo {} from {}, starttls {}, require_tls {}, verify_peer {}, ca_file {}, "
        "username {}, "
        "password {} {}, timeout {} ms",
        c.smtp.host, c.smtp.port, c.smtp.helo_name, c.smtp.from, on(c.smtp.starttls), on(c.smtp.require_tls),
        on(c.smtp.verify_peer), c.smtp.ca_file.empty() ? "(system)" : c.smtp.ca_file,
        c.smtp.username.empty() ? "(none)" : c.smtp.username, c.password_env.empty() ? "-" : c.password_env,
        set(c.smtp.password), c.smtp.timeout.count());
  if (has("webhook"))
    line += fmt::format(
        "; webhook {} secret {} {}, timeout {} ms", redacted_url(c.webhook.url, c.webhook.secret),
        c.secret_env.empty() ? "-" : c.secret_env, set(c.webhook.secret), c.webhook.timeout.count());
  if (has("webhook") && c.webhook.url.rfind("https://", 0) == 0)
    line += fmt::format(", verify_peer {}, ca_file {}", on(c.webhook.verify_peer),
                        c.webhook.ca_file.empty() ? "(system)" : c.webhook.ca_file);
  return line;
}

}  // namespace hoso::yaml
