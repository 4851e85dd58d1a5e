#include "adapters/cli/cli.hpp"

#include "adapters/cli/context.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "adapters/cli/args.hpp"
#include "adapters/http/auth.hpp"
#include "adapters/runtime/app.hpp"
#include "adapters/views/json_views.hpp"
#include "adapters/runtime/system_clock.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/yaml/project.hpp"
#include "engine/calendar.hpp"
#include "engine/diagram.hpp"
#include "engine/service.hpp"

namespace hoso::cli {

namespace json = boost::json;
namespace fs = std::filesystem;
using views::dossier_json;
using views::event_json;
using views::on_behalf_of;
using views::org_name;
using views::parse_json_or_string;
using views::vietnam_time;

namespace {

constexpr std::int64_t kMaxDocumentBytes = 512LL * 1024 * 1024;

int exit_code(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInternal:
      return 1;
    case ErrorCode::kInvalidInput:
      return 2;
    case ErrorCode::kNotFound:
      return 3;
    case ErrorCode::kNotPermitted:
      return 4;
    case ErrorCode::kRefused:
      return 5;
    case ErrorCode::kVersionConflict:
      return 6;
    case ErrorCode::kInvalidDefinition:
      return 7;
    case ErrorCode::kVerifyFailed:
      return 8;
  }
  return 1;
}

const char* kUsage =
    R"(hoso — quản lý hồ sơ đề nghị khen thưởng (Phong trào "Toàn dân bảo vệ an ninh Tổ quốc")

Cách dùng (mọi lệnh nhận --db PATH, mặc định ./hoso.db):
  hoso init [--config DIR] [--workflows DIR] [--clock system|virtual --at THỜI_ĐIỂM]
  hoso workflows check [--config DIR] [--workflows DIR]
  hoso workflows list [--json]
  hoso workflows show NAME [--format mermaid|dot|json]
  hoso orgs list [--json]
  hoso users list [--json] | hoso users tokens NGƯỜI_DÙNG [--json]
  hoso users token NGƯỜI_DÙNG [--expires-in THỜI_HẠN|never] [--json]
                   (mã truy cập API; mặc định hết hạn sau 90 ngày, ví dụ --expires-in 30d, 12h, 2w)
  hoso users revoke NGƯỜI_DÙNG [--token MÃ_SỐ] [--json]
                   (thu hồi mọi mã truy cập của người dùng, hoặc chỉ mã mang MÃ_SỐ)
  hoso serve [--config DIR] [--listen ĐỊA_CHỈ:CỔNG] [--file TỆP | --webhook URL] [--read-timeout MS]
                   (API HTTP, hẹn giờ và gửi thông báo; cấu hình ở DIR/server.yaml, mặc định config/server.yaml)
  hoso dossier create --workflow W --award KIND --as USER [--on-behalf-of USER] [--field K=V]... [--doc KIND=FILE]...
                   [--note TEXT] [--json]
  hoso dossier act ID ACTION --as USER [--on-behalf-of USER] [--note TEXT | --note-file FILE] [--field K=V]...
                   [--doc KIND=FILE]... [--ballot yes|no|abstain] [--expect-version N] [--json]
                   (--on-behalf-of: thay mặt người đã ủy quyền cho USER trong config/users.yaml, mục delegates)
  hoso dossier show ID [--as USER] [--json]
  hoso inbox --as USER [--on-behalf-of USER] [--json]
  hoso history ID [--as USER] [--json]
  hoso replay ID|--all [--json]
  hoso audit verify [--json]
  hoso calendar holidays NĂM | add NGÀY SỐ_NGÀY_LÀM_VIỆC | between TỪ_NGÀY ĐẾN_NGÀY [--config DIR] [--json]
  hoso clock show | set THỜI_ĐIỂM | advance KHOẢNG (vd 3d, 12h, 1d6h, 90m)   [cơ sở dữ liệu mô phỏng]
  hoso timers list | run [--json]
  hoso reports open [--year NĂM] [--json]                      mở các nghĩa vụ báo cáo của năm (config/reports.yaml)
  hoso reports status --year NĂM [--jurisdiction ĐỊA_BÀN] [--as USER] [--json]   ai đã gửi, ai còn hạn, ai quá hạn
  hoso notify deliver [--file TỆP] [--json]   (gửi thông báo chờ gửi vào tệp, mỗi dòng một JSON)
  hoso notify status [--json]                 thông báo còn chờ gửi, chờ gửi lại, trong hàng lỗi, bị giữ lại

Mã thoát: 0 thành công, 1 lỗi hệ thống, 2 sai cú pháp hoặc dữ liệu không hợp lệ, 3 không tìm thấy,
4 không có quyền, 5 bị quy tắc từ chối, 6 xung đột phiên bản, 7 quy trình/cấu hình không hợp lệ,
8 kiểm tra toàn vẹn thất bại.
)";

}  // namespace

int fail(Ctx& c, const Error& e) {
  if (c.json_out()) {
    json::object o{{"code", error_code_name(e.code)}, {"message", e.message}};
    if (!e.reason.empty()) o["reason"] = e.reason;
    if (!e.subject.empty()) o["subject"] = e.subject;
    c.err << json::serialize(json::object{{"error", std::move(o)}}) << "\n";
  } else {
    c.err << "lỗi: " << e.message << "\n";
  }
  return exit_code(e.code);
}

