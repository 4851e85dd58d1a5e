#include "adapters/http/api.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <utility>

#include "adapters/http/auth.hpp"
#include "adapters/views/json_views.hpp"
#include "engine/core.hpp"
#include "engine/hash_chain.hpp"
#include "engine/report_service.hpp"
#include "engine/value.hpp"

namespace hoso::http {

namespace json = boost::json;

int status_of(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidInput:
      return 400;
    case ErrorCode::kNotFound:
      return e.reason == "method_not_allowed" ? 405 : 404;
    case ErrorCode::kNotPermitted:
      return e.reason == "no_token" || e.reason == "unknown_token" || e.reason == "revoked_token" ||
                     e.reason == "expired_token" || e.reason == "inactive_user"
                 ? 401
                 : 403;
    case ErrorCode::kRefused:
      return 422;
    case ErrorCode::kVersionConflict:
      return 409;
    case ErrorCode::kInvalidDefinition:
    case ErrorCode::kVerifyFailed:
      return 500;
    case ErrorCode::kInternal:
      if (e.reason == "config_unreadable")
        return 503;  // what hoso init stored does not load: ask again after
      if (e.reason == "log_not_durable") return 503;    // a flush failed: the server stops; ask again after
      if (e.reason == "too_many_connections") return 503;  // at the connection limit: ask again soon
      // No room to write (a full disk): 507 Insufficient Storage tells the client to try again later.
      return e.reason == "storage_full" ? 507 : 500;
  }
  return 500;
}

namespace {

// An answer of `status` whose body is JSON text (with Response's content type, application/json).
Response json_text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response json_response(int status, const json::value& v) { return json_text(status, json::serialize(v)); }

// `s` as well-formed UTF-8: a message may quote what the client sent, which need not be text.
std::string as_text(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    std::size_t n = 1;
    while (n <= 4 && i + n <= s.size() && !is_valid_utf8(s.substr(i, n))) ++n;
    if (n <= 4 && i + n <= s.size()) {
      out.append(s.substr(i, n));
      i += n - 1;
    } else {
      out += '?';
    }
  }
  return out;
}

Response error_reply(const Error& e) {
  json::object o{{"code", error_code_name(e.code)}, {"message", as_text(e.message)}};
  if (!e.reason.empty()) o["reason"] = as_text(e.reason);
  if (!e.subject.empty()) o["subject"] = as_text(e.subject);
  return json_response(status_of(e), json::object{{"error", std::move(o)}});
}

Error bad_request(const std::string& reason, const std::string& message) {
  Error e = make_error(ErrorCode::kInvalidInput, message);
  e.reason = reason;
  return e;
}

// %XX and '+' decoded; nullopt when malformed.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      unsigned v = 0;
      if (i + 2 >= s.size()) return std::nullopt;
      const auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec != std::errc() || p != s.data() + i + 3) return std::nullopt;
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Target {
  std::vector<std::string> path;  // segments, decoded
  std::map<std::string, std::string> query;
};

Result<Target> parse_target(std::string_view target) {
  Target t;
  const auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (path.empty() || path.front() != '/') return bad_request("bad_target", "Đường dẫn không hợp lệ");
  for (std::size_t at = 1; at <= path.size();) {
    auto slash = path.find('/', at);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > at) {
      auto seg = percent_decode(path.substr(at, slash - at));
      if (!seg) return bad_request("bad_target", "Đường dẫn không hợp lệ");
      t.path.push_back(*seg);
    }
    at = slash + 1;
  }
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const auto eq = pair.find('=');
      auto k = percent_decode(pair.substr(0, eq));
      auto v = percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
      if (!k || !v) return bad_request("bad_query", "Tham số truy vấn không hợp lệ");
      t.query[*k] = *v;
    }
  }
  return t;
}

Result<std::int64_t> to_int(const std::string& s, const char* what, std::int64_t lo, std::int64_t hi) {
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi)
    return bad_request("bad_number", fmt::format("{} '{}' không hợp lệ", what, s));
  return v;
}

