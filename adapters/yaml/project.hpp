// Loads a project's config/ and workflows/ from disk, validates and compiles everything.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/calendar.hpp"
#include "engine/definition.hpp"
#include "engine/directory.hpp"
#include "engine/records.hpp"
#include "engine/reports.hpp"
#include "engine/service.hpp"
#include "engine/store.hpp"
#include "engine/templates.hpp"

namespace hoso::yaml {

struct LoadedWorkflow {
  std::string file, source;
  std::shared_ptr<const Definition> definition;
};

struct Project {
  std::vector<OrgSpec> orgs;
  std::vector<UserSpec> users;
  std::string catalogue_file, catalogue_source;
  std::vector<SourceFile> calendar_files;               // config/calendar.yaml, then calendar/*.yaml
  std::shared_ptr<const BusinessCalendar> calendar;     // compiled from them
  SourceFile templates_file;                            // config/templates.yaml
  std::vector<NotificationTemplate> templates;
  SourceFile reports_file;                              // config/reports.yaml; empty text when absent
  ReportPlan reports;                                   // compiled from it; no rules when absent
  std::vector<std::string> report_kinds;                // catalogue entries with authority none
  std::vector<LoadedWorkflow> workflows;
  std::vector<Diagnostic> diagnostics;  // empty when everything is valid
  bool ok() const { return diagnostics.empty(); }
};

// Reads <config_dir>/{orgs,users,awards,calendar,templates}.yaml, <config_dir>/calendar/*.yaml, the optional
// <config_dir>/reports.yaml and every *.yaml in `workflows_dir` (sorted by name) and compiles the workflows,
// the calendar and the report plan (its report kinds: project_report_kinds). All problems are collected,
// each with file:line:col.
Project load_project(const std::string& config_dir, const std::string& workflows_dir);

// Writes a valid project into a store inside `tx`: every workflow definition (a no-op for versions already
// stored; each becomes current for its name), the calendar, the templates and the report plan (each becomes
// current) and the directory, which replaces the stored one.
Status install_project(WriteTx& tx, const Project& project, const std::string& loaded_at);

// The content hash that pins a definition: sha256 over both sources (stored on disk: never change).
std::string definition_hash(const std::string& workflow_source, const std::string& catalogue_source);

// Compiles a definition from stored sources; diagnostics on failure.
CompileOutcome compile_sources(const std::string& workflow_file, const std::string& workflow_source,
                               const std::string& catalogue_file, const std::string& catalogue_source);

// Definitions loaded from the store by hash, compiled once and cached. Which version is current for a name
// is resolved once per registry until forget_current() (App::refresh calls it when `hoso init` changed them).
class StoreDefinitionRegistry : public DefinitionRegistry {
 public:
  explicit StoreDefinitionRegistry(Store& store) : store_(store) {}
  Result<std::shared_ptr<const Definition>> by_hash(const std::string& hash) override;
  Result<std::shared_ptr<const Definition>> current(const std::string& workflow) override;
  // Forgets which versions are current, so that the next current() reads them again (those loaded since).
  void forget_current() { current_.clear(); }

 private:
  Store& store_;
  std::vector<std::pair<std::string, std::shared_ptr<const Definition>>> cache_;
  std::vector<std::pair<std::string, std::shared_ptr<const Definition>>> current_;  // by workflow name
};

// Builds the directory stored in the database.
Result<Directory> directory_from_store(Store& store);

// The content hash of a set of config sources (stored on disk: never change).
std::string sources_hash(const std::vector<SourceFile>& files);

// The notification templates stored in the database; kNotFound when none were stored.
Result<std::vector<NotificationTemplate>> templates_from_store(Store& store);

// The report kinds config/reports.yaml may name: the catalogue's entries with authority none.
std::vector<std::string> project_report_kinds(const CatalogueSpec& catalogue);

// The report plan stored in the database (config/reports.yaml), checked against `dir` and `report_kinds`; an
// empty plan (no rules) when none was stored; kInvalidDefinition when the stored one no longer loads.
Result<ReportPlan> reports_from_store(Store& store, const Directory& dir, const std::vector<std::string>& report_kinds);

// Compiles the calendar stored in the database; kNotFound when none was stored.
Result<std::shared_ptr<const BusinessCalendar>> calendar_from_store(Store& store);

}  // namespace hoso::yaml