int usage(Ctx& c, const std::string& msg) {
  return fail(c, make_error(ErrorCode::kInvalidInput, msg + "\n\n" + kUsage));
}

Result<std::unique_ptr<SqliteStore>> open_existing(Ctx& c) {
  return SqliteStore::open(c.db(), OpenMode::kExisting);
}

Result<std::unique_ptr<App>> open_runtime(Ctx& c) {
  auto store = open_existing(c);
  if (!store) return store.error();
  return App::over(std::move(store.value()));
}

namespace {

// Everything a dossier command needs: store, directory, definitions, clock, service.
using Runtime = App;

Result<std::int64_t> parse_int(const std::string& s, const char* what) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || v < 0)
    return make_error(ErrorCode::kInvalidInput, fmt::format("{} '{}' không phải số hợp lệ", what, s));
  return v;
}

// SHA-256 and size of a file, streamed.
Result<RawDocument> read_document(const std::string& kind, const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return make_error(ErrorCode::kInvalidInput, fmt::format("không đọc được tệp tài liệu '{}'", path));
  auto size = static_cast<std::int64_t>(fs::file_size(path, ec));
  if (ec || size > kMaxDocumentBytes)
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("tệp '{}' quá lớn (tối đa {} MB)", path, kMaxDocumentBytes >> 20));
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kInvalidInput, fmt::format("không mở được tệp tài liệu '{}'", path));
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    if (in.gcount() > 0) EVP_DigestUpdate(md, buf, static_cast<std::size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(md, digest, &len);
  EVP_MD_CTX_free(md);
  std::string hex;
  for (unsigned i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return RawDocument{kind, fs::path(path).filename().string(), hex, size};
}

Result<RawInput> raw_input(Ctx& c) {
  RawInput in;
  for (const auto& f : c.args.all("field")) {
    auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0)
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("--field cần dạng TÊN=GIÁ_TRỊ, nhận được '{}'", f));
    in.fields.emplace_back(f.substr(0, eq), f.substr(eq + 1));
  }
  for (const auto& d : c.args.all("doc")) {
    auto eq = d.find('=');
    if (eq == std::string::npos || eq == 0)
      return make_error(ErrorCode::kInvalidInput, fmt::format("--doc cần dạng LOẠI=TỆP, nhận được '{}'", d));
    auto doc = read_document(d.substr(0, eq), d.substr(eq + 1));
    if (!doc) return doc.error();
    in.documents.push_back(std::move(doc.value()));
  }
  in.note = c.args.get("note").value_or("");
  in.on_behalf_of = c.args.get("on-behalf-of").value_or("");
  if (auto file = c.args.get("note-file")) {
    if (c.args.get("note"))
      return make_error(ErrorCode::kInvalidInput, "chỉ dùng một trong --note và --note-file");
    std::error_code ec;
    const auto size = fs::file_size(*file, ec);
    if (ec)
      return make_error(ErrorCode::kInvalidInput, fmt::format("không đọc được tệp ghi chú '{}'", *file));
    if (size > kMaxNoteBytes)
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("Ghi chú trong '{}' dài {} byte, vượt quá giới hạn {} byte", *file, size,
                                    kMaxNoteBytes));
    std::ifstream f(*file, std::ios::binary);
    if (!f) return make_error(ErrorCode::kInvalidInput, fmt::format("không mở được tệp ghi chú '{}'", *file));
    in.note.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  in.ballot = c.args.get("ballot").value_or("");
  if (auto v = c.args.get("expect-version")) {
    auto n = parse_int(*v, "--expect-version");
    if (!n) return n.error();
    in.expected_version = *n;
  }
  return in;
}

