// Walks a dossier forward through its path with whoever holds it, for tests.
#pragma once
#include <algorithm>
#include <functional>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/world.hpp"

namespace hoso::testing {

// The states visited, in order, until the dossier closes (or reaches `stop_at`). Each step is taken by a user
// at the holder org with a forward action available: submit, resubmit, accept, appraise, forward, decide or
// vote (yes). `after_each`, if given, runs after each command.
inline std::vector<std::string> walk_forward(World& w, DossierId id, int max_steps = 60,
                                             const std::string& stop_at = "",
                                             const std::function<void()>& after_each = {}) {
  static const std::vector<std::string> kForward = {"submit",  "resubmit", "accept", "appraise",
                                                    "forward", "decide",   "vote"};
  std::vector<std::string> visited;
  for (int step = 0; step < max_steps; ++step) {
    auto view = w.service->show(id, std::nullopt);
    REQUIRE(view.ok());
    visited.push_back(view->record.state);
    if (view->record.closed || view->record.state == stop_at) return visited;
    const auto holder = w.directory.find_org(view->record.holder);
    REQUIRE(holder.has_value());
    bool acted = false;
    for (const auto& user : w.directory.users()) {
      if (user.org != *holder) continue;
      auto actions = available_actions(*view->definition, w.directory, view->state, user.id);
      for (const auto& name : kForward) {
        auto a = view->definition->find_action(name);
        if (!a || std::find(actions.begin(), actions.end(), *a) == actions.end()) continue;
        RawInput in;
        if (name == "decide")
          in.fields = {{"decision_number", "123/QĐ-UBND"}, {"decision_date", "2026-03-02"}};
        if (name == "vote") in.ballot = "yes";
        w.tick();
        auto r = w.service->act(id, name, user.key, in);
        INFO(view->record.state << " " << name << " by " << user.key << ": " << (r ? "" : r.error().message));
        REQUIRE(r.ok());
        if (after_each) after_each();
        acted = true;
        break;
      }
      if (acted) break;
    }
    INFO("stuck in state " << view->record.state << " at " << view->record.holder);
    REQUIRE(acted);
  }
  FAIL("the dossier did not close");
  return visited;
}

}  // namespace hoso::testing
