// Tests of the YAML adapter: the real config files, then malformed inputs with exact locations.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "adapters/yaml/loader.hpp"
#include "adapters/yaml/reports_loader.hpp"
#include "tests/support/shipped.hpp"

#ifndef HOSO_SOURCE_DIR
#error "HOSO_SOURCE_DIR must be defined as the repository root, e.g. -DHOSO_SOURCE_DIR='\"/work/main\"'"
#endif

using namespace hoso;

namespace {

// Formatted here, not with Diagnostic::format(), so these tests do not depend on definition.cpp.
std::string show(const Diagnostic& d) {
  return d.loc.file + ":" + std::to_string(d.loc.line) + ":" + std::to_string(d.loc.col) +
         ": error: " + d.message;
}

std::string show(const std::vector<Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += show(d) + "\n";
  return out;
}

std::string where(const SourceLoc& l) {
  return l.file + ":" + std::to_string(l.line) + ":" + std::to_string(l.col);
}

// True when some diagnostic is at `loc` ("file:line:col") and its message contains `text`.
bool has(const std::vector<Diagnostic>& ds, const std::string& loc, const std::string& text) {
  return std::any_of(ds.begin(), ds.end(), [&](const Diagnostic& d) {
    return where(d.loc) == loc && d.message.find(text) != std::string::npos;
  });
}

#define REQUIRE_DIAG(ds, loc, text)     \
  do {                                  \
    INFO("diagnostics:\n" << show(ds)); \
    REQUIRE(has((ds), (loc), (text)));  \
  } while (0)

std::string source_path(const std::string& rel) { return std::string(HOSO_SOURCE_DIR) + "/" + rel; }

std::string read_config(const std::string& rel) {
  auto r = yaml::read_text_file(source_path(rel));
  INFO(rel << ": " << (r.ok() ? std::string() : r.error().message));
  REQUIRE(r.ok());
  return r.value();
}

struct Dir {
  std::vector<OrgSpec> orgs;
  std::vector<UserSpec> users;
  std::vector<yaml::OrgSource> org_src;
  std::vector<yaml::UserSource> user_src;
  std::vector<Diagnostic> parse;
  std::vector<Diagnostic> check;
};

Dir directory(const std::string& orgs_text, const std::string& users_text) {
  Dir d;
  d.parse = yaml::parse_orgs(orgs_text, "orgs.yaml", d.orgs, &d.org_src);
  auto more = yaml::parse_users(users_text, "users.yaml", d.users, &d.user_src);
  d.parse.insert(d.parse.end(), more.begin(), more.end());
  d.check = yaml::check_directory(d.org_src, d.user_src);
  return d;
}

const char* kSmallOrgs = R"(orgs:
  - id: tw
    name: "Trung ương"
    kind: central
  - id: tinh
    name: "Tỉnh A"
    kind: province
    parent: tw
  - id: xa
    name: "Xã B"
    kind: commune
    parent: tinh
)";

const char* kSmallUsers = R"(users:
  - id: xa.clerk
    name: "Nguyễn Văn An"
    email: an.nv@xa.example
    org: xa
    roles: [clerk]
)";

const OrgSpec* find_org(const std::vector<OrgSpec>& orgs, const std::string& key) {
  for (const auto& o : orgs)
    if (o.key == key) return &o;
  return nullptr;
}

const UserSpec* find_user(const std::vector<UserSpec>& users, const std::string& key) {
  for (const auto& u : users)
    if (u.key == key) return &u;
  return nullptr;
}