// ---------------------------------------------------------------------------------------------
int cmd_init(Ctx& c) {
  const std::string config = c.args.get("config").value_or("config");
  const std::string workflows = c.args.get("workflows").value_or("workflows");
  auto project = yaml::load_project(config, workflows);
  if (!project.ok()) {
    for (const auto& d : project.diagnostics) c.err << d.format() << "\n";
    c.err << fmt::format("lỗi: cấu hình hoặc quy trình không hợp lệ ({} lỗi); cơ sở dữ liệu không thay đổi\n",
                         project.diagnostics.size());
    return 7;
  }
  const auto clock_kind = c.args.get("clock");
  const auto clock_at = c.args.get("at");
  std::optional<Timestamp> virtual_at;
  if (clock_kind && *clock_kind != "system" && *clock_kind != "virtual")
    return usage(c, fmt::format("--clock phải là 'system' hoặc 'virtual', không phải '{}'", *clock_kind));
  if (clock_kind == std::optional<std::string>("virtual")) {
    if (!clock_at) return usage(c, "--clock virtual cần --at THỜI_ĐIỂM (ví dụ 2026-11-01T00:00:00Z)");
    virtual_at = parse_utc(*clock_at);
    if (!virtual_at)
      return usage(c, fmt::format("--at '{}' không phải thời điểm UTC hợp lệ (YYYY-MM-DDTHH:MM:SSZ)", *clock_at));
  } else if (clock_at) {
    return usage(c, "--at chỉ dùng với --clock virtual");
  }
  auto store = SqliteStore::open(c.db(), OpenMode::kCreate);
  if (!store) return fail(c, store.error());
  SystemClock clock;
  const std::string now = format_utc(clock.now());
  std::size_t added = 0;
  std::vector<Diagnostic> dropped;
  auto st = (*store)->write([&](WriteTx& tx) -> Status {
    // Inside the write lock, so no command can name an org or user between this check and the replacement:
    // the directory may change, but never so that the stored history names one it no longer has.
    auto referenced = referenced_directory_keys(**store);
    if (!referenced) return referenced.error();
    for (const auto& [key, id] : referenced->orgs) {
      bool kept = false;
      for (const auto& o : project.orgs) kept = kept || o.key == key;
      if (!kept)
        dropped.push_back(Diagnostic{
            SourceLoc{(fs::path(config) / "orgs.yaml").string(), 1, 1},
            fmt::format("org '{}' is named in the history of dossier {}; it cannot be removed", key, id)});
    }
    for (const auto& [key, id] : referenced->users) {
      bool kept = false;
      for (const auto& u : project.users) kept = kept || u.key == key;
      if (!kept)
        dropped.push_back(
            Diagnostic{SourceLoc{(fs::path(config) / "users.yaml").string(), 1, 1},
                       fmt::format("user '{}' is named in the history of dossier {}; keep it with "
                                   "'active: false' instead of removing it",
                                   key, id)});
    }
    if (!dropped.empty()) return make_error(ErrorCode::kInvalidDefinition, "dropped");
    auto before = (*store)->current_definitions();
    if (!before) return before.error();
    // Where "now" comes from is chosen once, when the database is created: a production database never
    // becomes a simulation, nor the reverse.
    if (before->empty()) {
      ClockRecord chosen{virtual_at ? "virtual" : "system", virtual_at ? format_utc(*virtual_at) : ""};
      if (auto set = tx.set_clock(chosen); !set) return set;
    } else if (clock_kind) {
      auto current = (*store)->clock();
      if (!current) return current.error();
      if (current->kind != *clock_kind || virtual_at)
        return make_error(ErrorCode::kInvalidInput,
                          fmt::format("{} đã được khởi tạo với đồng hồ '{}'; không thể đổi đồng hồ của cơ sở dữ "
                                      "liệu đã có (đồng hồ ảo dùng 'hoso clock set|advance')",
                                      c.db(), current->kind));
    }
    for (const auto& w : project.workflows) {
      bool known = false;
      for (const auto& b : *before) known = known || b.hash == w.definition->hash();
      added += known ? 0 : 1;
    }
    return yaml::install_project(tx, project, now);
  });
  if (!dropped.empty()) {
    for (const auto& d : dropped) c.err << d.format() << "\n";
    c.err << fmt::format(
        "lỗi: cấu hình mới bỏ mất {} cơ quan/người dùng có trong lịch sử hồ sơ; cơ sở dữ liệu không thay "
        "đổi\n",
        dropped.size());
    return 7;
  }
  if (!st) return fail(c, st.error());
  if (c.json_out()) {
    json::array defs;
    for (const auto& w : project.workflows)
      defs.push_back(
          json::object{{"name", w.definition->name()}, {"hash", w.definition->hash()}, {"file", w.file}});
    c.out << json::serialize(json::object{{"db", c.db()},
                                          {"orgs", project.orgs.size()},
                                          {"users", project.users.size()},
                                          {"definitions", std::move(defs)},
                                          {"new_definitions", added}})
          << "\n";
  } else {
    c.out << fmt::format("Đã khởi tạo {}: {} cơ quan, {} người dùng, {} quy trình ({} phiên bản mới)\n",
                         c.db(), project.orgs.size(), project.users.size(), project.workflows.size(), added);
  }
  return 0;
}

int cmd_workflows(Ctx& c) {
  const auto& p = c.args.positional;
  if (p.size() < 2) return usage(c, "thiếu lệnh con của 'workflows' (check, list, show)");
  if (p[1] == "check") {
    if (p.size() != 2) return usage(c, "cách dùng: hoso workflows check [--config DIR] [--workflows DIR]");
    auto project = yaml::load_project(c.args.get("config").value_or("config"),
                                      c.args.get("workflows").value_or("workflows"));
    for (const auto& d : project.diagnostics) c.err << d.format() << "\n";
    if (!project.ok()) {
      c.err << fmt::format("{} lỗi\n", project.diagnostics.size());
      return 7;
    }
    for (const auto& w : project.workflows)
      c.out << fmt::format("{}: {} ({} trạng thái, {} chuyển tiếp) — hợp lệ\n", w.file, w.definition->name(),
                           w.definition->states().size(), w.definition->transitions().size());
    return 0;
  }
  auto store = open_existing(c);
  if (!store) return fail(c, store.error());
  if (p[1] == "list") {
    if (p.size() != 2) return usage(c, "cách dùng: hoso workflows list [--json]");
    auto defs = (*store)->current_definitions();
    if (!defs) return fail(c, defs.error());
    yaml::StoreDefinitionRegistry registry(**store);
    json::array arr;
    for (const auto& d : *defs) {
      auto def = registry.by_hash(d.hash);
      if (!def) return fail(c, def.error());
      if (c.json_out())
        arr.push_back(json::object{{"name", d.name},
                                   {"title", (*def)->title()},
                                   {"hash", d.hash},
                                   {"file", d.workflow_file},
                                   {"loaded_at", d.loaded_at}});
      else
        c.out << fmt::format("{}\t{}\t{}\n", d.name, (*def)->title(), d.hash.substr(0, 12));
    }
    if (c.json_out()) c.out << json::serialize(arr) << "\n";
    return 0;
  }
  if (p[1] == "show") {
    if (p.size() != 3) return usage(c, "cách dùng: hoso workflows show NAME [--format mermaid|dot|json]");
    yaml::StoreDefinitionRegistry registry(**store);
    auto def = registry.current(p[2]);
    if (!def) return fail(c, def.error());
    const std::string format = c.args.get("format").value_or(c.json_out() ? "json" : "mermaid");
    if (format == "mermaid")
      c.out << to_mermaid(**def);
    else if (format == "dot")
      c.out << to_dot(**def);
    else if (format == "json")
      c.out << to_json(**def) << "\n";
    else
      return usage(c, fmt::format("định dạng '{}' không hỗ trợ (mermaid, dot, json)", format));
    return 0;
  }
  return usage(c, fmt::format("lệnh con không hợp lệ: workflows {}", p[1]));
}