// Where a command's request body is parsed: a stack buffer, not the heap, since the tree lives only while the
// command reads it (a larger body spills over to the heap). Declared before the object it holds.
struct BodyArena {
  unsigned char buffer[16384];
  json::monotonic_resource resource{buffer, sizeof buffer};
  std::optional<json::value> parsed;  // the body, when the API parses it itself
};

Result<std::string> text_of(const json::object& o, std::string_view key, bool required) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) {
    if (required) return bad_request("missing_key", fmt::format("Thiếu '{}'", key));
    return std::string();
  }
  if (!v->is_string()) return bad_request("wrong_type", fmt::format("'{}' phải là chuỗi", key));
  return std::string(v->as_string());
}

// An on_behalf_of given but empty (as the CLI refuses an empty --on-behalf-of).
Error empty_behalf() {
  Error e = bad_request("empty_value", "'on_behalf_of' không được để trống: cần mã người dùng đã ủy quyền");
  e.subject = "on_behalf_of";
  return e;
}

// fields, documents, note, ballot, expected_version and on_behalf_of of a command body.
Result<RawInput> raw_input(const json::object& o) {
  RawInput in;
  if (const auto* f = o.if_contains("fields")) {
    if (!f->is_object()) return bad_request("wrong_type", "'fields' phải là một đối tượng");
    for (const auto& [k, v] : f->as_object()) {
      std::string text;
      if (v.is_string())
        text = std::string(v.as_string());
      else if (v.is_int64())
        text = std::to_string(v.as_int64());
      else if (v.is_bool())
        text = v.as_bool() ? "true" : "false";
      else
        return bad_request("wrong_type",
                           fmt::format("Trường '{}' phải là chuỗi, số nguyên hoặc true/false", std::string_view(k)));
      in.fields.emplace_back(std::string(k), std::move(text));
    }
  }
  if (const auto* d = o.if_contains("documents")) {
    if (!d->is_array()) return bad_request("wrong_type", "'documents' phải là một mảng");
    for (const auto& item : d->as_array()) {
      const auto* doc = item.if_object();
      const auto* kind = doc ? doc->if_contains("kind") : nullptr;
      const auto* name = doc ? doc->if_contains("filename") : nullptr;
      const auto* sha = doc ? doc->if_contains("sha256") : nullptr;
      const auto* size = doc ? doc->if_contains("size") : nullptr;
      if (!kind || !name || !sha || !size || !kind->is_string() || !name->is_string() || !sha->is_string() ||
          !size->is_int64() || size->as_int64() < 0 || !is_digest_hex(std::string_view(sha->as_string())))
        return bad_request("wrong_type",
                           "Mỗi tài liệu cần kind, filename (chuỗi), sha256 (64 ký tự hex) và size (số nguyên không âm)");
      in.documents.push_back(RawDocument{std::string(kind->as_string()), std::string(name->as_string()),
                                         std::string(sha->as_string()), size->as_int64()});
    }
  }
  auto note = text_of(o, "note", false);
  if (!note) return note.error();
  in.note = std::move(*note);
  if (in.note.size() > kMaxNoteBytes)
    return bad_request("note_too_long", fmt::format("Ghi chú vượt quá {} byte", kMaxNoteBytes));
  auto ballot = text_of(o, "ballot", false);
  if (!ballot) return ballot.error();
  in.ballot = std::move(*ballot);
  if (const auto* v = o.if_contains("expected_version")) {
    if (!v->is_int64() || v->as_int64() < 0)
      return bad_request("wrong_type", "'expected_version' phải là số nguyên không âm");
    in.expected_version = v->as_int64();
  }
  // The token names who clicks; on_behalf_of, whom they stand in for (a delegation in config/users.yaml).
  auto behalf = text_of(o, "on_behalf_of", false);
  if (!behalf) return behalf.error();
  if (o.contains("on_behalf_of") && behalf->empty()) return empty_behalf();
  in.on_behalf_of = std::move(*behalf);
  return in;
}