std::string temp_file(const std::string& name, const std::string& content) {
  const auto path = std::filesystem::temp_directory_path() / ("hoso_yaml_test_" + name);
  std::ofstream out(path, std::ios::binary);
  out << content;
  return path.string();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The real configuration

TEST_CASE("config/orgs.yaml and config/users.yaml parse and check cleanly", "[yaml][config]") {
  const std::string orgs_text = read_config("config/orgs.yaml");
  const std::string users_text = read_config("config/users.yaml");
  std::vector<OrgSpec> orgs;
  std::vector<UserSpec> users;
  const auto diags =
      yaml::load_directory(orgs_text, "config/orgs.yaml", users_text, "config/users.yaml", orgs, users);
  INFO(show(diags));
  REQUIRE(diags.empty());
  CHECK(orgs.size() == 78);
  CHECK(users.size() == 122);

  // The directory builds from the same specs.
  auto dir = Directory::build(orgs, users);
  INFO((dir.ok() ? std::string() : dir.error().message));
  REQUIRE(dir.ok());

  // Central orgs.
  for (const char* id : {"trung-uong", "bo-cong-an", "bo-noi-vu", "ban-tdkt-tw", "vpcp", "vp-ctn"})
    CHECK(find_org(orgs, id) != nullptr);
  CHECK(find_org(orgs, "trung-uong")->kind == "central");
  CHECK(find_org(orgs, "ban-tdkt-tw")->kind == "central_emulation");
  CHECK(find_org(orgs, "vpcp")->kind == "government_office");
  CHECK(find_org(orgs, "vp-ctn")->kind == "president_office");

  // Every province has its agencies, two departments and two communes with their agencies and
  // two units; every commune level node has exactly the three agencies.
  for (const char* p : {"lao-cai", "dong-thap", "lam-dong", "thai-nguyen"}) {
    const std::string pid = p;
    REQUIRE(find_org(orgs, pid) != nullptr);
    CHECK(find_org(orgs, pid)->kind == "province");
    CHECK(find_org(orgs, "ca-tinh-" + pid)->kind == "province_police");
    CHECK(find_org(orgs, "snv-" + pid)->kind == "home_affairs");
    CHECK(find_org(orgs, "ubnd-tinh-" + pid)->kind == "province_peoples_committee");
    int departments = 0, communes = 0;
    for (const auto& o : orgs) {
      if (o.parent != pid) continue;
      if (o.kind == "department") ++departments;
      if (o.kind == "commune") {
        ++communes;
        CHECK(find_org(orgs, "ca-" + o.key)->kind == "commune_police");
        CHECK(find_org(orgs, "vhxh-" + o.key)->kind == "commune_culture");
        CHECK(find_org(orgs, "ubnd-" + o.key)->kind == "commune_peoples_committee");
        int units = 0;
        for (const auto& c : orgs)
          if (c.parent == o.key && c.kind == "unit") ++units;
        CHECK(units == 2);
      }
    }
    CHECK(departments == 2);
    CHECK(communes == 2);
  }
  const OrgSpec* pt = find_org(orgs, "xa-phuong-tien");
  REQUIRE(pt != nullptr);
  CHECK(pt->name == "Xã Phượng Tiến");
  CHECK(pt->parent == "thai-nguyen");
  CHECK(find_org(orgs, "xom-khuan-lan")->parent == "xa-phuong-tien");
  CHECK(find_org(orgs, "thcs-phuong-tien")->parent == "xa-phuong-tien");

  // Users: every org exists; the id scheme <org>.<role> holds; the people the path needs exist.
  std::set<std::string> org_keys;
  for (const auto& o : orgs) org_keys.insert(o.key);
  for (const auto& u : users) {
    INFO(u.key);
    CHECK(org_keys.count(u.org) == 1);
    REQUIRE(u.roles.size() == 1);
    const std::string suffix = u.roles[0] == "council_member" ? "council" : u.roles[0];
    CHECK(u.key.rfind(u.org + "." + suffix, 0) == 0);
    CHECK(u.email.find("@" + u.org + ".example") != std::string::npos);
  }
  auto has_user = [&](const std::string& key, const std::string& role) {
    const UserSpec* u = find_user(users, key);
    return u && std::find(u->roles.begin(), u->roles.end(), role) != u->roles.end();
  };
  CHECK(has_user("trung-uong.admin", "admin"));
  CHECK(has_user("bo-noi-vu.auditor", "auditor"));
  // The Chủ tịch UBND xã Phượng Tiến is away in March and April 2026: the Phó Chủ tịch acts for him.
  const UserSpec* chair = find_user(users, "ubnd-xa-phuong-tien.signer");
  REQUIRE(chair != nullptr);
  REQUIRE(chair->delegates.size() == 1);
  CHECK(chair->delegates[0].user == "ubnd-xa-phuong-tien.appraiser");
  CHECK(chair->delegates[0].from == "2026-03-01");
  CHECK(chair->delegates[0].until == "2026-04-30");
  CHECK(has_user("ubnd-xa-phuong-tien.appraiser", "appraiser"));
  for (const char* o : {"ban-tdkt-tw"}) {
    CHECK(has_user(std::string(o) + ".clerk", "clerk"));
    CHECK(has_user(std::string(o) + ".appraiser", "appraiser"));
  }
  for (const char* o : {"vpcp", "vp-ctn"}) {
    CHECK(has_user(std::string(o) + ".clerk", "clerk"));
    CHECK(has_user(std::string(o) + ".signer", "signer"));
  }
  for (const auto& o : orgs) {
    INFO(o.key);
    if (o.kind == "unit" || o.kind == "commune_police") CHECK(has_user(o.key + ".clerk", "clerk"));
    if (o.kind == "department" || o.kind == "commune_peoples_committee" ||
        o.kind == "province_peoples_committee") {
      CHECK(has_user(o.key + ".clerk", "clerk"));
      CHECK(has_user(o.key + ".signer", "signer"));
    }
    if (o.kind == "commune_culture") CHECK(has_user(o.key + ".appraiser", "appraiser"));
    if (o.kind == "province_police" || o.kind == "home_affairs") {
      CHECK(has_user(o.key + ".clerk", "clerk"));
      CHECK(has_user(o.key + ".appraiser", "appraiser"));
    }
    if (o.kind == "home_affairs")
      for (int i = 1; i <= 5; ++i) CHECK(has_user(o.key + ".council" + std::to_string(i), "council_member"));
    if (o.kind == "province_peoples_committee") CHECK(has_user(o.key + ".auditor", "auditor"));
  }
  CHECK(has_user("ca-xa-phuong-tien.clerk", "clerk"));
  CHECK(has_user("snv-lao-cai.council5", "council_member"));
}

TEST_CASE("config/awards.yaml parses with the fixed award and document ids", "[yaml][config]") {
  const std::string text = read_config("config/awards.yaml");
  CatalogueSpec cat;
  const auto diags = yaml::parse_catalogue(text, "config/awards.yaml", cat);
  INFO(show(diags));
  REQUIRE(diags.empty());
  std::vector<std::string> docs;
  for (const auto& d : cat.documents) docs.push_back(d.key.value);
  CHECK(docs == std::vector<std::string>{"to_trinh", "bao_cao_thanh_tich", "bien_ban_hop", "y_kien_hiep_y",
                                         "xac_nhan_thanh_tich", "tom_tat_thanh_tich", "van_ban_bao_cao"});
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"giay_khen_xa", "commune_chair"},
      {"giay_khen_so", "department_head"},
      {"bang_khen_tinh", "province_chair"},
      {"co_thi_dua_tinh", "province_chair"},
      {"bang_khen_ttg", "prime_minister"},
      {"co_thi_dua_cp", "prime_minister"},
      {"huan_chuong_ld_nhat", "president"},
      {"huan_chuong_ld_nhi", "president"},
      {"huan_chuong_ld_ba", "president"},
      {"giay_khen_xa_dot_xuat", "commune_chair"},
      {"bang_khen_tinh_dot_xuat", "province_chair"},
      // Reports of the movement (workflows/report.yaml): nobody decides them.
      {"bao_cao_ket_qua_nam", "none"},
      {"bao_cao_tong_hop_tinh", "none"},
      {"ke_hoach_thuc_hien", "none"},
      {"bao_cao_tong_ket_giai_doan", "none"}};
  REQUIRE(cat.awards.size() == expected.size());
  std::set<std::string> doc_set(docs.begin(), docs.end());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const AwardSpec& a = cat.awards[i];
    INFO(a.key.value);
    CHECK(a.key.value == expected[i].first);
    CHECK(a.authority.value == expected[i].second);
    CHECK(!a.name.value.empty());
    CHECK(a.loc.file == "config/awards.yaml");
    if (a.authority.value == "none") {
      CHECK(a.required_docs.size() == 1);
      continue;
    }
    CHECK(a.legal_basis.value.find("Luật Thi đua, khen thưởng 2022") != std::string::npos);
    CHECK(a.effective_from.value == "2025-01-01");
    CHECK(a.effective_to.value.empty());
    CHECK(a.loc.file == "config/awards.yaml");
    CHECK(a.loc.line > 0);
    for (const auto& d : a.required_docs) CHECK(doc_set.count(d.value) == 1);
    std::vector<std::string> req;
    for (const auto& d : a.required_docs) req.push_back(d.value);
    const bool ad_hoc = a.round.value == "ad_hoc";
    CHECK(ad_hoc == (a.key.value.find("dot_xuat") != std::string::npos));
    if (ad_hoc) {
      CHECK(req == std::vector<std::string>{"to_trinh", "tom_tat_thanh_tich"});
    } else {
      CHECK(std::find(req.begin(), req.end(), "to_trinh") != req.end());
      CHECK(std::find(req.begin(), req.end(), "bao_cao_thanh_tich") != req.end());
      CHECK(std::find(req.begin(), req.end(), "bien_ban_hop") != req.end());
      const bool central = a.authority.value == "prime_minister" || a.authority.value == "president";
      CHECK(central == (std::find(req.begin(), req.end(), "y_kien_hiep_y") != req.end()));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Files

TEST_CASE("read_text_file: missing file and non-UTF-8 content", "[yaml]") {
  auto missing = yaml::read_text_file("/nonexistent/hoso/orgs.yaml");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);

  const std::string path = temp_file("bad_utf8.yaml", "orgs:\n  - id: a\xff\n");
  auto bad = yaml::read_text_file(path);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidInput);
  INFO(bad.error().message);
  CHECK(bad.error().message.find(path + ":2:10:") != std::string::npos);
  CHECK(bad.error().message.find("byte offset 15") != std::string::npos);

  const std::string good = temp_file("good.yaml", "orgs: []\n# Phượng Tiến\n");
  auto ok = yaml::read_text_file(good);
  REQUIRE(ok.ok());
  CHECK(ok.value() == "orgs: []\n# Phượng Tiến\n");

  auto dir = yaml::read_text_file(std::filesystem::temp_directory_path().string());
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().code == ErrorCode::kInvalidInput);
  std::remove(path.c_str());
  std::remove(good.c_str());
}