// A token's state for people: valid (until when), revoked (when) or expired (when), in Vietnam time.
std::string token_state(const TokenRecord& t, Timestamp now) {
  if (!t.revoked_at.empty()) return fmt::format("đã thu hồi lúc {}", vietnam_time(t.revoked_at));
  if (t.expires_at.empty()) return "còn hiệu lực, không tự hết hạn";
  if (format_utc(now) >= t.expires_at) return fmt::format("đã hết hạn lúc {}", vietnam_time(t.expires_at));
  return fmt::format("còn hiệu lực đến {}", vietnam_time(t.expires_at));
}

// hoso users tokens USER: the user's tokens by id (never their text, which is not kept), oldest first.
int cmd_list_tokens(Ctx& c) {
  const std::string& user = c.args.positional[2];
  auto app = open_runtime(c);
  if (!app) return fail(c, app.error());
  App& a = **app;
  auto tokens = http::list_tokens(*a.store, a.directory, user);
  if (!tokens) return fail(c, tokens.error());
  const Timestamp now = a.clock->now();
  if (c.json_out()) {
    json::array out;
    for (const auto& t : *tokens) {
      const bool expired = !t.expires_at.empty() && format_utc(now) >= t.expires_at;
      auto or_null = [](const std::string& s) { return s.empty() ? json::value() : json::value(s); };
      out.push_back(json::object{{"id", http::token_id(t.hash)},
                                 {"created_at", t.created_at},
                                 {"expires_at", or_null(t.expires_at)},
                                 {"revoked_at", or_null(t.revoked_at)},
                                 {"valid", t.revoked_at.empty() && !expired}});
    }
    c.out << json::serialize(json::object{{"user", user}, {"tokens", std::move(out)}}) << "\n";
    return 0;
  }
  if (tokens->empty()) {
    c.out << fmt::format("{} chưa có mã truy cập nào\n", user);
    return 0;
  }
  c.out << fmt::format("Mã truy cập của {} (theo mã số; nội dung mã không được lưu):\n", user);
  for (const auto& t : *tokens)
    c.out << fmt::format("  {}  cấp lúc {}; {}\n", http::token_id(t.hash), vietnam_time(t.created_at),
                         token_state(t, now));
  return 0;
}

// hoso users token|revoke USER: a bearer token for the HTTP API (shown once, stored only as its hash; valid
// for --expires-in, 90 days by default, or until revoked with "never"), or the user's tokens revoked: every
// one, or the one --token names by its id.
int cmd_user_tokens(Ctx& c) {
  const auto& p = c.args.positional;
  std::optional<std::int64_t> lifetime = http::kDefaultTokenLifetimeMs;
  if (auto given = c.args.get("expires-in")) {
    constexpr std::int64_t kLongest = 3650LL * 86'400'000;  // ten years
    lifetime = *given == "never" ? std::nullopt : parse_duration(*given);
    if (*given != "never" && (!lifetime || *lifetime <= 0 || *lifetime > kLongest))
      return usage(c,
                   fmt::format("--expires-in '{}' không hợp lệ: cần một thời hạn từ 1s đến 3650d (ví dụ 30d, "
                               "12h, 2w, 1d12h) hoặc never",
                               *given));
  }
  auto app = open_runtime(c);
  if (!app) return fail(c, app.error());
  App& a = **app;
  if (p[1] == "token") {
    auto issued = http::issue_token(*a.store, a.directory, p[2], a.clock->now(), lifetime);
    if (!issued) return fail(c, issued.error());
    const std::string& until = issued->expires_at;
    if (c.json_out()) {
      c.out << json::serialize(
                   json::object{{"user", p[2]},
                                {"token", issued->token},
                                {"id", issued->id},
                                {"expires_at", until.empty() ? json::value() : json::value(until)}})
            << "\n";
    } else {
      c.out << fmt::format("Mã truy cập của {} ({}; chỉ hiện một lần, hãy lưu lại):\n{}\n", p[2],
                           until.empty() ? "không tự hết hạn, dùng được đến khi bị thu hồi"
                                         : fmt::format("hết hạn lúc {}", vietnam_time(until)),
                           issued->token);
      c.out << fmt::format("Mã số của nó (để thu hồi riêng: hoso users revoke {} --token {}): {}\n", p[2],
                           issued->id, issued->id);
    }
    return 0;
  }
  if (auto id = c.args.get("token")) {
    auto revoked = http::revoke_token(*a.store, a.directory, p[2], *id, a.clock->now());
    if (!revoked) return fail(c, revoked.error());
    if (c.json_out())
      c.out << json::serialize(
                   json::object{{"user", p[2]}, {"id", http::token_id(revoked->hash)}, {"revoked", 1}})
            << "\n";
    else
      c.out << fmt::format("Đã thu hồi mã truy cập {} của {}\n", http::token_id(revoked->hash), p[2]);
    return 0;
  }
  auto revoked = http::revoke_tokens(*a.store, a.directory, p[2], a.clock->now());
  if (!revoked) return fail(c, revoked.error());
  if (c.json_out())
    c.out << json::serialize(json::object{{"user", p[2]}, {"revoked", *revoked}}) << "\n";
  else
    c.out << fmt::format("Đã thu hồi {} mã truy cập của {}\n", *revoked, p[2]);
  return 0;
}