// The keys a create's and an action's body may have.
constexpr std::string_view kCreateKeys[] = {"workflow",  "award", "fields",
                                            "documents", "note",  "on_behalf_of"};
constexpr std::string_view kActKeys[] = {"fields", "documents",        "note",
                                         "ballot", "expected_version", "on_behalf_of"};

// A create's (`create`) or an action's body, parsed into `v` (null: the body is empty, as `{}`) or failed
// with `ec`: only the route's keys, then a create's workflow and award, then the input (raw_input).
Result<CommandBody> map_command_body(const json::value* v, const boost::system::error_code& ec, bool create) {
  static const json::object kNone;
  const json::object* o = &kNone;
  if (v != nullptr) {
    if (ec)
      return bad_request("malformed_json", fmt::format("Nội dung không phải JSON hợp lệ: {}", ec.message()));
    if (!v->is_object()) return bad_request("malformed_json", "Nội dung phải là một đối tượng JSON");
    const auto keys =
        create ? std::span<const std::string_view>(kCreateKeys) : std::span<const std::string_view>(kActKeys);
    for (const auto& [k, _] : v->as_object())
      if (std::find(keys.begin(), keys.end(), std::string_view(k)) == keys.end())
        return bad_request("unknown_key", fmt::format("Khóa '{}' không được hỗ trợ", std::string_view(k)));
    o = &v->as_object();
  }
  CommandBody body;
  if (create) {
    auto workflow = text_of(*o, "workflow", true);
    if (!workflow) return workflow.error();
    auto award = text_of(*o, "award", true);
    if (!award) return award.error();
    body.workflow = std::move(*workflow);
    body.award = std::move(*award);
  }
  auto in = raw_input(*o);
  if (!in) return in.error();
  body.input = std::move(*in);
  return body;
}

// Whether `target` is a create's path (POST /dossiers) or an action's (/dossiers/{id}/actions/{action}), or
// neither.
std::optional<bool> command_route(std::string_view target) {
  auto t = parse_target(target);
  if (!t) return std::nullopt;
  const auto& p = t->path;
  if (p.size() == 1 && p[0] == "dossiers") return true;
  if (p.size() == 4 && p[0] == "dossiers" && p[2] == "actions") return false;
  return std::nullopt;
}

// The request's command body (a create's when `create`): as the loop mapped it (Request::parsed, taken once),
// else mapped now from the tree parsed ahead, else from the body parsed now into `arena`.
Result<CommandBody> command_body(const Request& req, bool create, BodyArena& arena) {
  if (req.body.empty()) return map_command_body(nullptr, {}, create);
  if (req.parsed) {
    if (auto ahead = std::exchange(req.parsed->command, std::nullopt)) return std::move(*ahead);
    return map_command_body(&req.parsed->value, req.parsed->error, create);
  }
  boost::system::error_code ec;
  const json::value& v = arena.parsed.emplace(json::parse(req.body, ec, &arena.resource));
  return map_command_body(&v, ec, create);
}

// A refusal the server logs: no permission, or a delegation refused (the user named to act for is unknown or
// the caller themself).
bool is_denial(const Error& e) { return e.code == ErrorCode::kNotPermitted || e.subject == "on_behalf_of"; }

// A command's answer: the dossier's id, version and state and the events the command appended. Written
// straight to text (the bytes serializing the same JSON document gives): the payloads are the codec's JSON.
std::string outcome_text(const Outcome& o) {
  std::string s;
  s.reserve(128 + 1536 * o.events.size());  // an event's JSON is about a kilobyte
  JsonOut out(s);
  out.begin_object().member("id", o.id).member("version", o.version).member("state", o.state).key("events");
  out.begin_array();
  for (const auto& e : o.events) views::write_event_json(out, e);
  out.end_array().end_object();
  return s;
}

class Handler {
 public:
  Handler(App& app, const Request& req, bool defer_rendering)
      : app_(app), req_(req), defer_rendering_(defer_rendering) {}

