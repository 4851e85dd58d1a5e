// The time layer with a fake clock and the in-memory store: deadlines by the rules in force at
// submission, late firing after downtime, what a fired timer leaves behind.
#include <catch2/catch.hpp>

#include "engine/codec.hpp"
#include "engine/core.hpp"
#include "engine/timers.hpp"
#include "tests/support/world.hpp"

using namespace hoso;
using namespace hoso::testing;

namespace {

constexpr std::int64_t kDay = 86'400'000;

DossierId accepted_dossier(World& w) {
  auto created = w.service->create("standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  INFO((created ? "" : created.error().message));
  REQUIRE(created.ok());
  REQUIRE(w.service->act(created->id, "submit", "xom-khuan-lan.clerk", {}).ok());
  w.tick();
  REQUIRE(w.service->act(created->id, "accept", "ca-xa-phuong-tien.clerk", {}).ok());
  return created->id;
}

const LegalClock& running_clock(World& w, DossierId id) {
  static DossierState kept;
  kept = w.service->show(id, std::nullopt)->state;
  REQUIRE(kept.clocks.size() == 1);
  return kept.clocks.front();
}

}  // namespace

TEST_CASE("deadline rules: the one in force on the day of first submission applies", "[timers]") {
  World w;
  const auto def = w.registry->current("standard").value();
  const AwardId award = *def->find_award("giay_khen_xa");
  CHECK(def->deadline_for(OrgKind::kCommuneCulture, award, *parse_date("2025-06-30"))->id == "cap_xa_nd98");
  CHECK(def->deadline_for(OrgKind::kCommuneCulture, award, *parse_date("2025-07-01"))->id == "cap_xa");
  CHECK(def->deadline_for(OrgKind::kUnit, award, *parse_date("2026-01-01")) == nullptr);
  CHECK(def->deadline_for(OrgKind::kHomeAffairs, award, *parse_date("2026-01-01"))->working_days == 20);
  // Per award: UBND tỉnh has 20 working days for an award it proposes to central level, 10 for its own.
  const AwardId central = *def->find_award("huan_chuong_ld_ba"), own = *def->find_award("bang_khen_tinh");
  CHECK(def->deadline_for(OrgKind::kProvincePeoplesCommittee, central, *parse_date("2026-01-01"))->id ==
        "ubnd_tinh_trinh_trung_uong");
  CHECK(def->deadline_for(OrgKind::kProvincePeoplesCommittee, own, *parse_date("2026-01-01"))->working_days == 10);

  // Submitted on Monday 30/06/2025 (under Nghị định 98/2023), accepted on 02/07/2025 (under 152/2025).
  w.clock.set(*parse_utc("2025-06-30T02:00:00Z"));
  auto created = w.service->create("standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  REQUIRE(created.ok());
  REQUIRE(w.service->act(created->id, "submit", "xom-khuan-lan.clerk", {}).ok());
  w.clock.set(*parse_utc("2025-07-02T02:00:00Z"));
  REQUIRE(w.service->act(created->id, "accept", "ca-xa-phuong-tien.clerk", {}).ok());
  const LegalClock& c = running_clock(w, created->id);
  CHECK(c.rule == "cap_xa_nd98");
  CHECK(c.level == OrgKind::kCommuneCulture);
  // Ten working days after Wednesday 02/07/2025: 03/07 … 16/07.
  CHECK(format_date(c.due) == "2025-07-16");
}

TEST_CASE("timers that came due while nothing ran fire at once, in due order, marked late", "[timers]") {
  World w;
  const DossierId a = accepted_dossier(w);
  w.tick();
  const DossierId b = accepted_dossier(w);
  // Both have a reminder and a limit pending; nothing fires before they are due.
  CHECK(w.service->fire_due(w.clock.now(), false).value().fired == 0);
  // Thirty days later (the process was down), everything due fires now: four timers, earliest first.
  w.clock.advance_ms(30 * kDay);
  CHECK(w.service->fire_due(w.clock.now(), false).value().fired == 4);
  std::vector<std::pair<DossierId, std::string>> fired;
  for (const auto& e : w.store.data().events) {
    if (e.type != "TimerFired") continue;
    CHECK(e.payload.find("\"late\":true") != std::string::npos);
    CHECK(e.at == format_utc(w.clock.now()));
    CHECK(e.actor_user == "system");
    fired.emplace_back(e.dossier, e.payload.find("processing.remind") != std::string::npos ? "remind" : "limit");
  }
  // a's reminder, b's reminder, a's limit, b's limit: due order, not dossier order.
  CHECK(fired == std::vector<std::pair<DossierId, std::string>>{{a, "remind"}, {b, "remind"}, {a, "limit"}, {b, "limit"}});
  CHECK(w.service->show(a, std::nullopt)->overdue);
  CHECK(w.service->show(b, std::nullopt)->overdue);
  CHECK(w.store.data().timers.empty());
  auto replay = w.service->replay_all();
  REQUIRE(replay.ok());
  CHECK(replay->ok);
  // Firing again finds nothing.
  CHECK(w.service->fire_due(w.clock.now(), false).value().fired == 0);
}

TEST_CASE("a timer row the dossier does not list is dropped and reported, never fired, and the rest go on",
          "[timers]") {
  World w;
  const DossierId id = accepted_dossier(w);
  const auto real = w.service->show(id, std::nullopt)->state.timers;
  REQUIRE(real.size() == 2);
  // Rows written behind the engine's back: the dossier's own timer with an earlier due time, and a timer
  // of a dossier that does not exist.
  w.store.data().timers.emplace("2026-03-03T00:00:00.000Z", id, "processing");
  w.store.data().timers.emplace("2026-03-03T00:00:01.000Z", 999, "processing");
  w.clock.advance_ms(2 * kDay);
  auto r = w.service->fire_due(w.clock.now(), false);
  REQUIRE(r.ok());
  CHECK(r->fired == 0);  // nothing real is due yet: the forged deadline did not fire early
  REQUIRE(r->dropped.size() == 2);
  CHECK(r->dropped[0].dossier == id);
  CHECK(r->dropped[1].dossier == 999);
  CHECK_FALSE(w.service->show(id, std::nullopt)->overdue);
  CHECK(w.store.data().timers.size() == 2);  // the real ones stay
  // When they are due, the real timers fire.
  w.clock.advance_ms(30 * kDay);
  CHECK(w.service->fire_due(w.clock.now(), false).value().fired == 2);
  CHECK(w.service->show(id, std::nullopt)->overdue);
}

TEST_CASE("a due timer whose dossier fails its head check is passed over and reported - the others still fire",
          "[timers]") {
  World w;
  const DossierId forged = accepted_dossier(w);
  w.tick();
  const DossierId sound = accepted_dossier(w);
  // The first dossier's projection edited behind the log's back: its timers are due first.
  w.store.data().dossiers[forged].fields = R"({"recipient_name":"Người khác","recipient_kind":"individual"})";
  w.clock.advance_ms(30 * kDay);
  auto r = w.service->fire_due(w.clock.now(), false);
  REQUIRE(r.ok());
  CHECK(r->fired == 2);  // the sound dossier's reminder and limit
  REQUIRE(r->failed.size() == 2);
  for (const auto& [timer, why] : r->failed) {
    CHECK(timer.dossier == forged);
    CHECK(why.code == ErrorCode::kVerifyFailed);
  }
  CHECK(r->dropped.empty());
  CHECK(w.service->show(sound, std::nullopt)->overdue);
  CHECK(w.store.data().timers.size() == 2);  // the forged dossier's rows, left as they were
  for (const auto& t : w.store.data().timers) CHECK(std::get<1>(t) == forged);
  // Firing again passes them over again, and fires nothing twice.
  auto again = w.service->fire_due(w.clock.now(), false);
  REQUIRE(again.ok());
  CHECK(again->fired == 0);
  CHECK(again->failed.size() == 2);
}

TEST_CASE("a paused timer's row stays until its due time, then is dropped unfired, and audit tells it from a forged row",
          "[timers]") {
  World w;
  const DossierId id = accepted_dossier(w);
  const auto first = w.service->show(id, std::nullopt)->state.timers;
  REQUIRE(first.size() == 2);
  // Returned for supplementation: the clock pauses and the dossier lists no timer, but the rows are left
  // where they are (pausing writes no timer page).
  w.tick();
  RawInput why;
  why.note = "Thiếu biên bản họp";
  REQUIRE(w.service->act(id, "return", "vhxh-xa-phuong-tien.appraiser", why).ok());
  CHECK(w.service->show(id, std::nullopt)->state.timers.empty());
  CHECK(w.store.data().timers.size() == 2);
  CHECK(w.service->pending_timers(100).value().empty());
  CHECK(w.service->audit_verify().value().ok);
  // Resubmitted and accepted three days later: new timers with later due times, listed and pending.
  w.clock.advance_ms(3 * kDay);
  REQUIRE(w.service->act(id, "resubmit", "xom-khuan-lan.clerk", {}).ok());
  w.tick();
  REQUIRE(w.service->act(id, "accept", "ca-xa-phuong-tien.clerk", {}).ok());
  const auto second = w.service->show(id, std::nullopt)->state.timers;
  REQUIRE(second.size() == 2);
  CHECK(second != first);
  CHECK(w.store.data().timers.size() == 4);
  const auto pending = w.service->pending_timers(100).value();
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].due_at == format_utc(std::min(second[0].due, second[1].due)));
  CHECK(w.service->audit_verify().value().ok);
  // At the old due times nothing fires: the paused rows are dropped, and the dossier is not overdue.
  const Timestamp old_limit = std::max(first[0].due, first[1].due);
  w.clock.set(old_limit);
  w.clock.advance_ms(1);
  REQUIRE(w.clock.now() < std::min(second[0].due, second[1].due));
  auto r = w.service->fire_due(w.clock.now(), false);
  REQUIRE(r.ok());
  CHECK(r->fired == 0);
  CHECK(r->dropped.size() == 2);
  CHECK(w.store.data().timers.size() == 2);
  CHECK_FALSE(w.service->show(id, std::nullopt)->overdue);
  CHECK(w.service->audit_verify().value().ok);
  // A row no event ever started is not a cancelled timer: audit reports it.
  w.store.data().timers.emplace("2027-01-04T01:00:00.000Z", id, "processing");
  auto audit = w.service->audit_verify();
  REQUIRE(audit.ok());
  CHECK_FALSE(audit->ok);
  CHECK(audit->failure.find("mà hồ sơ không ghi nhận") != std::string::npos);
}