// ---------------------------------------------------------------------------------------------
// Malformed input, exact locations

TEST_CASE("YAML syntax error becomes one diagnostic at yaml-cpp's position", "[yaml]") {
  std::vector<OrgSpec> orgs;
  const auto ds = yaml::parse_orgs("orgs:\n  - id: a\n    name: [x, y\n", "o.yaml", orgs);
  REQUIRE(ds.size() == 1);
  REQUIRE_DIAG(ds, "o.yaml:4:1", "end of sequence flow not found");

  const auto ds2 = yaml::parse_orgs("orgs:\n  - id: a\n    name: b: c\n", "o.yaml", orgs);
  REQUIRE(ds2.size() == 1);
  REQUIRE_DIAG(ds2, "o.yaml:3:12", "illegal map value");
}

TEST_CASE("invalid UTF-8 is reported at the first bad byte, before YAML parsing", "[yaml]") {
  std::vector<UserSpec> users;
  // Line 3: "    name: Tr" then a truncated two-byte sequence (0xC3 followed by '(').
  const std::string text = "users:\n  - id: x\n    name: Tr\xc3(n\n";
  const auto ds = yaml::parse_users(text, "u.yaml", users);
  REQUIRE(ds.size() == 1);
  REQUIRE_DIAG(ds, "u.yaml:3:13", "invalid UTF-8");
  CHECK(ds[0].message.find("byte offset 29") != std::string::npos);

  WorkflowSpec wf;
  const auto ds2 = yaml::parse_workflow("workflow: a\xed\xa0\x80\n", "w.yaml", wf);  // a UTF-16 surrogate
  REQUIRE_DIAG(ds2, "w.yaml:1:12", "invalid UTF-8");
}

TEST_CASE("unknown keys are errors at the key", "[yaml]") {
  std::vector<OrgSpec> orgs;
  auto ds =
      yaml::parse_orgs("orgs:\n  - id: a\n    name: A\n    kind: central\n    parnet: b\n", "o.yaml", orgs);
  REQUIRE_DIAG(ds, "o.yaml:5:5", "unknown key 'parnet' in org 'a'");

  std::vector<UserSpec> users;
  ds = yaml::parse_users("users: []\nadmins: []\n", "u.yaml", users);
  REQUIRE_DIAG(ds, "u.yaml:2:1", "unknown key 'admins'");

  CatalogueSpec cat;
  ds = yaml::parse_catalogue(
      "documents: []\nawards:\n  - {id: a, name: A, authority: president, lawful: x}\n", "a.yaml", cat);
  REQUIRE_DIAG(ds, "a.yaml:3:44", "unknown key 'lawful' in award 'a'");
}

TEST_CASE("wrong node types and missing required keys", "[yaml]") {
  std::vector<UserSpec> users;
  auto ds = yaml::parse_users(
      "users:\n  - id: a.clerk\n    name: A\n    email: a@b.example\n    org: a\n    roles: clerk\n",
      "u.yaml", users);
  REQUIRE_DIAG(ds, "u.yaml:6:12", "'roles' must be a list of strings");
  CHECK(users.empty());  // malformed entries are left out

  ds = yaml::parse_users(
      "users:\n  - id: a.clerk\n    name: {first: A}\n    org: a\n    roles: [clerk, [x]]\n", "u.yaml",
      users);
  REQUIRE_DIAG(ds, "u.yaml:3:11", "'name' must be a string");
  REQUIRE_DIAG(ds, "u.yaml:2:5", "missing key 'email' in user 'a.clerk'");
  REQUIRE_DIAG(ds, "u.yaml:5:20", "'roles' must be a list of strings");

  std::vector<OrgSpec> orgs;
  ds = yaml::parse_orgs("orgs: {id: a}\n", "o.yaml", orgs);
  REQUIRE_DIAG(ds, "o.yaml:1:7", "'orgs' must be a list");
  ds = yaml::parse_orgs("- id: a\n", "o.yaml", orgs);
  REQUIRE_DIAG(ds, "o.yaml:1:1", "expected a map with the key 'orgs'");
  ds = yaml::parse_orgs("", "o.yaml", orgs);
  REQUIRE_DIAG(ds, "o.yaml:1:1", "empty file");
  ds = yaml::parse_orgs("orgs:\n  - id: a\n    name:\n    kind: central\n", "o.yaml", orgs);
  REQUIRE_DIAG(ds, "o.yaml:3:5", "'name' must be a string");  // a null value is located at its key
  ds = yaml::parse_orgs("orgs:\n  - id: a\n    name: A\n    name: B\n    kind: central\n", "o.yaml", orgs);
  REQUIRE_DIAG(ds, "o.yaml:4:5", "duplicate key 'name' in org 'a' (first at line 3)");
  ds = yaml::parse_orgs("orgs: []\n---\norgs: []\n", "o.yaml", orgs);
  REQUIRE_DIAG(ds, "o.yaml:3:1", "only one YAML document");
}

TEST_CASE("check_directory: the tree", "[yaml]") {
  SECTION("a clean small tree") {
    const Dir d = directory(kSmallOrgs, kSmallUsers);
    INFO(show(d.parse) << show(d.check));
    CHECK(d.parse.empty());
    CHECK(d.check.empty());
    REQUIRE(d.org_src.size() == 3);
    CHECK(where(d.org_src[2].parent.loc) == "orgs.yaml:12:13");
    CHECK(where(d.org_src[2].loc) == "orgs.yaml:9:5");
    REQUIRE(d.user_src.size() == 1);
    CHECK(where(d.user_src[0].roles[0].loc) == "users.yaml:6:13");
  }
  SECTION("duplicate org id") {
    const Dir d = directory(
        std::string(kSmallOrgs) + "  - id: xa\n    name: \"Xã C\"\n    kind: commune\n    parent: tinh\n",
        kSmallUsers);
    REQUIRE(d.parse.empty());
    REQUIRE_DIAG(d.check, "orgs.yaml:13:9", "duplicate org id 'xa' (first defined at line 9)");
  }
  SECTION("unknown parent") {
    const Dir d = directory(
        std::string(kSmallOrgs) + "  - id: thon\n    name: Thôn D\n    kind: unit\n    parent: xa-khac\n",
        kSmallUsers);
    REQUIRE_DIAG(d.check, "orgs.yaml:16:13", "org 'thon': unknown parent 'xa-khac'");
  }
  SECTION("unknown kind") {
    const Dir d = directory(
        std::string(kSmallOrgs) + "  - id: huyen\n    name: Huyện E\n    kind: district\n    parent: tinh\n",
        kSmallUsers);
    REQUIRE_DIAG(d.check, "orgs.yaml:15:11", "org 'huyen': unknown kind 'district'");
  }
  SECTION("no root, several roots, cycles") {
    Dir d = directory(
        "orgs:\n  - {id: a, name: A, kind: central, parent: b}\n  - {id: b, name: B, kind: province, parent: "
        "a}\n",
        "users: []\n");
    REQUIRE_DIAG(d.check, "orgs.yaml:2:5", "the org tree has no root");
    REQUIRE_DIAG(d.check, "orgs.yaml:2:45", "org 'a' of kind central is the root and cannot have a parent");
    CHECK(std::any_of(d.check.begin(), d.check.end(), [](const Diagnostic& x) {
      return x.message.find("the parent chain has a cycle (a → b → a)") != std::string::npos;
    }));
    d = directory(
        "orgs:\n  - {id: a, name: A, kind: central}\n  - {id: b, name: B, kind: central}\n  - {id: c, name: "
        "C, kind: province}\n",
        "users: []\n");
    REQUIRE_DIAG(d.check, "orgs.yaml:3:10", "org 'b' is a second root (the root is 'a')");
    REQUIRE_DIAG(d.check, "orgs.yaml:4:10", "org 'c' has no parent");
  }
  SECTION("agencies directly under their level node; ids, names") {
    const Dir d = directory(std::string(kSmallOrgs) +
                                "  - {id: ca-xa, name: Công an xã B, kind: province_police, parent: xa}\n"
                                "  - {id: Bad_Id, name: \"  \", kind: unit, parent: xa}\n",
                            kSmallUsers);
    REQUIRE_DIAG(d.check, "orgs.yaml:13:70",
                 "org 'ca-xa' of kind province_police must be a direct child of an org of kind province");
    REQUIRE_DIAG(d.check, "orgs.yaml:14:10", "org id 'Bad_Id' may contain only");
    REQUIRE_DIAG(d.check, "orgs.yaml:14:24", "org 'Bad_Id' has an empty name");
  }
}

