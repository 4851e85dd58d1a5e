// The notification dispatcher over the core with a fake clock and an in-memory store: attempts recorded in
// the history, exponential backoff, dead letters, several channels each settling a notice once, and a
// restarted dispatcher resuming from the history. The channels are fakes that count calls.
#include "adapters/notify/dispatcher.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>

#include "adapters/notify/file_notifier.hpp"
#include "engine/codec.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/world.hpp"

using namespace hoso;
using namespace hoso::testing;

namespace {

std::vector<NotificationTemplate> templates() {
  std::vector<NotificationTemplate> out;
  for (const char* key : {"dossier_received", "dossier_returned", "dossier_rejected", "dossier_decided"})
    out.push_back(NotificationTemplate{key, "Hồ sơ {ho_so}", "{co_quan}: {buoc}", {}});
  return out;
}

// A channel whose answers the test scripts: each call takes the next result (Ok once the script runs out).
struct ScriptedChannel {
  std::string name;
  std::vector<Status> script;
  std::vector<std::string> calls;  // notice ids, in call order
  DeliveryChannel channel() {
    return {name, [this](const Notification& n, Timestamp, DeliveryReceipt&) {
              calls.push_back(n.id());
              if (script.empty()) return Status::Ok();
              Status s = script.front();
              script.erase(script.begin());
              return s;
            }};
  }
};

Status failure(std::string why, std::string reason) { return Error{ErrorCode::kInternal, std::move(why), std::move(reason), {}}; }
Status transient(const char* why) { return failure(why, "webhook_transient"); }

// Two notices pending: the submission's (to the commune police) and the acceptance's (to the culture office).
struct Pending {
  World w;
  DossierId id = 0;
  Pending() {
    auto r = w.service->create("standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
    REQUIRE(r.ok());
    id = r->id;
    w.tick();
    REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
    w.tick();
    REQUIRE(w.service->act(id, "accept", "ca-xa-phuong-tien.clerk", {}).ok());
    REQUIRE(w.service->pending_notifications(10, templates())->size() == 2);
  }
  // The notification events of the dossier: type, channel, attempt, retry_at.
  std::vector<std::tuple<std::string, std::string, std::int64_t, std::string>> attempts() {
    std::vector<std::tuple<std::string, std::string, std::int64_t, std::string>> out;
    for (const auto& e : w.service->history(id, std::nullopt).value())
      if (auto o = notice_outcome(e.payload)) out.emplace_back(e.type, o->channel, o->attempt, o->retry_at);
    return out;
  }
  void audit_passes() {
    auto a = w.service->audit_verify();
    REQUIRE(a.ok());
    INFO(a->failure);
    CHECK(a->ok);
    CHECK(w.service->replay_all()->ok);
  }
};

// Two dossiers submitted, each with one notice (its submission's): the first one's first in the log.
struct TwoSubmitted {
  World w;
  DossierId first = 0, second = 0;
  std::vector<Notification> pending;
  NoticeKey first_key, second_key;  // their notices'
  std::string first_fields;  // the first dossier's projection fields as the log has them
  TwoSubmitted() {
    first = submitted("Xóm Khuân Lân");
    second = submitted("Thôn Làng Mới");
    pending = w.service->pending_notifications(10, templates()).value();
    REQUIRE(pending.size() == 2);
    REQUIRE(pending[0].dossier == first);
    first_key = NoticeKey{pending[0].gseq, pending[0].n};
    second_key = NoticeKey{pending[1].gseq, pending[1].n};
    first_fields = w.store.data().dossiers[first].fields;
  }
  void audit_passes() {
    auto audit = w.service->audit_verify();
    REQUIRE(audit.ok());
    CHECK(audit->ok);
  }
  DossierId submitted(const char* name) {
    auto r = w.service->create("standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective(name));
    REQUIRE(r.ok());
    w.tick();
    REQUIRE(w.service->act(r->id, "submit", "xom-khuan-lan.clerk", {}).ok());
    w.tick();
    return r->id;
  }
  // The first dossier's projection edited behind the log's back, or put back.
  void edit_first(bool edited) {
    w.store.data().dossiers[first].fields = edited ? R"({"recipient_name":"Người khác"})" : first_fields;
  }
  int delivered_in(DossierId id) {
    int n = 0;
    for (const auto& e : w.store.data().events) n += e.dossier == id && e.type == "NotificationDelivered";
    return n;
  }
};

RetryPolicy policy(int max_attempts) {
  RetryPolicy p;
  p.max_attempts = max_attempts;
  p.initial_backoff = std::chrono::milliseconds(2000);
  p.max_backoff = std::chrono::milliseconds(5000);
  return p;
}

}  // namespace

TEST_CASE("retry policy: the wait doubles after each failure and stops growing at its cap", "[notify][dispatcher]") {
  RetryPolicy p = policy(10);
  CHECK(p.backoff(1).count() == 2000);
  CHECK(p.backoff(2).count() == 4000);
  CHECK(p.backoff(3).count() == 5000);
  CHECK(p.backoff(40).count() == 5000);
}

TEST_CASE("retry policy: by default a receiver may be down for a night before a notice to it is given up",
          "[notify][dispatcher]") {
  const RetryPolicy p;  // as config/server.yaml ships it (server_config_test checks the file says the same)
  std::int64_t waited = 0;
  for (int failures = 1; failures < p.max_attempts; ++failures) waited += p.backoff(failures).count();
  // The last attempt comes this long after the first: more than 8 hours, less than half a day.
  CHECK(waited > 8 * 3'600'000LL);
  CHECK(waited < 12 * 3'600'000LL);
  CHECK(p.backoff(1).count() == 2000);  // a short blip costs seconds
  CHECK(p.backoff(p.max_attempts - 1) == p.max_backoff);
}

TEST_CASE(
    "dispatcher rounds: a backlog goes on at once unless clerks waited behind its records - then it yields "
    "to them - and without one the next round waits for the earliest retry",
    "[notify][dispatcher]") {
  using std::chrono::milliseconds;
  const Timestamp now{1'800'000'000'000};
  const milliseconds idle(1000);
  const auto recording = std::chrono::microseconds(2'500);  // the records took 2.5 ms of the writer
  DispatchRound backlog;
  backlog.more = true;
  // A retry due soon changes nothing while a backlog lasts.
  backlog.waiting_until = Timestamp{now.millis + 50};
  CHECK(next_round_wait(backlog, false, recording, 3, now, idle) == milliseconds(0));
  // 3 × 2.5 ms, rounded up; at most the idle wait.
  CHECK(next_round_wait(backlog, true, recording, 3, now, idle) == milliseconds(8));
  CHECK(next_round_wait(backlog, true, std::chrono::seconds(2), 3, now, idle) == idle);
  CHECK(next_round_wait(backlog, true, recording, 0, now, idle) == milliseconds(0));

  DispatchRound done;  // everything due went out
  CHECK(next_round_wait(done, true, recording, 3, now, idle) == idle);
  CHECK(next_round_wait(done, false, recording, 3, now, idle) == idle);
  done.waiting_until = Timestamp{now.millis + 300};
  CHECK(next_round_wait(done, false, recording, 3, now, idle) == milliseconds(300));
  done.waiting_until = Timestamp{now.millis + 2};  // never sooner than 10 ms: no spinning on a retry due now
  CHECK(next_round_wait(done, true, recording, 3, now, idle) == milliseconds(10));
  done.waiting_until = Timestamp{now.millis - 5000};
  CHECK(next_round_wait(done, false, recording, 3, now, idle) == milliseconds(10));
  done.waiting_until = Timestamp{now.millis + 3'600'000};  // a retry an hour away: checked again after `idle`
  CHECK(next_round_wait(done, false, recording, 3, now, idle) == idle);
}

TEST_CASE("dispatcher: a failing receiver is retried with backoff, each attempt in the history, and the notice "
          "after it does not wait",
          "[notify][dispatcher]") {
  Pending p;
  ScriptedChannel hook{"webhook", {transient("down"), Status::Ok(), transient("still down")}, {}};
  NoticeDispatcher d(*p.w.service, p.w.clock, {hook.channel()}, policy(5), templates());
  auto pending = p.w.service->pending_notifications(10, templates()).value();
  const NoticeKey first_key{pending[0].gseq, pending[0].n}, second_key{pending[1].gseq, pending[1].n};
  auto first = d.run(100);
  REQUIRE(first.ok());
  CHECK(first->failed == 1);
  CHECK(first->delivered == 1);  // the second notice went out while the first waits
  REQUIRE(first->waiting_until);
  CHECK(first->waiting_until->millis == p.w.clock.now().millis + 2000);
  // The first has not settled, so the cursor stays before it; the audit accepts the second settled ahead.
  CHECK(p.w.store.data().cursor == NoticeKey{0, -1});
  p.audit_passes();
  // Not due yet: nothing is tried (nor is the settled one sent again).
  auto idle = d.run(100);
  CHECK(idle->failed == 0);
  CHECK(idle->delivered == 0);
  CHECK(hook.calls.size() == 2);
  p.w.clock.advance_ms(2000);
  CHECK(d.run(100)->failed == 1);  // the second failure waits twice as long
  p.w.clock.advance_ms(2000);
  CHECK(d.run(100)->failed == 0);
  CHECK(hook.calls.size() == 3);
  p.w.clock.advance_ms(2000);
  auto third = d.run(100);
  REQUIRE(third.ok());
  CHECK(third->delivered == 1);
  CHECK_FALSE(third->waiting_until);
  // Once the first settles, the cursor passes both.
  CHECK(p.w.store.data().cursor == second_key);
  const auto& calls = hook.calls;
  REQUIRE(calls.size() == 4);
  CHECK(calls[0] == pending[0].id());
  CHECK(calls[1] == pending[1].id());
  CHECK(calls[2] == pending[0].id());
  CHECK(calls[3] == pending[0].id());
  auto a = p.attempts();
  REQUIRE(a.size() == 4);
  CHECK(std::get<0>(a[0]) == "NotificationFailed");
  CHECK(std::get<2>(a[0]) == 1);
  CHECK(std::get<3>(a[0]) == format_utc(Timestamp{kStart.millis + 120'000 + 2000}));
  CHECK(std::get<0>(a[1]) == "NotificationDelivered");  // the second notice, first time
  CHECK(std::get<2>(a[1]) == 1);
  CHECK(std::get<0>(a[2]) == "NotificationFailed");
  CHECK(std::get<2>(a[2]) == 2);
  CHECK(std::get<0>(a[3]) == "NotificationDelivered");
  CHECK(std::get<2>(a[3]) == 3);
  CHECK(first_key < second_key);
  CHECK(p.w.service->pending_notifications(10, templates())->empty());
  p.audit_passes();
}

TEST_CASE("dispatcher: a receiver that never answers ends in a dead letter, and the notices after it go out "
          "meanwhile",
          "[notify][dispatcher]") {
  Pending p;
  ScriptedChannel hook{"webhook", {transient("down"), Status::Ok(), transient("down"), transient("down")}, {}};
  NoticeDispatcher d(*p.w.service, p.w.clock, {hook.channel()}, policy(3), templates());
  const auto pending = p.w.service->pending_notifications(10, templates()).value();
  auto r = d.run(100);
  REQUIRE(r.ok());
  CHECK(r->delivered == 1);  // the second notice, at once
  for (int i = 0; i < 2; ++i) {
    p.w.clock.advance_ms(10'000);
    REQUIRE(d.run(100).ok());
  }
  auto a = p.attempts();
  REQUIRE(a.size() == 4);
  CHECK(std::get<0>(a[1]) == "NotificationDelivered");
  CHECK(std::get<0>(a[3]) == "NotificationDeadLettered");
  CHECK(std::get<2>(a[3]) == 3);
  CHECK(std::get<3>(a[3]).empty());  // no retry after a dead letter
  CHECK(p.w.service->pending_notifications(10, templates())->empty());
  CHECK(p.w.store.data().cursor == NoticeKey{pending[1].gseq, pending[1].n});  // past both once settled
  p.audit_passes();
  auto text = p.w.service->history(p.id, std::nullopt).value();
  CHECK(text.back().payload.find("\"error\":\"down (webhook_transient)\"") != std::string::npos);
}

TEST_CASE("dispatcher: a notice of a dossier that fails its head check is held with a growing wait - the notices "
          "after it go out and it goes out once the dossier is repaired",
          "[notify][dispatcher]") {
  TwoSubmitted t;
  World& w = t.w;
  const DossierId forged = t.first, sound = t.second;
  const auto& pending = t.pending;
  const NoticeKey forged_key = t.first_key, sound_key = t.second_key;
  t.edit_first(true);

  // The core: without a place to report it, the notice fails the read; with one, it is passed over.
  auto refused = w.service->pending_notifications(10, templates());
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kVerifyFailed);
  std::vector<HeldNotice> passed;
  auto rest = w.service->pending_notifications(10, templates(), {}, nullptr, &passed);
  REQUIRE(rest.ok());
  REQUIRE(rest->size() == 1);
  CHECK(rest->front().dossier == sound);
  REQUIRE(passed.size() == 1);
  CHECK(passed[0].key == forged_key);
  CHECK(passed[0].dossier == forged);
  CHECK(passed[0].why.code == ErrorCode::kVerifyFailed);

  ScriptedChannel hook{"webhook", {}, {}};
  std::vector<std::string> lines;
  auto log = [&](const std::string& line) { lines.push_back(line); };
  NoticeDispatcher d(*w.service, w.clock, {hook.channel()}, policy(5), templates());
  auto first = d.run(100, log);
  REQUIRE(first.ok());
  CHECK(first->delivered == 1);
  REQUIRE(first->held.size() == 1);
  CHECK(first->held[0].dossier == forged);
  CHECK(first->held[0].key == forged_key);
  REQUIRE(hook.calls.size() == 1);
  CHECK(hook.calls[0] == pending[1].id());
  REQUIRE(first->waiting_until);
  CHECK(first->waiting_until->millis == w.clock.now().millis + 1000);
  REQUIRE(lines.size() == 1);
  CHECK_THAT(lines[0], Catch::Contains(fmt::format("notice {} of dossier {} held, not sent (trying again in 1000 ms)",
                                                   pending[0].id(), forged)));
  // The sound dossier's delivery is recorded; the cursor waits before the held notice; nothing was written to
  // the forged dossier.
  auto delivered_in = [&](DossierId id) { return t.delivered_in(id); };
  CHECK(delivered_in(sound) == 1);
  CHECK(w.store.data().cursor < forged_key);
  CHECK(w.store.data().dossiers[forged].version == 2);

  // Before its wait is over it is not read again; after it, it is held again for twice as long.
  auto idle = d.run(100, log);
  REQUIRE(idle.ok());
  CHECK(idle->held.empty());
  CHECK(idle->delivered == 0);
  CHECK(lines.size() == 1);
  w.clock.advance_ms(1000);
  auto again = d.run(100, log);
  REQUIRE(again.ok());
  CHECK(again->held.size() == 1);
  CHECK(again->delivered == 0);
  REQUIRE(again->waiting_until);
  CHECK(again->waiting_until->millis == w.clock.now().millis + 2000);
  CHECK(hook.calls.size() == 1);  // the sound one is not sent twice

  // Repaired: it goes out once, and the cursor passes both.
  t.edit_first(false);
  w.clock.advance_ms(2000);
  auto repaired = d.run(100, log);
  REQUIRE(repaired.ok());
  CHECK(repaired->held.empty());
  CHECK(repaired->delivered == 1);
  CHECK_FALSE(repaired->waiting_until);
  REQUIRE(hook.calls.size() == 2);
  CHECK(hook.calls[1] == pending[0].id());
  CHECK(delivered_in(forged) == 1);
  CHECK(delivered_in(sound) == 1);
  CHECK(w.store.data().cursor == sound_key);
  CHECK(w.service->pending_notifications(10, templates())->empty());
  t.audit_passes();
}

TEST_CASE("dispatcher: an attempt whose record the history refuses is undone alone - the others stay recorded and "
          "its notice is held then sent again",
          "[notify][dispatcher]") {
  TwoSubmitted t;
  World& w = t.w;
  const DossierId edited = t.first, sound = t.second;
  const auto& pending = t.pending;
  // A channel during whose send the first dossier's projection is edited behind the log's back: its
  // delivery can no longer be recorded in that dossier.
  std::vector<std::string> calls;
  bool edit = true;
  DeliveryChannel channel{"webhook", [&](const Notification& n, Timestamp, DeliveryReceipt&) {
                            calls.push_back(n.id());
                            if (edit && n.dossier == edited) t.edit_first(true);
                            return Status::Ok();
                          }};
  std::vector<std::string> lines;
  auto log = [&](const std::string& line) { lines.push_back(line); };
  NoticeDispatcher d(*w.service, w.clock, {channel}, policy(5), templates());
  auto delivered_in = [&](DossierId id) { return t.delivered_in(id); };
  auto first = d.run(100, log);
  REQUIRE(first.ok());  // the round stands: the other notice's record is kept
  CHECK(first->delivered == 2);
  REQUIRE(first->held.size() == 1);
  CHECK(first->held[0].sent);
  CHECK(first->held[0].dossier == edited);
  CHECK(first->held[0].why.code == ErrorCode::kVerifyFailed);
  CHECK(delivered_in(sound) == 1);
  CHECK(delivered_in(edited) == 0);
  CHECK(w.store.data().cursor < t.first_key);
  REQUIRE(lines.size() == 1);
  CHECK_THAT(lines[0], Catch::Contains("held, sent but its delivery not recorded (trying again in 1000 ms)"));
  // Not tried again before its wait; then held as a notice whose dossier fails its check (not sent).
  CHECK(d.run(100, log)->delivered == 0);
  w.clock.advance_ms(1000);
  auto again = d.run(100, log);
  REQUIRE(again.ok());
  REQUIRE(again->held.size() == 1);
  CHECK_FALSE(again->held[0].sent);
  CHECK(calls.size() == 2);
  // Repaired: sent again (at least once), recorded once; the cursor passes both; the audit passes.
  edit = false;
  t.edit_first(false);
  w.clock.advance_ms(2000);
  auto repaired = d.run(100, log);
  REQUIRE(repaired.ok());
  CHECK(repaired->delivered == 1);
  CHECK(repaired->held.empty());
  REQUIRE(calls.size() == 3);
  CHECK(calls[2] == pending[0].id());
  CHECK(delivered_in(edited) == 1);
  CHECK(delivered_in(sound) == 1);
  CHECK(w.store.data().cursor == t.second_key);
  t.audit_passes();
}

TEST_CASE(
    "dispatcher: recipients a receiver left out are recorded with the delivery and logged - the audit "
    "accepts the record",
    "[notify][dispatcher]") {
  Pending p;
  auto pending = p.w.service->pending_notifications(10, templates()).value();
  const std::string first = pending[0].id();
  DeliveryChannel email{"email", [&](const Notification& n, Timestamp, DeliveryReceipt& receipt) {
                          if (n.id() == first)
                            receipt.left_out = {"RCPT TO:<cu@x.example>: 550 5.1.1 không có hộp thư",
                                                "RCPT TO:<sai@x.example>: 553 sai địa chỉ"};
                          return Status::Ok();
                        }};
  std::vector<std::string> lines;
  NoticeDispatcher d(*p.w.service, p.w.clock, {email}, policy(5), templates());
  auto round = d.run(100, [&](const std::string& line) { lines.push_back(line); });
  REQUIRE(round.ok());
  CHECK(round->delivered == 2);
  // In the history: the first notice's delivery names both, the second's nobody.
  std::vector<std::string> left_out;
  for (const auto& e : p.w.service->history(p.id, std::nullopt).value()) {
    if (e.type != "NotificationDelivered") continue;
    const auto delivery = boost::json::parse(e.payload).at("delivery").as_object();
    const auto* l = delivery.if_contains("left_out");
    left_out.push_back(l ? std::string(l->as_string()) : std::string("(none)"));
  }
  REQUIRE(left_out.size() == 2);
  CHECK(left_out[0] ==
        "RCPT TO:<cu@x.example>: 550 5.1.1 không có hộp thư; RCPT TO:<sai@x.example>: 553 sai địa chỉ");
  CHECK(left_out[1] == "(none)");
  REQUIRE(lines.size() == 1);
  CHECK_THAT(lines[0],
             Catch::Contains("notify email " + first + " attempt 1: delivered, but left out: RCPT TO:<cu@"));
  p.audit_passes();
}

TEST_CASE("dispatcher: a failure that repeating cannot fix is dead-lettered at once", "[notify][dispatcher]") {
  Pending p;
  ScriptedChannel mail{"email", {failure("550 không có hộp thư", "smtp_permanent")}, {}};
  NoticeDispatcher d(*p.w.service, p.w.clock, {mail.channel()}, policy(6), templates());
  auto r = d.run(100);
  REQUIRE(r.ok());
  CHECK(r->dead_lettered == 1);
  CHECK(r->delivered == 1);
  CHECK(std::get<0>(p.attempts()[0]) == "NotificationDeadLettered");
  p.audit_passes();
}

TEST_CASE("dispatcher: with two channels each settles a notice once, and a restart resumes from the history",
          "[notify][dispatcher]") {
  Pending p;
  ScriptedChannel file{"file", {}, {}};
  ScriptedChannel hook{"webhook", {transient("down")}, {}};
  auto pending = p.w.service->pending_notifications(10, templates()).value();
  const NoticeKey second_key{pending[1].gseq, pending[1].n};
  {
    NoticeDispatcher d(*p.w.service, p.w.clock, {file.channel(), hook.channel()}, policy(5), templates());
    auto r = d.run(100);
    REQUIRE(r.ok());
    CHECK(r->delivered == 3);  // the first by file (the webhook waits), the second by both
    CHECK(r->failed == 1);
  }
  // The first notice is half sent: the cursor has not moved, the audit accepts it and the second settled ahead.
  CHECK(p.w.store.data().cursor == NoticeKey{0, -1});
  p.audit_passes();
  // A new dispatcher (a restarted process): nothing settled is sent again, the webhook's retry is honoured.
  p.w.clock.advance_ms(1000);
  NoticeDispatcher again(*p.w.service, p.w.clock, {file.channel(), hook.channel()}, policy(5), templates());
  auto early = again.run(100);
  REQUIRE(early.ok());
  CHECK(early->delivered == 0);
  REQUIRE(early->waiting_until);
  CHECK(early->waiting_until->millis == p.w.clock.now().millis + 1000);
  CHECK(p.w.store.data().cursor == NoticeKey{0, -1});
  p.w.clock.advance_ms(1000);
  auto r = again.run(100);
  REQUIRE(r.ok());
  CHECK(r->delivered == 1);  // the webhook's retry of the first
  CHECK(file.calls.size() == 2);
  CHECK(hook.calls.size() == 3);
  CHECK(p.w.store.data().cursor == second_key);  // past both, the second checked against its history
  CHECK(p.w.service->pending_notifications(10, templates())->empty());
  p.audit_passes();
  SECTION("a cursor moved back by hand: nothing is sent twice, the cursor catches up from the history") {
    p.w.store.data().cursor = NoticeKey{0, -1};
    NoticeDispatcher third(*p.w.service, p.w.clock, {file.channel(), hook.channel()}, policy(5), templates());
    auto caught_up = third.run(100);
    REQUIRE(caught_up.ok());
    CHECK(caught_up->delivered == 0);
    CHECK(file.calls.size() == 2);
    CHECK(hook.calls.size() == 3);
    CHECK(p.w.store.data().cursor == second_key);
    p.audit_passes();
  }
}

TEST_CASE("dispatcher: a channel taken out of the configuration leaves no notice waiting for it",
          "[notify][dispatcher]") {
  Pending p;
  ScriptedChannel file{"file", {}, {}};
  ScriptedChannel hook{"webhook", {transient("down")}, {}};
  auto pending = p.w.service->pending_notifications(10, templates()).value();
  {
    NoticeDispatcher d(*p.w.service, p.w.clock, {file.channel(), hook.channel()}, policy(5), templates());
    REQUIRE(d.run(100).ok());  // the first: by file, the webhook waits; the second: by both
  }
  CHECK(p.w.store.data().cursor == NoticeKey{0, -1});
  // Restarted with the file channel only: both have gone out on every channel in use, nothing is sent again,
  // and the cursor passes both (the webhook's failed attempt stays in the history as it was).
  NoticeDispatcher file_only(*p.w.service, p.w.clock, {file.channel()}, policy(5), templates());
  auto r = file_only.run(100);
  INFO((r ? "" : r.error().message));
  REQUIRE(r.ok());
  CHECK(r->delivered == 0);
  CHECK_FALSE(r->waiting_until);
  CHECK(file.calls.size() == 2);
  CHECK(hook.calls.size() == 2);
  CHECK(p.w.store.data().cursor == NoticeKey{pending[1].gseq, pending[1].n});
  p.audit_passes();
}

TEST_CASE("dispatcher: notices another process sent meanwhile are no longer waited for", "[notify][dispatcher]") {
  Pending p;
  ScriptedChannel hook{"webhook", {transient("down"), transient("down")}, {}};
  NoticeDispatcher server(*p.w.service, p.w.clock, {hook.channel()}, policy(5), templates());
  auto first = server.run(100);
  REQUIRE(first.ok());
  CHECK(first->failed == 2);
  REQUIRE(first->waiting_until);
  // hoso notify deliver (the file channel) sends both and moves the cursor past them.
  ScriptedChannel file{"file", {}, {}};
  NoticeDispatcher cli(*p.w.service, p.w.clock, {file.channel()}, policy(5), templates());
  REQUIRE(cli.run(100).ok());
  CHECK(file.calls.size() == 2);
  // The server's retries come due: nothing is left to send, and nothing is waited for (no busy wake-ups).
  p.w.clock.advance_ms(10'000);
  auto later = server.run(100);
  REQUIRE(later.ok());
  CHECK(later->failed == 0);
  CHECK_FALSE(later->waiting_until);
  CHECK_FALSE(later->more);
  CHECK(hook.calls.size() == 2);
  p.audit_passes();
}

TEST_CASE("dispatcher: a cursor the history does not back is reported, and the attempts sent stay recorded",
          "[notify][dispatcher]") {
  Pending p;
  // No channel at all (a configuration mistake): each notice looks settled to the dispatcher, but the history
  // shows no channel settled it, so the cursor is not moved and the round says why.
  NoticeDispatcher none(*p.w.service, p.w.clock, {}, policy(5), templates());
  auto r = none.run(100);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kVerifyFailed);
  CHECK_THAT(r.error().message, Catch::Contains("chưa được gửi xong"));
  CHECK(p.w.store.data().cursor == NoticeKey{0, -1});
  CHECK(p.attempts().empty());
  // With a channel the notices go out, once each.
  ScriptedChannel file{"file", {}, {}};
  NoticeDispatcher d(*p.w.service, p.w.clock, {file.channel()}, policy(5), templates());
  REQUIRE(d.run(100).ok());
  CHECK(file.calls.size() == 2);
  CHECK(p.w.service->pending_notifications(10, templates())->empty());
  p.audit_passes();
}

TEST_CASE("advance_dispatch_cursor passes only the notices named and settled in the history, in log order",
          "[notify][dispatcher]") {
  Pending p;
  auto pending = p.w.service->pending_notifications(10, templates()).value();
  const NoticeKey first{pending[0].gseq, pending[0].n}, second{pending[1].gseq, pending[1].n};
  // The first is not named: the cursor stays before it, whatever comes after.
  CHECK(p.w.service->advance_dispatch_cursor({second}).value() == NoticeKey{0, -1});
  // Named, but nothing in the history settles it: refused, nothing moves.
  auto unsent = p.w.service->advance_dispatch_cursor({first, second});
  REQUIRE_FALSE(unsent.ok());
  CHECK(unsent.error().code == ErrorCode::kVerifyFailed);
  CHECK_THAT(unsent.error().message, Catch::Contains(fmt::format("thông báo {}.{} chưa được gửi xong", first.gseq, first.n)));
  CHECK(p.w.store.data().cursor == NoticeKey{0, -1});
  // The first delivered (not marked settling), the second only failed so far: the cursor passes the first.
  REQUIRE(p.w.service
              ->record_attempt(pending[0],
                               {"webhook", DeliveryOutcome::kDelivered, 1, "", std::nullopt, false, {}})
              .ok());
  REQUIRE(
      p.w.service
          ->record_attempt(
              pending[1],
              {"webhook", DeliveryOutcome::kFailed, 1, "down", Timestamp{kStart.millis + 999'000}, false, {}})
          .ok());
  CHECK(p.w.store.data().cursor == NoticeKey{0, -1});
  auto half = p.w.service->advance_dispatch_cursor({first, second});
  REQUIRE_FALSE(half.ok());  // the second is named but its history has a failure unsettled: all or nothing
  CHECK(p.w.store.data().cursor == NoticeKey{0, -1});
  CHECK(p.w.service->advance_dispatch_cursor({first}).value() == first);
  CHECK(p.w.store.data().cursor == first);
  p.audit_passes();
}

TEST_CASE("record_attempt refuses an attempt out of turn or past the cursor, a second settling and a failure without a retry time",
          "[notify][dispatcher]") {
  Pending p;
  auto pending = p.w.service->pending_notifications(10, templates()).value();
  DeliveryAttempt failed{
      "webhook", DeliveryOutcome::kFailed, 1, "down", Timestamp{kStart.millis + 999'000}, false, {}};
  REQUIRE(p.w.service->record_attempt(pending[0], failed).ok());
  // The same attempt again (another dispatcher recorded it first): a conflict.
  CHECK(p.w.service->record_attempt(pending[0], failed).error().code == ErrorCode::kVersionConflict);
  // The second notice may settle before the first (it does not wait for the first's retry); the cursor stays
  // before the first, and delivering the second again by the same channel is refused.
  DeliveryAttempt later{"webhook", DeliveryOutcome::kDelivered, 1, "", std::nullopt, true, {}};
  REQUIRE(p.w.service->record_attempt(pending[1], later).ok());
  CHECK(p.w.store.data().cursor == NoticeKey{0, -1});
  CHECK(p.w.service->record_attempt(pending[1], later).error().code == ErrorCode::kVerifyFailed);
  // A failure that claims to settle, or has no retry time: refused before anything is written.
  DeliveryAttempt bad = failed;
  bad.attempt = 2;
  bad.settles = true;
  CHECK_FALSE(p.w.service->record_attempt(pending[0], bad).ok());
  bad.settles = false;
  bad.retry_at.reset();
  CHECK_FALSE(p.w.service->record_attempt(pending[0], bad).ok());
  // Recipients left out belong to a delivery, never to a failure or a dead letter: the history's own rule
  // (replay and the audit hold every event to it too).
  bad = failed;
  bad.attempt = 2;
  bad.left_out = "a@x.example: 550";
  auto refused_failure = p.w.service->record_attempt(pending[0], bad);
  REQUIRE_FALSE(refused_failure.ok());
  CHECK_THAT(refused_failure.error().message,
             Catch::Contains("recipients left out recorded for a notice that was not delivered"));
  bad.outcome = DeliveryOutcome::kDeadLettered;
  bad.retry_at.reset();
  auto refused_dead = p.w.service->record_attempt(pending[0], bad);
  REQUIRE_FALSE(refused_dead.ok());
  CHECK_THAT(refused_dead.error().message,
             Catch::Contains("recipients left out recorded for a notice that was not delivered"));
  // Delivered by the webhook, not settling (another channel still to go); then by the webhook again: refused.
  DeliveryAttempt partial{"webhook", DeliveryOutcome::kDelivered, 2, "", std::nullopt, false, {}};
  REQUIRE(p.w.service->record_attempt(pending[0], partial).ok());
  partial.attempt = 3;
  CHECK(p.w.service->record_attempt(pending[0], partial).error().code == ErrorCode::kVerifyFailed);
  CHECK(p.attempts().size() == 3);
  // Once the cursor has passed a notice, no attempt at it is recorded, whatever the channel.
  const NoticeKey second{pending[1].gseq, pending[1].n};
  REQUIRE(p.w.service->advance_dispatch_cursor({NoticeKey{pending[0].gseq, pending[0].n}, second}).value() == second);
  DeliveryAttempt by_file{"file", DeliveryOutcome::kDelivered, 1, "", std::nullopt, true, {}};
  CHECK(p.w.service->record_attempt(pending[0], by_file).error().code == ErrorCode::kVersionConflict);
  CHECK(p.attempts().size() == 3);
  p.audit_passes();
}

TEST_CASE("dispatcher: a batch counts only once its channel's flush succeeds, and a recorder writes it",
          "[notify][dispatcher]") {
  Pending p;
  ScriptedChannel file{"file", {}, {}};
  DeliveryChannel channel = file.channel();
  std::vector<Status> flushes = {failure("disk full", "")};
  int flushed = 0;
  channel.flush = [&] {
    ++flushed;
    if (flushes.empty()) return Status::Ok();
    Status s = flushes.front();
    flushes.erase(flushes.begin());
    return s;
  };
  NoticeDispatcher d(*p.w.service, p.w.clock, {channel}, policy(5), templates());
  int recorded = 0;
  d.set_recorder([&](const NoticeDispatcher::Write& write) {
    ++recorded;
    return write(*p.w.service);
  });
  // The flush fails: nothing of the batch is recorded, the round fails, the notices are still pending.
  auto failed = d.run(100);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message.find("disk full") != std::string::npos);
  CHECK(file.calls.size() == 2);
  CHECK(flushed == 1);
  CHECK(recorded == 0);
  CHECK(p.attempts().empty());
  CHECK(p.w.service->pending_notifications(10, templates())->size() == 2);
  // Next round: sent again (at least once), flushed once for the batch, recorded through the recorder.
  auto again = d.run(100);
  REQUIRE(again.ok());
  CHECK(again->delivered == 2);
  CHECK(file.calls.size() == 4);
  CHECK(flushed == 2);
  CHECK(recorded == 1);
  CHECK(p.attempts().size() == 2);
  CHECK(p.w.service->pending_notifications(10, templates())->empty());
  p.audit_passes();
}

TEST_CASE(
    "file channel: a line the disk stops partway is cut off again - the lines before and after stay whole",
    "[notify]") {
  TempDir dir;
  const std::string path = dir.file("notices.jsonl");
  FileNotifier file(path);
  auto notice = [](std::int64_t gseq) {
    Notification n;
    n.gseq = gseq;
    n.dossier = 7;
    n.to_org = "ca-xa-phuong-tien";
    n.template_key = "dossier_received";
    n.subject = "Hồ sơ 7";
    n.body = std::string(2000, 'x');  // longer than the room left below: written in part
    n.emails = {"van.thu@example.vn"};
    return n;
  };
  REQUIRE(file.deliver(notice(1), Timestamp{0}).ok());
  REQUIRE(file.flush().ok());
  // A file size limit 100 bytes past the first line (as a full disk would stop it): the second line is
  // written in part, then refused.
  const auto size = static_cast<rlim_t>(std::filesystem::file_size(path));
  rlimit before{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &before) == 0);
  rlimit low = before;
  low.rlim_cur = size + 100;
  auto* const old_handler = std::signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead
  REQUIRE(setrlimit(RLIMIT_FSIZE, &low) == 0);
  const Status refused = file.deliver(notice(2), Timestamp{0});
  REQUIRE(setrlimit(RLIMIT_FSIZE, &before) == 0);
  std::signal(SIGXFSZ, old_handler);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains(path));
  CHECK(std::filesystem::file_size(path) == size);  // nothing of it is left
  // The next one (its retry, or another notice) is a line of its own.
  REQUIRE(file.deliver(notice(3), Timestamp{0}).ok());
  REQUIRE(file.flush().ok());
  std::ifstream in(path);
  std::vector<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    auto parsed = boost::json::parse(line);  // throws on a line glued to half of another
    ids.emplace_back(parsed.at("id").as_string());
  }
  CHECK(ids == std::vector<std::string>{"1.0", "3.0"});
}