TEST_CASE("a timer never fires before it is due, and replay refuses a history where one did", "[timers]") {
  World w;
  const DossierId id = accepted_dossier(w);
  const auto state = w.service->show(id, std::nullopt)->state;
  const auto def = w.registry->current("standard").value();
  auto early = fire_timer(*def, w.directory, state, "processing", w.clock.now());
  REQUIRE_FALSE(early.ok());
  CHECK(early.error().message.find("chưa đến hạn") != std::string::npos);
  // Fold a TimerFired dated before the due time: refused.
  Event e;
  e.type = EventType::kTimerFired;
  e.seq = state.version + 1;
  e.at = w.clock.now();
  e.from = e.to = state.state;
  e.holder = state.holder;
  e.timer = "processing";
  DossierState copy = state;
  auto applied = apply_event(*def, copy, e);
  REQUIRE_FALSE(applied.ok());
  CHECK(applied.error().message.find("before it was due") != std::string::npos);
}

TEST_CASE("an overdue level stays overdue through a return and is not told twice", "[timers]") {
  World w;
  const DossierId id = accepted_dossier(w);
  w.clock.advance_ms(30 * kDay);
  REQUIRE(w.service->fire_due(w.clock.now(), false).value().fired == 2);
  REQUIRE(w.service->show(id, std::nullopt)->overdue);
  RawInput why;
  why.note = "Thiếu biên bản";
  REQUIRE(w.service->act(id, "return", "vhxh-xa-phuong-tien.appraiser", why).ok());
  const auto paused = w.service->show(id, std::nullopt)->state.clocks;
  REQUIRE(paused.size() == 1);
  CHECK_FALSE(paused[0].running);
  CHECK(paused[0].overdue);
  w.tick();
  REQUIRE(w.service->act(id, "resubmit", "xom-khuan-lan.clerk", {}).ok());
  w.tick();
  REQUIRE(w.service->act(id, "accept", "ca-xa-phuong-tien.clerk", {}).ok());
  const auto view = w.service->show(id, std::nullopt).value();
  REQUIRE(view.state.clocks.size() == 1);
  CHECK(view.state.clocks[0].running);
  CHECK(view.overdue);
  CHECK(view.state.timers.empty());  // no second limit, no second notice
  w.clock.advance_ms(30 * kDay);
  CHECK(w.service->fire_due(w.clock.now(), false).value().fired == 0);
}