TEST_CASE("check_directory: users", "[yaml]") {
  const std::string users = std::string(kSmallUsers) +
                            "  - id: tinh.signer\n"  // line 7
                            "    name: \"Trần Thị Bình\"\n"
                            "    email: binh@tinh\n"           // line 9: no dot in the domain
                            "    org: tinh-khac\n"             // line 10: unknown org
                            "    roles: [signer, chairman]\n"  // line 11: unknown role
                            "  - id: xa.clerk\n"               // line 12: duplicate id
                            "    name: \"\"\n"
                            "    email: an@@xa.example\n"
                            "    org: xa\n"
                            "    roles: []\n"
                            "  - {id: system, name: \"Hệ thống\", email: ht@xa.example, org: xa, roles: [clerk]}\n";  // 17
  const Dir d = directory(kSmallOrgs, users);
  INFO(show(d.parse));
  REQUIRE(d.parse.empty());
  REQUIRE_DIAG(d.check, "users.yaml:9:12", "user 'tinh.signer': invalid email 'binh@tinh'");
  REQUIRE_DIAG(d.check, "users.yaml:10:10", "user 'tinh.signer': unknown org 'tinh-khac'");
  REQUIRE_DIAG(d.check, "users.yaml:11:21", "user 'tinh.signer': unknown role 'chairman'");
  REQUIRE_DIAG(d.check, "users.yaml:12:9", "duplicate user id 'xa.clerk' (first defined at line 2)");
  REQUIRE_DIAG(d.check, "users.yaml:13:11", "user 'xa.clerk' has an empty name");
  REQUIRE_DIAG(d.check, "users.yaml:14:12", "invalid email 'an@@xa.example'");
  REQUIRE_DIAG(d.check, "users.yaml:12:5", "user 'xa.clerk' has no roles");
  REQUIRE_DIAG(d.check, "users.yaml:17:10", "user id 'system' is reserved for the system");
  CHECK(d.check.size() == 8);

  // load_directory does the same in one call, and fills the specs.
  std::vector<OrgSpec> o;
  std::vector<UserSpec> u;
  auto ds = yaml::load_directory(kSmallOrgs, "orgs.yaml", users, "users.yaml", o, u);
  CHECK(ds.size() == 8);
  ds = yaml::load_directory(kSmallOrgs, "orgs.yaml", kSmallUsers, "users.yaml", o, u);
  CHECK(ds.empty());
  REQUIRE(u.size() == 1);
  CHECK(u[0].name == "Nguyễn Văn An");
  CHECK(u[0].roles == std::vector<std::string>{"clerk"});
}

// ---------------------------------------------------------------------------------------------
// Workflows

namespace {

// Every construct of workflows/FORMAT.md. Line numbers are referred to below.
const char* kFullWorkflow =
    "workflow: standard\n"                                                                // 1
    "title: \"Thủ tục khen thưởng thông thường\"\n"                                       // 2
    "awards: [giay_khen_xa, bang_khen_tinh]\n"                                            // 3
    "origins: [unit, department]\n"                                                       // 4
    "create_roles: [clerk]\n"                                                             // 5
    "fields:\n"                                                                           // 6
    "  recipient_name: {type: text, label: \"Tên tập thể, cá nhân\", required: true}\n"   // 7
    "  recipient_kind: {type: enum, values: [collective, individual], required: true}\n"  // 8
    "  provincial_merits: {type: int, min: 0, max: 100}\n"                                // 9
    "  leads_cluster: {type: bool}\n"                                                     // 10
    "  cert_cycle_end: {type: date}\n"                                                    // 11
    "  decision_number: {type: text, max_length: 100}\n"                                  // 12
    "states:\n"                                                                           // 13
    "  draft: {title: \"Dự thảo\", initial: true, holder: origin}\n"                      // 14
    "  commune_intake:\n"                                                                 // 15
    "    title: \"Công an xã tiếp nhận\"\n"                                               // 16
    "    holder: {of: commune_police, within: commune}\n"                                 // 17
    "  council_vote:\n"                                                                   // 18
    "    title: \"Hội đồng TĐKT tỉnh bỏ phiếu\"\n"                                        // 19
    "    holder: {of: home_affairs, within: province}\n"                                  // 20
    "    vote:\n"                                                                         // 21
    "      role: council_member\n"                                                        // 22
    "      threshold_percent: 80\n"                                                       // 23
    "      denominator: members\n"                                                        // 24
    "      quorum_percent: 75\n"                                                          // 25
    "      pass: approved\n"                                                              // 26
    "      fail: rejected\n"                                                              // 27
    "      close_role: clerk\n"                                                           // 28
    "  approved: {title: \"Đã khen thưởng\", terminal: true, outcome: approved}\n"        // 29
    "  rejected: {title: \"Không đủ điều kiện\", terminal: true, outcome: rejected}\n"    // 30
    "transitions:\n"                                                                      // 31
    "  - action: submit\n"                                                                // 32
    "    kind: submit\n"                                                                  // 33
    "    title: \"Trình hồ sơ\"\n"                                                        // 34
    "    from: draft\n"                                                                   // 35
    "    to: commune_intake\n"                                                            // 36
    "    when: {entry: [commune], authority: [commune_chair, province_chair], awards: [giay_khen_xa]}\n"  // 37
    "    roles: [clerk]\n"                                                         // 38
    "    at: origin\n"                                                             // 39
    "    award_documents: true\n"                                                  // 40
    "    requires_documents: [to_trinh]\n"                                         // 41
    "    requires_fields: [recipient_name]\n"                                      // 42
    "    accepts_fields: all\n"                                                    // 43
    "    eligibility: true\n"                                                      // 44
    "    guards:\n"                                                                // 45
    "      - {id: has_plan, expr: \"has_plan\", message: \"Chưa có kế hoạch\"}\n"  // 46
    "      - id: merits\n"                                                         // 47
    "        expr: provincial_merits >= 3\n"                                       // 48
    "        message: 'Chưa đủ 03 Bằng khen'\n"                                    // 49
    "    set: {decision_number: \"...\", provincial_merits: 0}\n"                  // 50
    "    note_required: false\n"                                                   // 51
    "    effects:\n"                                                               // 52
    "      - {notify: holder, template: dossier_received}\n"                       // 53
    "      - {start_timer: processing, after: \"10 working_days\"}\n"              // 54
    "      - {cancel_timer: processing}\n"                                         // 55
    "  - action: return\n"                                                         // 56
    "    kind: return\n"                                                           // 57
    "    from: [commune_intake, council_vote]\n"                                   // 58
    "    to: draft\n"                                                              // 59
    "    roles: [clerk]\n"                                                         // 60
    "    accepts_fields: [recipient_name, decision_number]\n"                      // 61
    "  - action: withdraw\n"                                                       // 62
    "    kind: withdraw\n"                                                         // 63
    "    from: \"*\"\n"                                                            // 64
    "    to: rejected\n"                                                           // 65
    "eligibility:\n"                                                               // 66
    "  co_thi_dua_tinh:\n"                                                         // 67
    "    - id: leads_cluster\n"                                                    // 68
    "      expr: \"leads_cluster\"\n"                                              // 69
    "      message: \"Chưa dẫn đầu cụm, khối thi đua\"\n"                          // 70
    "    - id: block\n"                                                            // 71
    "      expr: |\n"                                                              // 72
    "        provincial_merits >= 3\n"                                             // 73
    "      message: m\n"                                                           // 74
    "  bang_khen_tinh: []\n"                                                       // 75
    "  bang_khen_ttg:\n"                                                           // 76
    "    - id: collective_plan\n"                                                  // 77
    "      applies_if: 'recipient_kind == \"collective\"'\n"                       // 78
    "      expr: leads_cluster\n"                                                  // 79
    "      message: m\n";                                                          // 80

std::vector<std::string> values(const std::vector<Str>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.value);
  return out;
}

}  // namespace