int cmd_orgs_users(Ctx& c) {
  const auto& p = c.args.positional;
  if (p[0] == "users" && p.size() == 3 && (p[1] == "token" || p[1] == "revoke")) return cmd_user_tokens(c);
  if (p[0] == "users" && p.size() == 3 && p[1] == "tokens") return cmd_list_tokens(c);
  if (p.size() != 2 || p[1] != "list")
    return usage(c, p[0] == "users" ? "cách dùng: hoso users list|tokens NGƯỜI_DÙNG|token NGƯỜI_DÙNG|revoke "
                                      "NGƯỜI_DÙNG [--token MÃ_SỐ] [--json]"
                                    : "cách dùng: hoso orgs list [--json]");
  auto store = open_existing(c);
  if (!store) return fail(c, store.error());
  json::array arr;
  if (p[0] == "orgs") {
    auto orgs = (*store)->orgs();
    if (!orgs) return fail(c, orgs.error());
    for (const auto& o : *orgs) {
      if (c.json_out())
        arr.push_back(
            json::object{{"id", o.key},
                         {"name", o.name},
                         {"kind", o.kind},
                         {"parent", o.parent.empty() ? json::value(nullptr) : json::value(o.parent)}});
      else
        c.out << fmt::format("{}\t{}\t{}\t{}\n", o.key, o.name, o.kind, o.parent);
    }
  } else {
    auto users = (*store)->users();
    if (!users) return fail(c, users.error());
    for (const auto& u : *users) {
      json::array roles;
      for (const auto& r : u.roles) roles.push_back(json::string(r));
      if (c.json_out())
        arr.push_back(json::object{{"id", u.key},
                                   {"name", u.name},
                                   {"org", u.org},
                                   {"roles", std::move(roles)},
                                   {"email", u.email},
                                   {"active", u.active}});
      else
        c.out << fmt::format("{}\t{}\t{}\t{}\n", u.key, u.name, u.org, fmt::join(u.roles, ","));
    }
  }
  if (c.json_out()) c.out << json::serialize(arr) << "\n";
  return 0;
}