  Response run() {
    auto target = parse_target(req_.target);
    if (!target) return error_reply(target.error());
    t_ = std::move(*target);
    const auto& p = t_.path;
    // HEAD is answered as GET (the server sends the head only).
    const std::string m = req_.method == "HEAD" ? "GET" : req_.method;
    if (p.size() == 1 && (p[0] == "health" || p[0] == "openapi.json")) {
      if (m != "GET") return wrong_method_reply(kReadOnly);
      return p[0] == "health" ? health() : json_text(200, openapi_json());
    }
    // People, permissions, calendar and workflows as `hoso init` stored them last, read again when they moved
    // (a user made inactive, moved or given other roles is judged by what they are now).
    std::string failure;  // for the log: what in the stored config fails, not for the client
    auto refreshed = app_.refresh(&failure);
    if (!refreshed) {
      Error e = refreshed.error();
      if (e.reason == "config_unreadable")
        e = Error{ErrorCode::kInternal,
                  "Cấu hình mà hoso init đã lưu không đọc được; hãy báo quản trị viên (chi tiết trong nhật "
                  "ký máy chủ)",
                  "config_unreadable", ""};
      Response r = error_reply(e);
      r.note = std::move(failure);
      return r;
    }
    auto user = authenticate(*app_.store, app_.directory, req_.authorization, *app_.clock, &token_user_);
    if (!user) return noted(denied(user.error()), *refreshed);
    user_ = *user;
    return noted(answer(p, m), *refreshed);
  }

 private:
  static constexpr const char* kReadOnly = "GET, HEAD";

  // For the server's log, when this request read the config again.
  Response noted(Response r, bool refreshed) const {
    if (refreshed) r.note = app_.config_read_line();
    return r;
  }

  // The answer to an authenticated request for path `p` with method `m`.
  Response answer(const std::vector<std::string>& p, const std::string& m) {
    Result<json::value> out = route(p, m);
    if (!out && out.error().reason == "method_not_allowed") return wrong_method_reply(allow_);
    if (!out) return is_denial(out.error()) ? denied(out.error()) : error_reply(out.error());
    if (outcome_) {
      Response r = json_text(created_ ? 201 : 200, "");
      if (defer_rendering_)
        r.render = [o = std::make_shared<const Outcome>(std::move(*outcome_))] { return outcome_text(*o); };
      else
        r.body = outcome_text(*outcome_);
      return r;
    }
    return json_response(created_ ? 201 : 200, *out);
  }

  // Refuses a query parameter the route does not take: 400 unknown_key, naming it.
  Status only_query(std::initializer_list<std::string_view> keys) const {
    for (const auto& [k, v] : t_.query)
      if (std::find(keys.begin(), keys.end(), k) == keys.end())
        return bad_request("unknown_key", fmt::format("Tham số '{}' không được hỗ trợ", as_text(k)));
    return Status::Ok();
  }

  // A path that exists, asked with a method it does not take: 405 naming the ones it does (Allow).
  Response wrong_method_reply(const char* allow) {
    Error e = make_error(ErrorCode::kNotFound,
                         fmt::format("Đường dẫn {} không nhận phương thức {} (chỉ nhận {})", as_text(req_.target),
                                     as_text(req_.method), allow));
    e.reason = "method_not_allowed";
    Response r = error_reply(e);
    r.allow = allow;
    return r;
  }