TEST_CASE("a workflow with every construct round-trips into the spec", "[yaml][workflow]") {
  WorkflowSpec wf;
  const auto ds = yaml::parse_workflow(kFullWorkflow, "workflows/standard.yaml", wf);
  INFO(show(ds));
  REQUIRE(ds.empty());
  const std::string F = "workflows/standard.yaml";
  CHECK(wf.file == F);
  CHECK(wf.name.value == "standard");
  CHECK(where(wf.name.loc) == F + ":1:11");
  CHECK(wf.title.value == "Thủ tục khen thưởng thông thường");
  CHECK(values(wf.awards) == std::vector<std::string>{"giay_khen_xa", "bang_khen_tinh"});
  CHECK(where(wf.awards[1].loc) == F + ":3:24");
  CHECK(values(wf.origin_kinds) == std::vector<std::string>{"unit", "department"});
  CHECK(values(wf.create_roles) == std::vector<std::string>{"clerk"});

  // Fields, in document order.
  REQUIRE(wf.fields.size() == 6);
  std::vector<std::string> field_keys;
  for (const auto& f : wf.fields) field_keys.push_back(f.key.value);
  CHECK(field_keys == std::vector<std::string>{"recipient_name", "recipient_kind", "provincial_merits",
                                               "leads_cluster", "cert_cycle_end", "decision_number"});
  CHECK(where(wf.fields[0].key.loc) == F + ":7:3");
  CHECK(wf.fields[0].type.value == "text");
  CHECK(wf.fields[0].label.value == "Tên tập thể, cá nhân");
  CHECK(wf.fields[0].required);
  CHECK(values(wf.fields[1].values) == std::vector<std::string>{"collective", "individual"});
  CHECK(wf.fields[1].required);
  REQUIRE(wf.fields[2].min);
  REQUIRE(wf.fields[2].max);
  CHECK(wf.fields[2].min->value == 0);
  CHECK(wf.fields[2].max->value == 100);
  CHECK(where(wf.fields[2].max->loc) == F + ":9:47");
  CHECK_FALSE(wf.fields[2].required);
  CHECK(wf.fields[3].type.value == "bool");
  CHECK(wf.fields[4].type.value == "date");
  REQUIRE(wf.fields[5].max_length);
  CHECK(wf.fields[5].max_length->value == 100);
  CHECK_FALSE(wf.fields[5].min);

  // States.
  REQUIRE(wf.states.size() == 5);
  const StateSpec& draft = wf.states[0];
  CHECK(draft.key.value == "draft");
  CHECK(where(draft.loc) == F + ":14:3");
  CHECK(draft.title.value == "Dự thảo");
  CHECK(draft.initial);
  CHECK_FALSE(draft.terminal);
  REQUIRE(draft.holder);
  CHECK(draft.holder->of.value == "origin");
  CHECK(draft.holder->within.value.empty());
  CHECK(where(draft.holder->of.loc) == F + ":14:56");
  const StateSpec& intake = wf.states[1];
  REQUIRE(intake.holder);
  CHECK(intake.holder->of.value == "commune_police");
  CHECK(intake.holder->within.value == "commune");
  CHECK(where(intake.holder->within.loc) == F + ":17:42");
  CHECK_FALSE(intake.vote);
  const StateSpec& vote_state = wf.states[2];
  REQUIRE(vote_state.vote);
  const VoteSpec& v = *vote_state.vote;
  CHECK(v.role.value == "council_member");
  CHECK(v.threshold_percent.value == 80);
  CHECK(where(v.threshold_percent.loc) == F + ":23:26");
  CHECK(v.denominator.value == "members");
  CHECK(v.quorum_percent.value == 75);
  CHECK(v.pass.value == "approved");
  CHECK(v.fail.value == "rejected");
  CHECK(v.close_role.value == "clerk");
  CHECK(where(v.loc) == F + ":22:7");
  const StateSpec& approved = wf.states[3];
  CHECK(approved.terminal);
  CHECK(approved.outcome.value == "approved");
  CHECK_FALSE(approved.holder);

  // Transitions.
  REQUIRE(wf.transitions.size() == 3);
  const TransitionSpec& t = wf.transitions[0];
  CHECK(where(t.loc) == F + ":32:5");
  CHECK(t.action.value == "submit");
  CHECK(t.kind.value == "submit");
  CHECK(t.title.value == "Trình hồ sơ");
  CHECK(values(t.from) == std::vector<std::string>{"draft"});
  CHECK(where(t.from[0].loc) == F + ":35:11");
  CHECK(t.to.value == "commune_intake");
  CHECK(values(t.when.entry) == std::vector<std::string>{"commune"});
  CHECK(values(t.when.authority) == std::vector<std::string>{"commune_chair", "province_chair"});
  CHECK(values(t.when.awards) == std::vector<std::string>{"giay_khen_xa"});
  CHECK(where(t.when.authority[1].loc) == F + ":37:57");
  CHECK(values(t.roles) == std::vector<std::string>{"clerk"});
  CHECK(t.at.value == "origin");
  CHECK(t.award_documents);
  CHECK(values(t.requires_docs) == std::vector<std::string>{"to_trinh"});
  CHECK(values(t.requires_fields) == std::vector<std::string>{"recipient_name"});
  CHECK(t.accepts_all);
  CHECK(t.accepts_fields.empty());
  CHECK(t.eligibility);
  REQUIRE(t.guards.size() == 2);
  CHECK(t.guards[0].id.value == "has_plan");
  CHECK(t.guards[0].expr.value == "has_plan");
  CHECK(t.guards[0].message.value == "Chưa có kế hoạch");
  CHECK(where(t.guards[0].loc) == F + ":46:9");
  CHECK(where(t.guards[0].expr.loc) == F + ":46:31");  // quoted: after the opening quote (col 30)
  CHECK(t.guards[1].expr.value == "provincial_merits >= 3");
  CHECK(where(t.guards[1].expr.loc) == F + ":48:15");  // plain: at the mark
  CHECK(t.guards[1].message.value == "Chưa đủ 03 Bằng khen");
  REQUIRE(t.set.size() == 2);
  CHECK(t.set[0].first.value == "decision_number");
  CHECK(t.set[0].second.value == "...");
  CHECK(t.set[1].first.value == "provincial_merits");
  CHECK(t.set[1].second.value == "0");
  CHECK(where(t.set[1].second.loc) == F + ":50:54");
  REQUIRE(t.note_required);
  CHECK_FALSE(*t.note_required);
  REQUIRE(t.effects.size() == 3);
  CHECK(t.effects[0].kind.value == "notify");
  CHECK(t.effects[0].to.value == "holder");
  CHECK(t.effects[0].template_.value == "dossier_received");
  CHECK(where(t.effects[0].loc) == F + ":53:9");
  CHECK(t.effects[1].kind.value == "start_timer");
  CHECK(t.effects[1].timer.value == "processing");
  CHECK(t.effects[1].after.value == "10 working_days");
  CHECK(t.effects[2].kind.value == "cancel_timer");
  CHECK(t.effects[2].timer.value == "processing");
  CHECK(t.effects[2].after.value.empty());

  const TransitionSpec& ret = wf.transitions[1];
  CHECK(values(ret.from) == std::vector<std::string>{"commune_intake", "council_vote"});
  CHECK(values(ret.accepts_fields) == std::vector<std::string>{"recipient_name", "decision_number"});
  CHECK_FALSE(ret.accepts_all);
  CHECK_FALSE(ret.note_required);   // absent: the compiler applies the default
  CHECK(ret.at.value == "holder");  // default
  CHECK(ret.effects.empty());
  CHECK(ret.guards.empty());
  const TransitionSpec& wd = wf.transitions[2];
  CHECK(values(wd.from) == std::vector<std::string>{"*"});
  CHECK(wd.roles.empty());

  // Eligibility: award → clauses, in document order.
  REQUIRE(wf.eligibility.size() == 3);
  CHECK(wf.eligibility[0].first.value == "co_thi_dua_tinh");
  CHECK(where(wf.eligibility[0].first.loc) == F + ":67:3");
  REQUIRE(wf.eligibility[0].second.size() == 2);
  const ClauseSpec& c = wf.eligibility[0].second[0];
  CHECK(c.id.value == "leads_cluster");
  CHECK(c.expr.value == "leads_cluster");
  CHECK(where(c.expr.loc) == F + ":69:14");
  CHECK(c.message.value == "Chưa dẫn đầu cụm, khối thi đua");
  const ClauseSpec& block = wf.eligibility[0].second[1];
  CHECK(block.expr.value == "provincial_merits >= 3\n");
  CHECK(where(block.expr.loc) == F + ":73:9");  // block scalar: first content character
  CHECK(wf.eligibility[1].first.value == "bang_khen_tinh");
  CHECK(wf.eligibility[1].second.empty());
  CHECK(c.applies_if.value.empty());  // absent
  REQUIRE(wf.eligibility[2].second.size() == 1);
  const ClauseSpec& pre = wf.eligibility[2].second[0];
  CHECK(pre.applies_if.value == "recipient_kind == \"collective\"");
  CHECK(where(pre.applies_if.loc) == F + ":78:20");  // after the opening single quote (col 19)
  CHECK(pre.expr.value == "leads_cluster");
}