// What a system event did, for people: the timer that fired or the notice that went out.
std::string system_event_summary(const EventRecord& e) {
  if (e.type == "DossierCreated") return "hệ thống mở hồ sơ (nghĩa vụ báo cáo)";
  boost::system::error_code ec;
  const json::value p = json::parse(e.payload, ec);
  if (ec || !p.is_object()) return "";
  const auto& o = p.as_object();
  if (const auto* t = o.if_contains("timer"); t && t->is_string()) {
    const std::string_view name = t->as_string();
    const bool late = o.contains("late");
    if (name.ends_with(".remind")) return late ? "nhắc hạn xử lý (trễ)" : "nhắc hạn xử lý";
    if (e.payload.find("\"overdue\":true") != std::string::npos)
      return late ? "hết hạn xử lý: hồ sơ quá hạn (ghi nhận trễ)" : "hết hạn xử lý: hồ sơ quá hạn";
    return fmt::format("hẹn giờ '{}' đến hạn{}", name, late ? " (trễ)" : "");
  }
  if (const auto* d = o.if_contains("delivery"); d && d->is_object()) {
    auto text = [&](const char* k) {
      const auto* x = d->as_object().if_contains(k);
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    const auto* attempt = d->as_object().if_contains("attempt");
    const std::string nth = attempt && attempt->is_int64() ? fmt::format(" (lần {})", attempt->as_int64()) : "";
    if (e.type == "NotificationFailed")
      return fmt::format("gửi thông báo '{}' tới {} qua {} lỗi{}: {}; thử lại lúc {}", text("template"), text("to"),
                         text("channel"), nth, text("error"), vietnam_time(text("retry_at")));
    if (e.type == "NotificationDeadLettered")
      return fmt::format("ngừng gửi thông báo '{}' tới {} qua {} sau{} lỗi: {} (hàng lỗi, cần xử lý thủ công)",
                         text("template"), text("to"), text("channel"), nth, text("error"));
    const std::string left_out = text("left_out");
    return fmt::format("đã gửi thông báo '{}' tới {} qua {}{}{}", text("template"), text("to"),
                       text("channel"), nth,
                       left_out.empty() ? std::string() : fmt::format("; không gửi được đến: {}", left_out));
  }
  return "";
}

// " thay mặt <name> (<key>)" when the event's actor stood in for someone, else "".
std::string behalf_text(const Directory& dir, const EventRecord& e) {
  const std::string key = on_behalf_of(e);
  if (key.empty()) return "";
  auto id = dir.find_user(key);
  return id ? fmt::format(" thay mặt {} ({})", dir.user(*id).name, key) : fmt::format(" thay mặt {}", key);
}

Result<DossierId> dossier_id(const std::string& s) {
  auto n = parse_int(s, "mã hồ sơ");
  if (!n || *n == 0)
    return make_error(ErrorCode::kInvalidInput, fmt::format("mã hồ sơ '{}' không hợp lệ", s));
  return *n;
}

int print_outcome(Ctx& c, Runtime& rt, const Outcome& o, bool created) {
  if (c.json_out()) {
    json::array events;
    for (const auto& e : o.events) events.push_back(event_json(e));
    c.out << json::serialize(json::object{
                 {"id", o.id}, {"version", o.version}, {"state", o.state}, {"events", std::move(events)}})
          << "\n";
    return 0;
  }
  if (created) {
    c.out << o.id << "\n";
    return 0;
  }
  auto view = rt.service->show(o.id, std::nullopt);
  if (!view) return fail(c, view.error());
  const State& st = view->definition->state(view->state.state);
  c.out << fmt::format(
      "Hồ sơ {}: đã chuyển sang bước '{}'{} (phiên bản {})\n", o.id, st.title,
      view->record.holder.empty() ? "" : ", đang ở " + org_name(rt.directory, view->record.holder),
      o.version);
  return 0;
}

int cmd_dossier(Ctx& c) {
  const auto& p = c.args.positional;
  if (p.size() < 2) return usage(c, "thiếu lệnh con của 'dossier' (create, act, show)");
  auto rt = open_runtime(c);
  if (!rt) return fail(c, rt.error());
  Runtime& r = **rt;
  if (p[1] == "create") {
    auto wf = c.args.get("workflow"), award = c.args.get("award"), as = c.args.get("as");
    if (!wf || !award || !as) return usage(c, "dossier create cần --workflow, --award và --as");
    if (p.size() != 2) return usage(c, "dossier create không nhận tham số vị trí");
    if (c.args.get("expect-version") || c.args.get("ballot"))
      return usage(c, "dossier create không nhận --expect-version hay --ballot");
    auto in = raw_input(c);
    if (!in) return fail(c, in.error());
    auto o = r.service->create(*wf, *award, *as, *in);
    if (!o) return fail(c, o.error());
    return print_outcome(c, r, *o, true);
  }
  if (p[1] == "act") {
    if (p.size() != 4) return usage(c, "cách dùng: hoso dossier act ID ACTION --as USER");
    auto as = c.args.get("as");
    if (!as) return usage(c, "dossier act cần --as USER");
    auto id = dossier_id(p[2]);
    if (!id) return fail(c, id.error());
    auto in = raw_input(c);
    if (!in) return fail(c, in.error());
    auto o = r.service->act(*id, p[3], *as, *in);
    if (!o) return fail(c, o.error());
    return print_outcome(c, r, *o, false);
  }
  if (p[1] == "show") {
    if (p.size() != 3) return usage(c, "cách dùng: hoso dossier show ID [--as USER]");
    auto id = dossier_id(p[2]);
    if (!id) return fail(c, id.error());
    auto as = c.args.get("as");
    auto view = r.service->show(*id, as);
    if (!view) return fail(c, view.error());
    std::optional<UserId> user;
    if (as) user = r.directory.find_user(*as);
    json::object o = dossier_json(r, *view, user);
    if (c.json_out()) {
      c.out << json::serialize(o) << "\n";
      return 0;
    }
    const Definition& def = *view->definition;
    c.out << fmt::format("Hồ sơ {} — {} ({})\n", view->record.id, def.award(view->state.award).name,
                         def.title());
    c.out << fmt::format("  Bước hiện tại: {}{}\n", def.state(view->state.state).title,
                         view->record.closed ? " (đã kết thúc)" : "");
    if (!view->record.holder.empty())
      c.out << fmt::format("  Cơ quan đang xử lý: {}\n", org_name(r.directory, view->record.holder));
    c.out << fmt::format("  Đơn vị đề nghị: {}\n  Phiên bản: {}\n  Cập nhật: {}\n",
                         org_name(r.directory, view->record.origin), view->record.version,
                         vietnam_time(view->record.updated_at));
    for (const auto& k : view->state.clocks) {
      if (k.running)
        c.out << fmt::format("  Hạn xử lý: hết ngày {} ({} ngày làm việc){}\n", format_date(k.due), k.working_days,
                             k.overdue ? " — QUÁ HẠN" : "");
      else
        c.out << fmt::format("  Hạn xử lý tạm dừng (hồ sơ trả lại để bổ sung): còn {} ngày làm việc\n",
                             k.remaining);
    }
    for (const auto& f : def.fields())
      if (view->state.fields[f.id.value].present())
        c.out << fmt::format("  {}: {}\n", f.label, format_value(f.spec, view->state.fields[f.id.value]));
    for (const auto& d : view->state.documents)
      c.out << fmt::format("  Tài liệu: {} — {} (sha256 {})\n", def.document(d.kind).name, d.filename,
                           d.sha256.substr(0, 16));
    if (o.contains("actions")) {
      std::string acts;
      for (const auto& a : o["actions"].as_array())
        acts += (acts.empty() ? "" : ", ") + std::string(a.as_string());
      c.out << fmt::format("  Thao tác được phép: {}\n", acts.empty() ? "(không có)" : acts);
    }
    return 0;
  }
  return usage(c, fmt::format("lệnh con không hợp lệ: dossier {}", p[1]));
}

int cmd_inbox(Ctx& c) {
  if (c.args.positional.size() != 1)
    return usage(c, "cách dùng: hoso inbox --as USER [--on-behalf-of USER] [--json]");
  auto as = c.args.get("as");
  if (!as) return usage(c, "inbox cần --as USER");
  auto rt = open_runtime(c);
  if (!rt) return fail(c, rt.error());
  Runtime& r = **rt;
  const auto behalf = c.args.get("on-behalf-of");
  auto items = r.service->inbox(*as, behalf.value_or(""));
  if (!items) return fail(c, items.error());
  // Actions are listed as the inbox's owner may take them: the delegator's but a ballot, when acting for
  // them.
  auto user = r.directory.find_user(behalf.value_or(*as));
  json::array arr;
  for (const auto& v : *items) {
    if (c.json_out()) {
      arr.push_back(dossier_json(r, v, user, behalf.has_value()));
    } else {
      const Definition& def = *v.definition;
      std::string due;
      for (const auto& k : v.state.clocks)
        if (k.running) due = fmt::format("\thạn {}", format_date(k.due));
      c.out << fmt::format("{}\t{}\t{}\t{}{}{}\n", v.record.id, def.award(v.state.award).name,
                           def.state(v.state.state).title, org_name(r.directory, v.record.origin), due,
                           v.overdue ? "\tQUÁ HẠN" : "");
    }
  }
  if (c.json_out())
    c.out << json::serialize(arr) << "\n";
  else if (items->empty())
    c.out << "Không có hồ sơ nào đang chờ xử lý.\n";
  return 0;
}

int cmd_history(Ctx& c) {
  const auto& p = c.args.positional;
  if (p.size() != 2) return usage(c, "cách dùng: hoso history ID [--as USER] [--json]");
  auto id = dossier_id(p[1]);
  if (!id) return fail(c, id.error());
  auto rt = open_runtime(c);
  if (!rt) return fail(c, rt.error());
  Runtime& r = **rt;
  auto events = r.service->history(*id, c.args.get("as"));
  if (!events) return fail(c, events.error());
  json::array arr;
  for (const auto& e : *events) {
    if (c.json_out())
      arr.push_back(event_json(e));
    else if (e.actor_user == kSystemActor)  // a fired timer, a delivered notification, an opened obligation
      c.out << fmt::format("#{} {} {} (hệ thống) {}  [{}]\n", e.seq, vietnam_time(e.at), e.type,
                           system_event_summary(e), e.hash.substr(0, 16));
    else
      c.out << fmt::format("#{} {} {} {}{} ({}, {}) {} → {}{}  [{}]\n", e.seq, vietnam_time(e.at), e.type,
                           e.actor_user, behalf_text(r.directory, e), e.actor_role, e.actor_org,
                           e.from_state.empty() ? "∅" : e.from_state, e.to_state,
                           e.note.empty() ? "" : " — " + e.note, e.hash.substr(0, 16));
  }
  if (c.json_out()) c.out << json::serialize(arr) << "\n";
  return 0;
}

int print_report(Ctx& c, const VerifyReport& r, std::optional<DossierId> id) {
  if (c.json_out()) {
    json::object o{{"ok", r.ok}, {"events", r.events}, {"dossiers", r.dossiers}};
    if (id) o["id"] = *id;
    if (!r.ok) {
      o["failure"] = r.failure;
      o["dossier"] = r.failed_dossier;
      o["seq"] = r.failed_seq;
    }
    c.out << json::serialize(o) << "\n";
  } else if (r.ok) {
    c.out << fmt::format("Toàn vẹn: {} sự kiện của {} hồ sơ đã được kiểm tra, không phát hiện sai lệch.\n",
                         r.events, r.dossiers);
  } else {
    c.out << fmt::format("PHÁT HIỆN SAI LỆCH — {}\n", r.failure);
  }
  return r.ok ? 0 : 8;
}

int cmd_replay(Ctx& c) {
  const auto& p = c.args.positional;
  const bool all = c.args.flag("all");
  if ((all && p.size() != 1) || (!all && p.size() != 2))
    return usage(c, "cách dùng: hoso replay ID|--all [--json]");
  auto rt = open_runtime(c);
  if (!rt) return fail(c, rt.error());
  if (all) {
    auto r = (*rt)->service->replay_all();
    if (!r) return fail(c, r.error());
    return print_report(c, *r, std::nullopt);
  }
  auto id = dossier_id(p[1]);
  if (!id) return fail(c, id.error());
  auto r = (*rt)->service->replay(*id);
  if (!r) return fail(c, r.error());
  return print_report(c, *r, *id);
}

int cmd_audit(Ctx& c) {
  const auto& p = c.args.positional;
  if (p.size() != 2 || p[1] != "verify") return usage(c, "cách dùng: hoso audit verify [--json]");
  auto rt = open_runtime(c);
  if (!rt) return fail(c, rt.error());
  auto r = (*rt)->service->audit_verify();
  if (!r) return fail(c, r.error());
  return print_report(c, *r, std::nullopt);
}

// The options each command takes (besides --db, --json and --help, which every command takes). An option a
// command would ignore is a usage error, so a typo or a misplaced option is never silently dropped.
const std::vector<std::string>* allowed_options(const std::vector<std::string>& p) {
  static const std::vector<std::string>
      kInit = {"config", "workflows", "clock", "at"},
      kCheck = {"config", "workflows"}, kNone = {}, kShow = {"format"},
      kCreate = {"workflow", "award", "as", "field", "doc", "note", "note-file", "on-behalf-of"},
      kAct = {"as", "field", "doc", "note", "note-file", "ballot", "expect-version", "on-behalf-of"},
      kAs = {"as"}, kInbox = {"as", "on-behalf-of"}, kReplay = {"all"}, kConfig = {"config"},
      kFile = {"file"}, kReportsOpen = {"year"}, kReportsStatus = {"year", "jurisdiction", "as"},
      kServe = {"config", "listen", "file", "read-timeout", "webhook"}, kToken = {"expires-in"},
      kRevoke = {"token"};
  const std::string& cmd = p[0];
  const std::string sub = p.size() > 1 ? p[1] : "";
  if (cmd == "init") return &kInit;
  if (cmd == "workflows") return sub == "check" ? &kCheck : sub == "show" ? &kShow : &kNone;
  if (cmd == "users" && sub == "token") return &kToken;
  if (cmd == "users" && sub == "revoke") return &kRevoke;
  if (cmd == "orgs" || cmd == "users" || cmd == "audit") return &kNone;
  if (cmd == "dossier") return sub == "create" ? &kCreate : sub == "act" ? &kAct : &kAs;
  if (cmd == "inbox") return &kInbox;
  if (cmd == "history") return &kAs;
  if (cmd == "replay") return &kReplay;
  if (cmd == "calendar") return &kConfig;
  if (cmd == "clock" || cmd == "timers") return &kNone;
  if (cmd == "notify") return &kFile;
  if (cmd == "reports") return sub == "status" ? &kReportsStatus : &kReportsOpen;
  if (cmd == "serve") return &kServe;
  return nullptr;
}

}  // namespace

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  auto parsed = parse_args(argc, argv);
  if (!parsed) {
    err << "lỗi: " << parsed.error().message << "\n";
    return 2;
  }
  Ctx c{*parsed, out, err};
  const auto& p = parsed->positional;
  if (parsed->flag("help") || p.empty() || p[0] == "help") {
    (p.empty() && !parsed->flag("help") ? err : out) << kUsage;
    return p.empty() && !parsed->flag("help") ? 2 : 0;
  }
  if (const auto* allowed = allowed_options(p)) {
    auto ok = [&](const std::string& name) {
      return name == "db" || name == "json" || name == "help" ||
             std::find(allowed->begin(), allowed->end(), name) != allowed->end();
    };
    for (const auto& [name, values] : parsed->options)
      if (!ok(name)) return usage(c, fmt::format("lệnh '{}' không dùng tùy chọn --{}", p[0], name));
    for (const auto& name : parsed->flags)
      if (!ok(name)) return usage(c, fmt::format("lệnh '{}' không dùng tùy chọn --{}", p[0], name));
  }
  // Empty, it would name nobody and the command would quietly be the user's own.
  if (parsed->get("on-behalf-of") == std::optional<std::string>(""))
    return usage(c, "--on-behalf-of không được để trống: cần mã người dùng đã ủy quyền cho --as");
  try {
    const std::string& cmd = p[0];
    if (cmd == "init") return p.size() == 1 ? cmd_init(c) : usage(c, "init không nhận tham số vị trí");
    if (cmd == "workflows") return cmd_workflows(c);
    if (cmd == "orgs" || cmd == "users") return cmd_orgs_users(c);
    if (cmd == "dossier") return cmd_dossier(c);
    if (cmd == "inbox") return cmd_inbox(c);
    if (cmd == "history") return cmd_history(c);
    if (cmd == "replay") return cmd_replay(c);
    if (cmd == "calendar") return cmd_calendar(c);
    if (cmd == "clock") return cmd_clock(c);
    if (cmd == "timers") return cmd_timers(c);
    if (cmd == "notify") return cmd_notify(c);
    if (cmd == "reports") return cmd_reports(c);
    if (cmd == "audit") return cmd_audit(c);
    if (cmd == "serve") return cmd_serve(c);
    return usage(c, fmt::format("lệnh không hợp lệ: {}", cmd));
  } catch (const std::exception& e) {
    return fail(c, make_error(ErrorCode::kInternal, fmt::format("lỗi hệ thống: {}", e.what())));
  }
}

}  // namespace hoso::cli