  Result<json::value> route(const std::vector<std::string>& p, const std::string& m) {
    auto no_route = [&]() -> Result<json::value> {
      Error e = make_error(ErrorCode::kNotFound, fmt::format("Không có đường dẫn {} {}", req_.method, req_.target));
      e.reason = "no_route";
      return e;
    };
    // The path exists; `allow` are the methods it takes.
    auto wrong_method = [&](const char* allow) -> Result<json::value> {
      allow_ = allow;
      Error e = make_error(ErrorCode::kNotFound, "method_not_allowed");
      e.reason = "method_not_allowed";
      return e;
    };
    auto read = [&](auto&& answer) -> Result<json::value> { return m == "GET" ? answer() : wrong_method(kReadOnly); };
    if (p.size() == 1 && p[0] == "dossiers") {
      if (m == "POST") return create();
      if (m == "GET") return list();
      return wrong_method("GET, HEAD, POST");
    }
    if (p.size() == 1 && p[0] == "inbox") return read([&] { return inbox(); });
    if (p.size() >= 2 && p[0] == "dossiers") {
      auto id = to_int(p[1], "Số hồ sơ", 1, std::numeric_limits<std::int64_t>::max());
      if (!id) return id.error();
      if (p.size() == 2) return read([&] { return show(*id); });
      if (p.size() == 3 && p[2] == "history") return read([&] { return history(*id); });
      if (p.size() == 3 && p[2] == "replay") return read([&] { return replay(*id); });
      if (p.size() == 4 && p[2] == "actions") return m == "POST" ? act(*id, p[3]) : wrong_method("POST");
      return no_route();
    }
    if (p.size() == 2 && p[0] == "calendar" && (p[1] == "add" || p[1] == "between"))
      return read([&] { return calendar(p[1]); });
    if (p.size() == 2 && p[0] == "reports" && p[1] == "status") return read([&] { return reports(); });
    return no_route();
  }

  Response health() {
    auto head = app_.store->dispatch_cursor();
    return json_response(head ? 200 : 503, json::object{{"status", head ? "ok" : "unavailable"}});
  }

  Response denied(const Error& e) {
    Response r = error_reply(e);
    const std::string behalf = claimed_behalf();
    r.denied = fmt::format("denied {} {} user={}{} reason={}", as_text(req_.method), as_text(req_.target),
                           user_.valid()          ? app_.directory.user(user_).key
                           : !token_user_.empty() ? token_user_  // a revoked token's, or a user's gone
                                                  : "-",
                           behalf.empty() ? "" : " on_behalf_of=" + behalf,
                           e.reason.empty() ? error_code_name(e.code) : e.reason);
    return r;
  }

  // Whom the request says the user acts for ("" when nobody): GET /inbox's query, a command's body. What the
  // client sent, not a key the directory vouches for, so as one word: at most 128 bytes, each space or
  // control character a '?', never a second log line.
  std::string claimed_behalf() const {
    std::string key;
    if (req_.method == "GET") {
      if (auto q = t_.query.find("on_behalf_of"); q != t_.query.end()) key = q->second;
    } else {
      key = views::on_behalf_of_in(req_.body);
    }
    key = as_text(std::string_view(key).substr(0, 128));
    std::replace_if(
        key.begin(), key.end(), [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == '\x7f'; },
        '?');
    return key;
  }

  const std::string& user_key() const { return app_.directory.user(user_).key; }

  // An auditor reads; they never write, whatever a workflow says: not with their token, and not through a
  // delegate standing in for them (`on_behalf_of`, checked with the delegator's roles).
  Status may_write(const std::string& on_behalf_of = "") const {
    const auto delegator = app_.directory.find_user(on_behalf_of);
    for (UserId u : {user_, delegator.value_or(UserId{})}) {
      if (!u.valid() || !app_.directory.user(u).has_role(Role::kAuditor)) continue;
      Error e = make_error(ErrorCode::kNotPermitted,
                           fmt::format("'{}' là thanh tra: chỉ được xem, không được thao tác trên hồ sơ",
                                       app_.directory.user(u).key));
      e.reason = "auditor_read_only";
      return e;
    }
    return Status::Ok();
  }

  // A create's (`create`) or an action's body (command_body), refused when the user it is done for may not
  // write.
  Result<CommandBody> write_body(bool create) const {
    BodyArena arena;
    auto body = command_body(req_, create, arena);
    if (!body) return body.error();
    if (auto w = may_write(body->input.on_behalf_of); !w) return w.error();
    return body;
  }

  Result<json::value> create() {
    if (auto k = only_query({}); !k) return k.error();
    if (auto w = may_write(); !w) return w.error();
    auto body = write_body(true);
    if (!body) return body.error();
    auto out = app_.service->create(body->workflow, body->award, user_key(), body->input);
    if (!out) return out.error();
    created_ = true;
    answer(std::move(*out));
    return json::value();
  }