TEST_CASE("expr location: plain, double-quoted and single-quoted scalars", "[yaml][workflow]") {
  auto parse_guard = [](const std::string& expr_yaml) {
    const std::string text =
        "workflow: w\ntitle: T\nawards: [a]\norigins: [unit]\ncreate_roles: [clerk]\n"
        "states: {s: {title: S, initial: true, holder: origin}}\n"
        "transitions:\n"
        "  - {action: a, kind: submit, from: s, to: s, guards: [{id: g, message: m, expr: " +
        expr_yaml + "}]}\n";
    WorkflowSpec wf;
    const auto ds = yaml::parse_workflow(text, "w.yaml", wf);
    INFO(show(ds));
    REQUIRE(ds.empty());
    REQUIRE(wf.transitions.size() == 1);
    REQUIRE(wf.transitions[0].guards.size() == 1);
    return wf.transitions[0].guards[0].expr;
  };
  // "  - {action: a, kind: submit, from: s, to: s, guards: [{id: g, message: m, expr: " is 81 bytes.
  const Str plain = parse_guard("x >= 1");
  CHECK(plain.value == "x >= 1");
  CHECK(where(plain.loc) == "w.yaml:8:82");
  const Str dq = parse_guard("\"x >= 1\"");
  CHECK(dq.value == "x >= 1");
  CHECK(where(dq.loc) == "w.yaml:8:83");
  const Str sq = parse_guard("'x >= 1'");
  CHECK(sq.value == "x >= 1");
  CHECK(where(sq.loc) == "w.yaml:8:83");
}