TEST_CASE("a command after the limit fires the due timers first, in its own transaction", "[timers]") {
  World w;
  const DossierId id = accepted_dossier(w);
  const std::int64_t seen = w.service->show(id, std::nullopt)->state.version;
  w.clock.advance_ms(30 * kDay);  // no runner fired anything meanwhile
  RawInput in;
  in.expected_version = seen;  // what the appraiser saw: the firings are time passing, not an edit
  auto r = w.service->act(id, "appraise", "vhxh-xa-phuong-tien.appraiser", in);
  INFO((r ? "" : r.error().message));
  REQUIRE(r.ok());
  std::vector<std::string> types;
  for (const auto& e : w.store.data().events)
    if (e.dossier == id) types.push_back(e.type);
  REQUIRE(types.size() >= 3);
  CHECK(std::vector<std::string>(types.end() - 3, types.end()) ==
        std::vector<std::string>{"TimerFired", "TimerFired", "DossierAppraised"});
  // The overdue notice went out with the firing (the level above is told even though the level acted).
  bool told_above = false;
  for (const auto& e : w.store.data().events)
    for (const auto& n : listed_notices(e.payload).value()) told_above |= n.template_key == "deadline_overdue_superior";
  CHECK(told_above);
  // A stale version is still refused, and nothing is written.
  const auto before = w.store.data().events.size();
  RawInput stale;
  stale.expected_version = seen;
  CHECK_FALSE(w.service->act(id, "appraise", "vhxh-xa-phuong-tien.appraiser", stale).ok());
  CHECK(w.store.data().events.size() == before);
}

TEST_CASE("working_days_before counts back over weekends and holidays", "[timers]") {
  World w;
  auto cal = yaml::calendar_from_store(w.store).value();
  // Two working days before Thursday 07/05/2026: 06/05 and 05/05.
  CHECK(format_date(working_days_before(*cal, *parse_date("2026-05-07"), 2).value()) == "2026-05-05");
  // Before Monday 04/05/2026: Friday 01/05 and Thursday 30/04 are holidays, so Wednesday 29/04.
  CHECK(format_date(working_days_before(*cal, *parse_date("2026-05-04"), 1).value()) == "2026-04-29");
}