  Result<json::value> act(DossierId id, const std::string& action) {
    if (auto k = only_query({}); !k) return k.error();
    if (auto w = may_write(); !w) return w.error();
    auto body = write_body(false);
    if (!body) return body.error();
    auto out = app_.service->act(id, action, user_key(), body->input);
    if (!out) return out.error();
    answer(std::move(*out));
    return json::value();
  }

  Result<json::value> show(DossierId id) {
    if (auto k = only_query({}); !k) return k.error();
    auto v = app_.service->show(id, user_key());
    if (!v) return v.error();
    return json::value(views::dossier_json(app_, *v, user_));
  }

  Result<json::value> history(DossierId id) {
    if (auto k = only_query({}); !k) return k.error();
    auto events = app_.service->history(id, user_key());
    if (!events) return events.error();
    json::array out;
    for (const auto& e : *events) out.push_back(views::event_json(e));
    return json::value(std::move(out));
  }

  Result<json::value> replay(DossierId id) {
    if (auto k = only_query({}); !k) return k.error();
    if (auto v = app_.service->show(id, user_key()); !v) return v.error();  // read permission
    auto r = app_.service->replay(id);
    if (!r) return r.error();
    json::object o{{"ok", r->ok}, {"events", r->events}};
    if (!r->ok) o["failure"] = r->failure;
    return json::value(std::move(o));
  }

  Result<json::value> inbox() {
    if (auto k = only_query({"on_behalf_of"}); !k) return k.error();
    auto behalf = t_.query.find("on_behalf_of");
    if (behalf != t_.query.end() && behalf->second.empty()) return empty_behalf();
    const std::string holder = behalf == t_.query.end() ? "" : behalf->second;
    auto views = app_.service->inbox(user_key(), holder);
    if (!views) return views.error();
    // Actions as the inbox's owner may take them: the delegator's but a ballot, when standing in for them.
    const std::optional<UserId> owner =
        holder.empty() ? std::optional<UserId>(user_) : app_.directory.find_user(holder);
    json::array out;
    for (const auto& v : *views) out.push_back(views::dossier_json(app_, v, owner, !holder.empty()));
    return json::value(std::move(out));
  }