TEST_CASE("workflow shape errors", "[yaml][workflow]") {
  const std::string head =
      "workflow: w\ntitle: T\nawards: [a]\norigins: [unit]\ncreate_roles: [clerk]\n"
      "states: {s: {title: S, initial: true, holder: origin}}\n"
      "transitions:\n";  // transitions start on line 8
  auto parse = [&](const std::string& transitions) {
    WorkflowSpec wf;
    return yaml::parse_workflow(head + transitions, "w.yaml", wf);
  };
  auto ds = parse("  - action: a\n    kind: submit\n    from: s\n    to: s\n    foo: 1\n");
  REQUIRE_DIAG(ds, "w.yaml:12:5", "unknown key 'foo' in transition 'a'");
  ds = parse("  - action: a\n    kind: submit\n    from: s\n");
  REQUIRE_DIAG(ds, "w.yaml:8:5", "missing key 'to' in transition 'a'");
  ds = parse("  - {action: a, kind: submit, from: {s: 1}, to: s}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:37", "'from' must be a string or a list of strings");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, award_documents: yes}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:64", "'award_documents' must be true or false");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, eligibility: \"true\"}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:60", "'eligibility' must be true or false");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, accepts_fields: some}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:63", "'accepts_fields' must be 'all' or a list of strings");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, set: {x: [1]}}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:56", "the value of 'x' in 'set' must be a literal");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, when: {entry: commune}}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:61", "'entry' must be a list of strings");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, when: {level: [commune]}}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:54", "unknown key 'level' in 'when' of transition 'a'");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, guards: [{id: g, expr: x}]}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:56", "missing key 'message' in guard 'g'");
  ds = parse(
      "  - {action: a, kind: submit, from: s, to: s, guards: [{id: g, expr: x, message: m, applies_if: "
      "[x]}]}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:97", "'applies_if' must be a string");

  // Effects: exactly one kind, with the keys that kind takes.
  ds = parse("  - {action: a, kind: submit, from: s, to: s, effects: [{notify: holder}]}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:57", "missing key 'template' in notify effect");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, effects: [{start_timer: t}]}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:57", "missing key 'after' (a duration) or 'on' (a date field) in start_timer effect");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, effects: [{start_timer: t, after: 1 days, on: d}]}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:89", "has 'after' or 'on', not both");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, effects: [{start_timer: t, after: 1 days, hour: 8}]}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:89", "'hour' goes with 'on'");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, effects: [{notify: holder, template: x, on: d}]}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:87", "'on' is only allowed in a start_timer effect");
  ds = parse(
      "  - {action: a, kind: submit, from: s, to: s, effects: [{notify: holder, cancel_timer: t, template: "
      "x}]}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:74", "found both 'notify' and 'cancel_timer'");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, effects: [{cancel_timer: t, after: 1 day}]}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:75", "'after' is only allowed in a start_timer effect");
  ds = parse("  - {action: a, kind: submit, from: s, to: s, effects: [{template: x}]}\n");
  REQUIRE_DIAG(ds, "w.yaml:8:57", "an effect needs one of 'notify', 'start_timer', 'cancel_timer'");

  // States, fields, votes, holders.
  WorkflowSpec wf;
  ds = yaml::parse_workflow(
      "workflow: w\ntitle: T\nawards: [a]\norigins: [unit]\ncreate_roles: [clerk]\n"
      "fields:\n"
      "  n: {type: int, min: ten}\n"  // 7
      "states:\n"
      "  s: {title: S, initial: true, holder: somebody}\n"                 // 9
      "  v: {title: V, holder: {of: home_affairs, at: province}}\n"        // 10
      "  w: {title: W, vote: {role: council_member, pass: s, fail: s}}\n"  // 11
      "  x: {initial: true}\n"                                             // 12
      "transitions: []\n",
      "w.yaml", wf);
  REQUIRE_DIAG(ds, "w.yaml:7:23", "'min' must be an integer");
  REQUIRE_DIAG(ds, "w.yaml:9:40", "'holder' must be 'origin' or a map {of, within}, not 'somebody'");
  REQUIRE_DIAG(ds, "w.yaml:10:44", "unknown key 'at' in holder of state 'v'");
  REQUIRE_DIAG(ds, "w.yaml:11:23", "missing key 'threshold_percent' in vote of state 'w'");
  REQUIRE_DIAG(ds, "w.yaml:12:6", "missing key 'title' in state 'x'");

  ds = yaml::parse_workflow("workflow: w\n", "w.yaml", wf);
  REQUIRE_DIAG(ds, "w.yaml:1:1", "missing key 'states' in the workflow");
}

TEST_CASE("the parse functions never throw", "[yaml]") {
  const std::vector<std::string> inputs = {
      "",
      "~",
      "[]",
      "\"scalar\"",
      "orgs: ~",
      "users: [~, 1, [x]]",
      "{a: b}: c",
      "&a [*a]",
      "!!binary x",
      "\t- x",
      "a: *undefined",
      std::string(3000, '['),
      "states: {s: ~}\ntransitions: [~, 1]\nfields: [x]\neligibility: {a: 1}\n",
      "transitions:\n  - {effects: [1, {notify: [x]}], guards: 1, set: 1, when: 1, from: ~}\n"};
  for (const auto& in : inputs) {
    INFO(in.substr(0, 80));
    std::vector<OrgSpec> o;
    std::vector<UserSpec> u;
    CatalogueSpec c;
    WorkflowSpec w;
    std::vector<Diagnostic> ds;
    CHECK_NOTHROW(ds = yaml::parse_orgs(in, "f", o));
    CHECK_FALSE(ds.empty());
    CHECK_NOTHROW(ds = yaml::parse_users(in, "f", u));
    CHECK_FALSE(ds.empty());
    CHECK_NOTHROW(ds = yaml::parse_catalogue(in, "f", c));
    CHECK_FALSE(ds.empty());
    CHECK_NOTHROW(ds = yaml::parse_workflow(in, "f", w));
    CHECK_FALSE(ds.empty());
    for (const auto& d : ds) {
      CHECK(d.loc.file == "f");
      CHECK(d.loc.line >= 1);
      CHECK(d.loc.col >= 1);
    }
  }
}

TEST_CASE("the examples of workflows/FORMAT.md are accepted", "[yaml][format]") {
  const std::string doc = read_config("workflows/FORMAT.md");
  int parsed = 0;
  for (std::size_t at = doc.find("```yaml\n"); at != std::string::npos; at = doc.find("```yaml\n", at)) {
    at += 8;
    const std::size_t end = doc.find("```", at);
    REQUIRE(end != std::string::npos);
    const std::string block = doc.substr(at, end - at);
    INFO(block.substr(0, 60));
    std::vector<Diagnostic> ds;
    if (block.rfind("orgs:", 0) == 0) {
      std::vector<OrgSpec> o;
      ds = yaml::parse_orgs(block, "FORMAT.md", o);
      CHECK(o.size() == 2);
    } else if (block.rfind("users:", 0) == 0) {
      std::vector<UserSpec> u;
      ds = yaml::parse_users(block, "FORMAT.md", u);
      CHECK(u.size() == 1);
    } else if (block.rfind("documents:", 0) == 0) {
      CatalogueSpec c;
      ds = yaml::parse_catalogue(block, "FORMAT.md", c);
      CHECK(c.awards.size() == 1);
    } else if (block.rfind("workflow:", 0) == 0) {
      WorkflowSpec w;
      ds = yaml::parse_workflow(block, "FORMAT.md", w);
      REQUIRE(w.transitions.size() == 2);  // a person's transition and a timeout
      CHECK(w.transitions[1].kind.value == "timeout");
      CHECK(w.transitions[1].timer.value == "intake_window");
      CHECK(w.states.size() == 4);
    } else if (block.rfind("reading:", 0) == 0) {
      ReportPlan plan;
      ds = yaml::parse_reports(block, "FORMAT.md", testing::shipped().directory, testing::shipped().report_kinds(), plan);
      CHECK(plan.rules.size() == 2);
    } else {
      FAIL("unrecognised example");
    }
    INFO(show(ds));
    CHECK(ds.empty());
    ++parsed;
  }
  CHECK(parsed == 5);
}

// ---------------------------------------------------------------------------------------------
// Delegates: who may act for a user while they are away

namespace {

// kSmallUsers plus a deputy, with `delegates` (indented for the clerk's entry) appended to the clerk.
std::string users_with_delegates(const std::string& delegates) {
  return std::string(kSmallUsers) + "    delegates:\n" + delegates +
         "  - id: xa.signer\n    name: \"Trần Thị Bình\"\n    email: binh.tt@xa.example\n    org: xa\n"
         "    roles: [signer]\n";
}

}  // namespace

