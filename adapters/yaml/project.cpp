#include "adapters/yaml/project.hpp"

#include "adapters/yaml/calendar_loader.hpp"
#include "adapters/yaml/reports_loader.hpp"
#include "adapters/yaml/templates_loader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "adapters/yaml/loader.hpp"
#include "engine/hash_chain.hpp"

namespace hoso::yaml {

namespace fs = std::filesystem;

namespace {

// Reads a file, turning a failure into a diagnostic.
bool read_into(const std::string& path, std::string& out, std::vector<Diagnostic>& diags) {
  auto text = read_text_file(path);
  if (!text) {
    diags.push_back(Diagnostic{SourceLoc{path, 1, 1}, text.error().message});
    return false;
  }
  out = std::move(text.value());
  return true;
}

void append(std::vector<Diagnostic>& to, std::vector<Diagnostic> from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

}  // namespace

std::string definition_hash(const std::string& workflow_source, const std::string& catalogue_source) {
  return sha256_hex(fmt::format("hoso-definition-v1;{}:{};{}:{};", workflow_source.size(), workflow_source,
                                catalogue_source.size(), catalogue_source));
}

CompileOutcome compile_sources(const std::string& workflow_file, const std::string& workflow_source,
                               const std::string& catalogue_file, const std::string& catalogue_source) {
  CompileOutcome out;
  CatalogueSpec catalogue;
  WorkflowSpec workflow;
  append(out.diagnostics, parse_catalogue(catalogue_source, catalogue_file, catalogue));
  append(out.diagnostics, parse_workflow(workflow_source, workflow_file, workflow));
  if (!out.diagnostics.empty()) return out;
  out = compile_definition(workflow, catalogue);
  if (out.definition) {
    auto def = std::const_pointer_cast<Definition>(out.definition);
    def->set_hash(definition_hash(workflow_source, catalogue_source));
  }
  return out;
}

Project load_project(const std::string& config_dir, const std::string& workflows_dir) {
  Project p;
  const std::string orgs_file = (fs::path(config_dir) / "orgs.yaml").string();
  const std::string users_file = (fs::path(config_dir) / "users.yaml").string();
  p.catalogue_file = (fs::path(config_dir) / "awards.yaml").string();
  std::string orgs_text, users_text;
  const bool have_orgs = read_into(orgs_file, orgs_text, p.diagnostics);
  const bool have_users = read_into(users_file, users_text, p.diagnostics);
  std::optional<Directory> directory;
  if (have_orgs && have_users) {
    append(p.diagnostics, load_directory(orgs_text, orgs_file, users_text, users_file, p.orgs, p.users));
    if (p.diagnostics.empty()) {
      // Belt and braces: the engine's own checks must agree.
      auto dir = Directory::build(p.orgs, p.users);
      if (dir)
        directory = std::move(dir.value());
      else
        p.diagnostics.push_back(Diagnostic{SourceLoc{orgs_file, 1, 1}, dir.error().message});
    }
  }
  CatalogueSpec catalogue;
  bool catalogue_ok = false;
  if (read_into(p.catalogue_file, p.catalogue_source, p.diagnostics)) {
    auto diags = parse_catalogue(p.catalogue_source, p.catalogue_file, catalogue);
    append(diags, check_catalogue(catalogue));
    catalogue_ok = diags.empty();
    append(p.diagnostics, std::move(diags));
  }
  {
    auto diags = read_calendar_sources(config_dir, p.calendar_files);
    CalendarSpec spec;
    if (diags.empty()) diags = load_calendar_sources(p.calendar_files, spec);
    if (diags.empty()) {
      auto cal = BusinessCalendar::build(spec);
      if (cal)
        p.calendar = std::make_shared<const BusinessCalendar>(std::move(cal.value()));
      else
        diags.push_back(Diagnostic{SourceLoc{p.calendar_files.front().file, 1, 1}, cal.error().message});
    }
    append(p.diagnostics, std::move(diags));
  }
  p.templates_file.file = (fs::path(config_dir) / "templates.yaml").string();
  if (read_into(p.templates_file.file, p.templates_file.text, p.diagnostics))
    append(p.diagnostics, parse_templates(p.templates_file.text, p.templates_file.file, p.templates));
  // config/reports.yaml is optional: without it there are no report obligations. It names orgs and report
  // kinds, so it is checked only against a valid tree and catalogue.
  const std::string reports_path = (fs::path(config_dir) / "reports.yaml").string();
  std::error_code reports_ec;
  if (catalogue_ok) p.report_kinds = project_report_kinds(catalogue);
  if (fs::exists(reports_path, reports_ec) && read_into(reports_path, p.reports_file.text, p.diagnostics)) {
    p.reports_file.file = reports_path;
    if (directory && catalogue_ok)
      append(p.diagnostics, parse_reports(p.reports_file.text, p.reports_file.file, *directory,
                                          p.report_kinds, p.reports));
  }
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(workflows_dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".yaml" || it->path().extension() == ".yml")
      files.push_back(it->path().string());
  if (ec)
    p.diagnostics.push_back(
        Diagnostic{SourceLoc{workflows_dir, 0, 0}, "cannot read the workflows folder: " + ec.message()});
  std::sort(files.begin(), files.end());
  if (files.empty() && !ec)
    p.diagnostics.push_back(Diagnostic{SourceLoc{workflows_dir, 0, 0}, "no workflow files (*.yaml)"});
  for (const auto& file : files) {
    LoadedWorkflow w;
    w.file = file;
    if (!read_into(file, w.source, p.diagnostics)) continue;
    auto outcome = compile_sources(file, w.source, p.catalogue_file, p.catalogue_source);
    // Catalogue problems were reported once above; keep only this workflow's own.
    for (auto& d : outcome.diagnostics)
      if (d.loc.file == file) p.diagnostics.push_back(std::move(d));
    if (!outcome.definition) continue;
    for (const auto& other : p.workflows)
      if (other.definition->name() == outcome.definition->name())
        p.diagnostics.push_back(Diagnostic{
            SourceLoc{file, 1, 1},
            fmt::format("workflow name '{}' is also used by {}", outcome.definition->name(), other.file)});
    w.definition = outcome.definition;
    p.workflows.push_back(std::move(w));
  }
  // Every obligation of the plan must be one the report workflow can open: its reporters among the
  // workflow's origins and its report kind served (otherwise a whole year's opening would be refused).
  if (directory && !p.reports.rules.empty()) {
    const LoadedWorkflow* report = nullptr;
    for (const auto& w : p.workflows)
      if (w.definition->name() == "report") report = &w;
    const SourceLoc at{p.reports_file.file, 1, 1};
    if (report != nullptr) {  // without it nothing can be opened (`hoso reports open` says so)
      const Definition& d = *report->definition;
      for (const auto& rule : p.reports.rules) {
        auto kind = d.find_award(rule.report);
        if (!kind || !d.serves(*kind))
          p.diagnostics.push_back(Diagnostic{
              at, fmt::format("obligation '{}': the workflow 'report' does not serve '{}'", rule.id, rule.report)});
        for (const auto& key : rule_reporters(rule, *directory)) {
          const Org& org = directory->org(*directory->find_org(key));
          const auto& origins = d.origin_kinds();
          if (std::find(origins.begin(), origins.end(), org.kind) == origins.end()) {
            p.diagnostics.push_back(Diagnostic{
                at, fmt::format("obligation '{}': reporter '{}' is a {}, not one of the origins of workflow 'report'",
                                rule.id, key, org_kind_name(org.kind))});
            break;
          }
        }
      }
    }
  }
  // Every template a workflow or the deadline engine sends must have its text.
  if (!p.templates_file.text.empty()) {
    auto known = [&](const std::string& key) {
      return std::any_of(p.templates.begin(), p.templates.end(),
                         [&](const NotificationTemplate& t) { return t.key == key; });
    };
    std::vector<std::string> used = engine_template_keys();
    for (const auto& w : p.workflows) {
      auto note = [&](const std::vector<Effect>& effects) {
        for (const auto& f : effects)
          if (f.kind == Effect::Kind::kNotify) used.push_back(f.template_);
      };
      for (const auto& t : w.definition->transitions()) note(t.effects);
      for (const auto& st : w.definition->states())
        if (st.vote) {
          note(st.vote->pass_effects);
          note(st.vote->fail_effects);
        }
    }
    std::sort(used.begin(), used.end());
    used.erase(std::unique(used.begin(), used.end()), used.end());
    for (const auto& key : used)
      if (!known(key))
        p.diagnostics.push_back(Diagnostic{SourceLoc{p.templates_file.file, 1, 1},
                                           fmt::format("template '{}' is used but has no text here", key)});
  }
  return p;
}

Status install_project(WriteTx& tx, const Project& project, const std::string& loaded_at) {
  for (const auto& w : project.workflows) {
    DefinitionRecord r{w.definition->hash(),   w.definition->name(),     w.file,   w.source,
                       project.catalogue_file, project.catalogue_source, loaded_at};
    if (auto s = tx.put_definition(r); !s) return s;
  }
  if (!project.templates_file.text.empty()) {
    ConfigSources t{"templates", sources_hash({project.templates_file}), {project.templates_file}, loaded_at};
    if (auto s = tx.put_sources(t); !s) return s;
  }
  if (!project.reports_file.text.empty()) {
    ConfigSources r{"reports", sources_hash({project.reports_file}), {project.reports_file}, loaded_at};
    if (auto s = tx.put_sources(r); !s) return s;
  }
  if (!project.calendar_files.empty()) {
    ConfigSources c{"calendar", sources_hash(project.calendar_files), project.calendar_files, loaded_at};
    if (auto s = tx.put_sources(c); !s) return s;
  }
  std::vector<OrgRecord> orgs;
  std::vector<UserRecord> users;
  for (const auto& o : project.orgs) orgs.push_back(OrgRecord{o.key, o.name, o.kind, o.parent});
  for (const auto& u : project.users)
    users.push_back(UserRecord{u.key, u.name, u.email, u.org, u.roles, u.active, u.delegates});
  if (Status s = tx.replace_directory(orgs, users); !s) return s;
  // Whoever is no longer active (deactivated or gone) loses their tokens for good: taken back later, or their
  // post's key given to someone new, they start with none.
  auto revoked = tx.revoke_tokens_of_inactive(loaded_at);
  return revoked ? Status::Ok() : Status(revoked.error());
}

Result<std::shared_ptr<const Definition>> StoreDefinitionRegistry::by_hash(const std::string& hash) {
  for (const auto& [h, def] : cache_)
    if (h == hash) return def;
  auto rec = store_.definition(hash);
  if (!rec) return rec.error();
  if (!rec->has_value())
    return make_error(ErrorCode::kNotFound, fmt::format("definition {} is not in the database", hash));
  const DefinitionRecord& r = **rec;
  auto outcome = compile_sources(r.workflow_file, r.workflow_source, r.catalogue_file, r.catalogue_source);
  if (!outcome.definition)
    return make_error(ErrorCode::kInvalidDefinition,
                      fmt::format("stored definition {} no longer compiles: {}", hash,
                                  outcome.diagnostics.empty() ? "" : outcome.diagnostics.front().format()));
  if (outcome.definition->hash() != hash)
    return make_error(ErrorCode::kVerifyFailed,
                      fmt::format("stored definition {} does not match its hash", hash));
  cache_.emplace_back(hash, outcome.definition);
  return outcome.definition;
}

Result<std::shared_ptr<const Definition>> StoreDefinitionRegistry::current(const std::string& workflow) {
  for (const auto& [name, def] : current_)
    if (name == workflow) return def;
  auto defs = store_.current_definitions();
  if (!defs) return defs.error();
  for (const auto& d : *defs)
    if (d.name == workflow) {
      auto def = by_hash(d.hash);
      if (def) current_.emplace_back(workflow, *def);
      return def;
    }
  return Error{ErrorCode::kNotFound, fmt::format("Không có quy trình '{}'", workflow), "unknown_workflow",
               workflow};
}

Result<Directory> directory_from_store(Store& store) {
  std::vector<OrgRecord> org_rows;
  std::vector<UserRecord> user_rows;
  std::int64_t version = 0;
  // One snapshot: a concurrent `hoso init` must not give us orgs of one version and users of another.
  auto read = store.snapshot([&]() -> Status {
    auto o = store.orgs();
    if (!o) return o.error();
    auto u = store.users();
    if (!u) return u.error();
    auto v = store.directory_version();
    if (!v) return v.error();
    org_rows = std::move(o.value());
    user_rows = std::move(u.value());
    version = *v;
    return Status::Ok();
  });
  if (!read) return read.error();
  const auto* orgs = &org_rows;
  const auto* users = &user_rows;
  std::vector<OrgSpec> org_specs;
  std::vector<UserSpec> user_specs;
  for (const auto& o : *orgs) org_specs.push_back(OrgSpec{o.key, o.name, o.kind, o.parent});
  for (const auto& u : *users)
    user_specs.push_back(UserSpec{u.key, u.name, u.email, u.org, u.roles, u.active, u.delegates});
  auto dir = Directory::build(org_specs, user_specs);
  if (dir) dir->set_version(version);
  return dir;
}

std::string sources_hash(const std::vector<SourceFile>& files) {
  std::string canonical = "hoso-config-v1;";
  for (const auto& f : files)
    canonical += fmt::format("{}:{};{}:{};", f.file.size(), f.file, f.text.size(), f.text);
  return sha256_hex(canonical);
}

Result<std::shared_ptr<const BusinessCalendar>> calendar_from_store(Store& store) {
  auto rec = store.sources("calendar");
  if (!rec) return rec.error();
  if (!rec->has_value())
    return make_error(ErrorCode::kNotFound,
                      "cơ sở dữ liệu chưa có lịch làm việc (config/calendar.yaml); hãy chạy lại 'hoso init'");
  CalendarSpec spec;
  auto diags = load_calendar_sources((*rec)->files, spec);
  if (!diags.empty())
    return make_error(ErrorCode::kInvalidDefinition,
                      fmt::format("lịch làm việc lưu trong cơ sở dữ liệu không hợp lệ: {}", diags.front().format()));
  auto cal = BusinessCalendar::build(spec);
  if (!cal) return cal.error();
  return std::make_shared<const BusinessCalendar>(std::move(cal.value()));
}

Result<std::vector<NotificationTemplate>> templates_from_store(Store& store) {
  auto rec = store.sources("templates");
  if (!rec) return rec.error();
  if (!rec->has_value())
    return make_error(ErrorCode::kNotFound,
                      "cơ sở dữ liệu chưa có mẫu thông báo (config/templates.yaml); hãy chạy lại 'hoso init'");
  std::vector<NotificationTemplate> out;
  const SourceFile& f = (*rec)->files.front();
  auto diags = parse_templates(f.text, f.file, out);
  if (!diags.empty())
    return make_error(ErrorCode::kInvalidDefinition,
                      fmt::format("mẫu thông báo lưu trong cơ sở dữ liệu không hợp lệ: {}", diags.front().format()));
  return out;
}

std::vector<std::string> project_report_kinds(const CatalogueSpec& catalogue) {
  std::vector<std::string> kinds;
  for (const auto& a : catalogue.awards)
    if (a.authority.value == "none") kinds.push_back(a.key.value);
  return kinds;
}

Result<ReportPlan> reports_from_store(Store& store, const Directory& dir, const std::vector<std::string>& report_kinds) {
  auto rec = store.sources("reports");
  if (!rec) return rec.error();
  ReportPlan plan;
  if (!rec->has_value()) return plan;  // a project without config/reports.yaml: no obligations
  const SourceFile& f = (*rec)->files.front();
  auto diags = parse_reports(f.text, f.file, dir, report_kinds, plan);
  if (!diags.empty())
    return make_error(ErrorCode::kInvalidDefinition,
                      fmt::format("kế hoạch báo cáo lưu trong cơ sở dữ liệu không hợp lệ: {}", diags.front().format()));
  return plan;
}

}  // namespace hoso::yaml