  // Every dossier the user may read, filtered, in id order, one page at a time.
  Result<json::value> list() {
    const auto& q = t_.query;
    if (auto k = only_query({"workflow", "state", "holder", "award", "overdue", "jurisdiction", "q", "page", "per_page"});
        !k)
      return k.error();
    auto get = [&](const char* k) -> std::optional<std::string> {
      auto it = q.find(k);
      return it == q.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    std::int64_t page = 1, per_page = 20;
    if (auto v = get("page")) {
      auto n = to_int(*v, "Trang", 1, 1'000'000);
      if (!n) return n.error();
      page = *n;
    }
    if (auto v = get("per_page")) {
      auto n = to_int(*v, "Số hồ sơ mỗi trang", 1, 100);
      if (!n) return n.error();
      per_page = *n;
    }
    DossierQuery query;
    query.page = page;
    query.per_page = per_page;
    if (auto v = get("overdue")) {
      if (*v != "true" && *v != "false") return bad_request("bad_query", "'overdue' phải là true hoặc false");
      query.overdue = *v == "true";
    }
    if (auto v = get("jurisdiction")) {
      query.within = app_.directory.find_org(*v);
      if (!query.within)
        return Error{ErrorCode::kNotFound, fmt::format("Không có cơ quan '{}'", *v), "unknown_org", *v};
    }
    if (auto v = get("workflow")) query.workflows.push_back(*v);
    query.state = get("state");
    query.holder = get("holder");
    query.award = get("award");
    query.text = get("q");
    auto found = app_.service->find_dossiers(query, user_);
    if (!found) return found.error();
    json::array items;
    for (const auto& v : found->items) items.push_back(views::dossier_json(app_, v, user_));
    const std::int64_t total = found->total;
    return json::value{{"items", std::move(items)},
                        {"page", page},
                        {"per_page", per_page},
                        {"total", total}};
  }

  Result<json::value> calendar(const std::string& what) {
    auto cal = yaml::calendar_from_store(*app_.store);
    if (!cal) return cal.error();
    auto date = [&](const char* k) -> Result<Date> {
      auto it = t_.query.find(k);
      if (it == t_.query.end()) return bad_request("missing_key", fmt::format("Thiếu tham số '{}'", k));
      auto d = parse_date(it->second);
      if (!d) return bad_request("bad_date", fmt::format("Ngày '{}' không hợp lệ (YYYY-MM-DD)", it->second));
      return *d;
    };
    if (auto k = what == "add" ? only_query({"from", "days"}) : only_query({"from", "to"}); !k) return k.error();
    auto from = date("from");
    if (!from) return from.error();
    if (what == "add") {
      auto it = t_.query.find("days");
      if (it == t_.query.end()) return bad_request("missing_key", "Thiếu tham số 'days'");
      auto n = to_int(it->second, "Số ngày làm việc", 0, 10000);
      if (!n) return n.error();
      auto due = (*cal)->add_working_days(*from, static_cast<int>(*n));
      if (!due) return due.error();
      return json::value{{"from", format_date(*from)},
                          {"working_days", *n},
                          {"due", format_date(*due)},
                          {"due_end_utc", format_utc(end_of_day_utc(*due))}};
    }
    auto to = date("to");  // "between"
    if (!to) return to.error();
    auto n = (*cal)->working_days_between(*from, *to);
    if (!n) return n.error();
    return json::value{{"from", format_date(*from)}, {"to", format_date(*to)}, {"working_days", *n}};
  }

  Result<json::value> reports() {
    if (auto k = only_query({"year", "jurisdiction"}); !k) return k.error();
    auto it = t_.query.find("year");
    if (it == t_.query.end()) return bad_request("missing_key", "Thiếu tham số 'year'");
    auto year = to_int(it->second, "Năm", 2000, 2199);
    if (!year) return year.error();
    std::optional<std::string> jurisdiction;
    if (auto j = t_.query.find("jurisdiction"); j != t_.query.end()) jurisdiction = j->second;
    auto rows = report_status(*app_.service, app_.directory, static_cast<int>(*year), jurisdiction, app_.clock->now(),
                              user_key());
    if (!rows) return rows.error();
    return json::value(views::report_status_json(static_cast<int>(*year), jurisdiction, *rows));
  }

  App& app_;
  const Request& req_;
  Target t_;
  UserId user_;
  std::string token_user_;  // whom the request's token was issued to, once it is found (for a denial's log)
  bool defer_rendering_ = false;
  bool created_ = false;
  std::optional<Outcome> outcome_;  // a command's outcome, the answer (written as text, outcome_text)
  const char* allow_ = "";          // the methods the path takes, when asked with another

  void answer(Outcome out) { outcome_ = std::move(out); }
};

}  // namespace

Response Api::handle(const Request& req) {
  try {
    return Handler(app_, req, defer_rendering_).run();
  } catch (const std::exception& ex) {
    return error_reply(make_error(ErrorCode::kInternal, fmt::format("Lỗi nội bộ: {}", ex.what())));
  }
}

Response error_response(const Error& e) { return error_reply(e); }

void finish(Response& r) {
  if (!r.render) return;
  r.body = r.render();
  r.render = nullptr;
}

ParsedBody::ParsedBody() = default;

std::shared_ptr<const ParsedBody> parse_body(const std::string& body, std::string_view target) {
  auto parsed = std::make_shared<ParsedBody>();
  parsed->value = json::parse(body, parsed->error, &parsed->resource);
  if (auto create = command_route(target); create && !body.empty())
    parsed->command = map_command_body(&parsed->value, parsed->error, *create);
  return parsed;
}

}  // namespace hoso::http