TEST_CASE("delegates: a valid list is read with its dates and reason, and the directory builds",
          "[yaml][delegation]") {
  Dir d =
      directory(kSmallOrgs,
                users_with_delegates(
                    "      - {user: xa.signer, from: 2026-01-01, until: 2026-01-31, reason: \"Nghỉ phép\"}\n"
                    "      - {user: xa.signer, from: 2026-07-01, until: 2026-07-15}\n"));
  INFO(show(d.parse) << show(d.check));
  REQUIRE(d.parse.empty());
  REQUIRE(d.check.empty());
  const UserSpec* clerk = find_user(d.users, "xa.clerk");
  REQUIRE(clerk != nullptr);
  REQUIRE(clerk->delegates.size() == 2);
  CHECK(clerk->delegates[0] == DelegationSpec{"xa.signer", "2026-01-01", "2026-01-31", "Nghỉ phép"});
  CHECK(clerk->delegates[1].reason.empty());
  auto dir = Directory::build(d.orgs, d.users);
  REQUIRE(dir.ok());
  const User& u = dir->user(*dir->find_user("xa.clerk"));
  REQUIRE(u.delegates.size() == 2);
  CHECK(u.delegates[0].deputy == *dir->find_user("xa.signer"));
  CHECK(u.delegates[0].covers(*parse_date("2026-01-31")));
  CHECK_FALSE(u.delegates[0].covers(*parse_date("2026-02-01")));
}

TEST_CASE("delegates: each rule is an error located at the offending value", "[yaml][delegation]") {
  // The clerk's delegates start at line 7; each entry is one line.
  SECTION("unknown delegate user") {
    Dir d = directory(
        kSmallOrgs, users_with_delegates("      - {user: xa.nobody, from: 2026-01-01, until: 2026-01-31}\n"));
    REQUIRE(d.parse.empty());
    REQUIRE_DIAG(d.check, "users.yaml:8:16", "user 'xa.clerk': delegates[0].user: unknown user 'xa.nobody'");
  }
  SECTION("self-delegation") {
    Dir d = directory(
        kSmallOrgs, users_with_delegates("      - {user: xa.clerk, from: 2026-01-01, until: 2026-01-31}\n"));
    REQUIRE_DIAG(d.check, "users.yaml:8:16", "delegates[0].user: a user cannot be their own delegate");
  }
  SECTION("a date that is not a date") {
    Dir d = directory(
        kSmallOrgs, users_with_delegates("      - {user: xa.signer, from: 2026-02-30, until: 31/12/2026}\n"));
    REQUIRE_DIAG(d.check, "users.yaml:8:33",
                 "delegates[0].from: '2026-02-30' is not a date (expected YYYY-MM-DD)");
    REQUIRE_DIAG(d.check, "users.yaml:8:52",
                 "delegates[0].until: '31/12/2026' is not a date (expected YYYY-MM-DD)");
  }
  SECTION("from after until") {
    Dir d = directory(
        kSmallOrgs, users_with_delegates("      - {user: xa.signer, from: 2026-05-01, until: 2026-04-01}\n"));
    REQUIRE_DIAG(d.check, "users.yaml:8:52", "delegates[0].until: 2026-04-01 is before from 2026-05-01");
  }
  SECTION("the same delegate twice for overlapping periods") {
    Dir d = directory(
        kSmallOrgs, users_with_delegates("      - {user: xa.signer, from: 2026-01-01, until: 2026-01-31}\n"
                                         "      - {user: xa.signer, from: 2026-01-31, until: 2026-02-10}\n"));
    REQUIRE_DIAG(d.check, "users.yaml:9:16",
                 "delegates[1].user: 'xa.signer' is already a delegate for an overlapping period (line 8)");
  }
  SECTION("shape: a missing until and an unknown key") {
    std::vector<UserSpec> users;
    auto ds = yaml::parse_users(
        users_with_delegates("      - {user: xa.signer, from: 2026-01-01, untill: 2026-01-31}\n"),
        "users.yaml", users);
    REQUIRE_DIAG(ds, "users.yaml:8:45", "unknown key 'untill' in user 'xa.clerk', delegate 'xa.signer'");
    REQUIRE_DIAG(ds, "users.yaml:8:9", "missing key 'until' in user 'xa.clerk', delegate 'xa.signer'");
  }
  SECTION("Directory::build refuses the same, naming the user") {
    UserSpec clerk{"xa.clerk",
                   "An",
                   "an@xa.example",
                   "xa",
                   {"clerk"},
                   true,
                   {DelegationSpec{"xa.clerk", "2026-01-01", "2026-01-31", ""}}};
    Dir d = directory(kSmallOrgs, kSmallUsers);
    auto dir = Directory::build(d.orgs, {clerk});
    REQUIRE_FALSE(dir.ok());
    CHECK_THAT(dir.error().message, Catch::Contains("user 'xa.clerk': cannot be their own delegate"));
  }
}

TEST_CASE(
    "delegates: a delegate is of the same org or of an agency whose area holds it - not of another area",
    "[yaml][delegation]") {
  // Two communes of one province, each with a clerk; the province's police with a clerk; the first commune's
  // clerk lists one delegate (line 8 of the users).
  const std::string orgs = std::string(kSmallOrgs) +
                           "  - id: xa2\n    name: \"Xã C\"\n    kind: commune\n    parent: tinh\n"
                           "  - id: ca-tinh\n    name: \"Công an tỉnh A\"\n    kind: province_police\n"
                           "    parent: tinh\n";
  auto users = [](const std::string& deputy) {
    return std::string(kSmallUsers) + "    delegates:\n      - {user: " + deputy +
           ", from: 2026-01-01, until: 2026-01-31}\n"
           "  - id: xa2.clerk\n    name: \"Lê Văn Cường\"\n    email: cuong.lv@xa2.example\n    org: xa2\n"
           "    roles: [clerk]\n"
           "  - id: ca-tinh.clerk\n    name: \"Phạm Thị Dung\"\n    email: dung.pt@ca-tinh.example\n"
           "    org: ca-tinh\n    roles: [clerk]\n";
  };
  {  // The province police serves the whole province, the first commune included: accepted.
    Dir d = directory(orgs, users("ca-tinh.clerk"));
    INFO(show(d.parse) << show(d.check));
    REQUIRE(d.parse.empty());
    CHECK(d.check.empty());
    CHECK(Directory::build(d.orgs, d.users).ok());
  }
  {  // Another commune's clerk: refused, where the delegate is named, and by Directory::build alike.
    Dir d = directory(orgs, users("xa2.clerk"));
    REQUIRE(d.parse.empty());
    REQUIRE_DIAG(
        d.check, "users.yaml:8:16",
        "user 'xa.clerk': delegates[0].user: 'xa2.clerk' (org 'xa2') may not act for a user of org 'xa': "
        "a delegate belongs to the same org, or to an agency whose area holds it");
    auto dir = Directory::build(d.orgs, d.users);
    REQUIRE_FALSE(dir.ok());
    CHECK_THAT(dir.error().message,
               Catch::Contains("delegate 'xa2.clerk' is of an org whose area does not hold 'xa'"));
  }
}
