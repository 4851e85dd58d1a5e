// A test world: the real config/ and workflows/ compiled into an in-memory store, a fake clock and
// the command service. For unit tests of the core; no files are written.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>

#include "adapters/yaml/project.hpp"
#include "engine/service.hpp"
#include "tests/support/fakes.hpp"
#include "tests/support/project_edit.hpp"

namespace hoso::testing {

// 2026-03-02 09:00 Vietnam time (a Monday).
inline constexpr Timestamp kStart{1772416800000};

struct World {
  MemoryStore store;
  FakeClock clock{kStart};
  Directory directory;
  std::unique_ptr<yaml::StoreDefinitionRegistry> registry;
  std::unique_ptr<CommandService> service;

  // With `edit`, the shipped config as the test changes it.
  explicit World(const ProjectEdit& edit = {}) {
    auto project = yaml::load_project(std::string(HOSO_SOURCE_DIR) + "/config",
                                      std::string(HOSO_SOURCE_DIR) + "/workflows");
    if (!project.ok()) throw std::runtime_error(project.diagnostics.front().format());
    if (edit) edit(project);
    auto st = store.write(
        [&](WriteTx& tx) { return yaml::install_project(tx, project, "2026-01-01T00:00:00.000Z"); });
    if (!st) throw std::runtime_error(st.error().message);
    auto dir = yaml::directory_from_store(store);
    if (!dir) throw std::runtime_error(dir.error().message);
    directory = std::move(dir.value());
    registry = std::make_unique<yaml::StoreDefinitionRegistry>(store);
    service = std::make_unique<CommandService>(store, clock, *registry, directory);
    auto cal = yaml::calendar_from_store(store);
    if (!cal) throw std::runtime_error(cal.error().message);
    service->set_calendar(cal.value());
    service->set_parallelism(2);  // replay --all in two parts, as on the two-core CI machine
  }

  // Advances the clock a little so that events are strictly ordered.
  void tick() { clock.advance_ms(60'000); }
};

// Fields that satisfy every eligibility clause of the standard workflow for a collective.
inline RawInput eligible_collective(const std::string& name = "Xóm Khuân Lân") {
  RawInput in;
  in.fields = {{"recipient_name", name},
               {"recipient_kind", "collective"},
               {"recipient_org_type", "residential"},
               {"leads_cluster", "true"},
               {"merits_count", "3"},
               {"replicated_models", "1"},
               {"has_movement_plan", "true"},
               {"security_certified", "true"},
               {"security_cert_cycle_end", "2025-11-15"},
               {"movement_grade", "xuat_sac"},
               {"good_models", "2"},
               {"serious_incident", "false"},
               {"party_org_clean", "true"},
               {"has_complaints", "false"}};
  for (const char* kind :
       {"to_trinh", "bao_cao_thanh_tich", "bien_ban_hop", "y_kien_hiep_y", "xac_nhan_thanh_tich"})
    in.documents.push_back(RawDocument{kind, std::string(kind) + ".pdf", std::string(64, 'a'), 1024});
  return in;
}

}  // namespace hoso::testing
