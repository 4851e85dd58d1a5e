// Processing deadlines through the real binary on a simulation database (virtual clock): reminders and
// overdue notices on the right working day, the legal clock stopped by a return, and the clock rules.
#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/e2e/cli_support.hpp"

namespace hoso::testing {

namespace {



// A Giấy khen xã dossier of a Phượng Tiến unit, eligible as of spring 2026, submitted.
std::string submitted_dossier(const Cli& cli) {
  auto args = eligible_args(cli);
  for (auto& a : args)
    if (a.rfind("security_cert_cycle_end=", 0) == 0) a = "security_cert_cycle_end=2025-11-15";
  const std::string id = create(cli, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", args);
  must_act(cli, id, "submit", "xom-khuan-lan.clerk");
  return id;
}

// A fresh virtual database on Monday 20/04/2026, 08:00 in Vietnam, and a dossier the unit submitted and Công
// an xã accepted then: its processing limit at Công an xã runs from that day.
std::string accepted_on_monday(const Cli& cli) {
  init_virtual(cli, "2026-04-20T01:00:00Z");
  const std::string id = submitted_dossier(cli);
  must_act(cli, id, "accept", "ca-xa-phuong-tien.clerk");
  return id;
}

// The (type, timer) of each event of a dossier.
std::vector<std::pair<std::string, std::string>> events_of(const Cli& cli, const std::string& id) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto history = cli.ok_json({"history", id});
  for (const auto& e : history.as_array()) {
    std::string timer;
    if (const auto* p = e.as_object().if_contains("payload"))
      if (const auto* t = p->as_object().if_contains("timer")) timer = str(*t);
    out.emplace_back(str(e.at("type")), timer);
  }
  return out;
}

// (target org, template) of every notice the dossier's events recorded (the log is the outbox), from its
// history.
std::vector<std::pair<std::string, std::string>> notices_of(const Cli& cli, const std::string& id) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto history = cli.ok_json({"history", id});
  for (const auto& e : history.as_array())
    if (const auto* p = e.as_object().if_contains("payload"))
      if (const auto* n = p->as_object().if_contains("notices"))
        for (const auto& notice : n->as_array())
          out.emplace_back(str(notice.at("to")), str(notice.at("template")));
  return out;
}

bool has(const std::vector<std::pair<std::string, std::string>>& v, const std::string& a, const std::string& b) {
  return std::find(v.begin(), v.end(), std::make_pair(a, b)) != v.end();
}

}  // namespace

TEST_CASE("a dossier left at a level gets its reminder, then its overdue notice, on the right working day",
          "[e2e][deadlines]") {
  Cli cli;
  const std::string id = accepted_on_monday(cli);
  // 10 working days from the day after 20/04: 21–24, (27/04 nghỉ bù Giỗ Tổ), 28, 29, (30/04, 01/05), 04–07/05.
  const auto shown = cli.ok_json({"dossier", "show", id});
  REQUIRE(shown.at("deadlines").as_array().size() == 1);
  CHECK(str(shown.at("deadlines").as_array()[0].at("due")) == "2026-05-07");
  CHECK(str(shown.at("deadlines").as_array()[0].at("status")) == "running");
  CHECK_FALSE(shown.at("overdue").as_bool());

  // The reminder: 2 working days before the limit, at 08:00 on 05/05 (Vietnam).
  advance_to(cli, "2026-05-05T00:59:00Z");
  CHECK(events_of(cli, id).back().first == "DossierAccepted");
  advance_to(cli, "2026-05-05T01:00:00Z");
  CHECK(events_of(cli, id).back() == std::make_pair(std::string("TimerFired"), std::string("processing.remind")));
  CHECK(has(notices_of(cli, id), "vhxh-xa-phuong-tien", "deadline_reminder"));
  CHECK_FALSE(cli.ok_json({"dossier", "show", id}).at("overdue").as_bool());

  // Overdue at the end of 07/05 (00:00 on 08/05 in Vietnam = 17:00 UTC on 07/05), not a minute before.
  advance_to(cli, "2026-05-07T16:59:00Z");
  CHECK_FALSE(cli.ok_json({"dossier", "show", id}).at("overdue").as_bool());
  advance_to(cli, "2026-05-07T17:00:00Z");
  auto late = cli.ok_json({"dossier", "show", id});
  CHECK(late.at("overdue").as_bool());
  CHECK(str(late.at("deadlines").as_array()[0].at("status")) == "overdue");
  const auto mail = notices_of(cli, id);
  CHECK(has(mail, "vhxh-xa-phuong-tien", "deadline_overdue"));
  CHECK(has(mail, "ca-tinh-thai-nguyen", "deadline_overdue_superior"));  // the level above is told
  auto inbox = cli({"inbox", "--as", "vhxh-xa-phuong-tien.appraiser"});
  CHECK(inbox.out.find("QUÁ HẠN") != std::string::npos);
  // The fired timers are system events in the chained history: it still verifies and replays.
  const auto history = cli.ok_json({"history", id});
  CHECK(str(history.as_array().back().at("actor").at("user")) == "system");
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", "--all"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", id}).at("ok").as_bool());
  // Moving on clears the level's clock; nothing else is pending.
  must_act(cli, id, "appraise", "vhxh-xa-phuong-tien.appraiser");
  must_act(cli, id, "decide", "ubnd-xa-phuong-tien.signer",
           {"--field", "decision_number=12/QĐ-UBND", "--field", "decision_date=2026-05-08"});
  CHECK(cli.ok_json({"timers", "list"}).as_array().empty());
}

TEST_CASE("a returned dossier's clock stops, and goes on with the days left when it comes back",
          "[e2e][deadlines]") {
  Cli cli;
  init_virtual(cli, "2026-03-02T01:00:00Z");  // Monday 02/03/2026
  const std::string id = submitted_dossier(cli);
  must_act(cli, id, "accept", "ca-xa-phuong-tien.clerk");  // due 16/03 (10 working days)
  advance_to(cli, "2026-03-05T03:00:00Z");                 // Thursday 05/03: 3 working days used
  must_act(cli, id, "return", "vhxh-xa-phuong-tien.appraiser", {"--note", "Thiếu biên bản họp"});
  const auto paused_view = cli.ok_json({"dossier", "show", id});
  const auto& paused = paused_view.at("deadlines").as_array();
  REQUIRE(paused.size() == 1);
  CHECK(str(paused[0].at("status")) == "paused");
  CHECK(paused[0].at("remaining_working_days").as_int64() == 7);
  CHECK(cli.ok_json({"timers", "list"}).as_array().empty());
  const auto clock = cli.ok_json({"clock", "show"});  // the paused rows wait in the table, but are not pending
  CHECK(clock.at("pending_timers").as_int64() == 0);
  CHECK(clock.at("next_due").is_null());
  // Three weeks with the unit: no reminder, no overdue notice.
  advance_to(cli, "2026-03-26T03:00:00Z");
  CHECK(events_of(cli, id).back().first == "DossierReturned");
  must_act(cli, id, "resubmit", "xom-khuan-lan.clerk");
  must_act(cli, id, "accept", "ca-xa-phuong-tien.clerk");  // Thursday 26/03: 7 working days left
  const auto resumed_view = cli.ok_json({"dossier", "show", id});
  const auto& resumed = resumed_view.at("deadlines").as_array();
  REQUIRE(resumed.size() == 1);
  CHECK(str(resumed[0].at("status")) == "running");
  // 27/03, 30/03–03/04, 06/04: the 7th working day after 26/03.
  CHECK(str(resumed[0].at("due")) == "2026-04-06");
  CHECK(cli.ok_json({"calendar", "add", "2026-03-26", "7"}).at("due").as_string() == "2026-04-06");
  advance_to(cli, "2026-04-06T17:00:00Z");
  CHECK(cli.ok_json({"dossier", "show", id}).at("overdue").as_bool());
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", id}).at("ok").as_bool());
}

TEST_CASE("the clock: only a simulation database moves, forwards only, and init cannot swap it",
          "[e2e][deadlines]") {
  SECTION("a system-clock database refuses hoso clock set and advance") {
    Cli cli;
    cli.init();
    auto shown = cli.ok_json({"clock", "show"});
    CHECK(str(shown.at("kind")) == "system");
    const std::string before = cli.dump();
    auto r = cli({"clock", "advance", "1d"});
    CHECK(r.code == 5);
    CHECK(r.err.find("đồng hồ hệ thống") != std::string::npos);
    CHECK(cli({"clock", "set", "2030-01-01T00:00:00Z"}).code == 5);
    CHECK(cli({"init", "--config", kSource + "/config", "--workflows", kSource + "/workflows", "--clock",
               "virtual", "--at", "2026-01-01T00:00:00Z"})
              .code == 2);
    CHECK(cli.dump() == before);
  }
  SECTION("a simulation database moves forward, never back") {
    Cli cli;
    init_virtual(cli, "2026-03-02T01:00:00Z");
    CHECK(str(cli.ok_json({"clock", "show"}).at("now")) == "2026-03-02T01:00:00.000Z");
    CHECK(str(cli.ok_json({"clock", "advance", "1d6h"}).at("now")) == "2026-03-03T07:00:00.000Z");
    const std::string before = cli.dump();
    auto back = cli({"clock", "set", "2026-03-01T00:00:00Z"});
    CHECK(back.code == 2);
    CHECK(back.err.find("lùi") != std::string::npos);
    CHECK(cli({"clock", "advance", "soon"}).code == 2);
    CHECK(cli({"clock", "set", "yesterday"}).code == 2);
    CHECK(cli.dump() == before);
    // Commands are stamped with the simulated time.
    const std::string id = submitted_dossier(cli);
    const auto history = cli.ok_json({"history", id});
    CHECK(str(history.as_array().back().at("at")) == "2026-03-03T07:00:00.000Z");
    // Re-running init keeps the clock; asking for a system clock is refused.
    CHECK(cli({"init", "--config", kSource + "/config", "--workflows", kSource + "/workflows"}).code == 0);
    CHECK(str(cli.ok_json({"clock", "show"}).at("kind")) == "virtual");
    CHECK(cli({"init", "--config", kSource + "/config", "--workflows", kSource + "/workflows", "--clock",
               "system"})
              .code == 2);
  }
  SECTION("two processes moving the clock at once never move it back") {
    Cli cli;
    init_virtual(cli, "2026-03-02T01:00:00Z");
    const std::string id = submitted_dossier(cli);
    must_act(cli, id, "accept", "ca-xa-phuong-tien.clerk");
    RunResult far, near;
    std::thread a([&] { far = cli({"clock", "advance", "30d"}); });
    std::thread b([&] { near = cli({"clock", "advance", "1h"}); });
    a.join();
    b.join();
    CHECK(far.code == 0);
    CHECK((near.code == 0 || near.code == 2));  // refused if the far move got there first
    CHECK(str(cli.ok_json({"clock", "show"}).at("now")) >= "2026-04-01T01:00:00.000Z");
    const auto history = cli.ok_json({"history", id});
    std::string previous;
    for (const auto& e : history.as_array()) {
      CHECK(str(e.at("at")) >= previous);
      previous = str(e.at("at"));
    }
    CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  }
  SECTION("--clock virtual needs --at, and --at needs --clock virtual") {
    Cli cli;
    CHECK(cli({"init", "--config", kSource + "/config", "--workflows", kSource + "/workflows", "--clock",
               "virtual"})
              .code == 2);
    CHECK(cli({"init", "--config", kSource + "/config", "--workflows", kSource + "/workflows", "--at",
               "2026-01-01T00:00:00Z"})
              .code == 2);
    CHECK_FALSE(std::filesystem::exists(cli.db));
  }
}

TEST_CASE("notify deliver: each pending notice once, as a JSON line in Vietnamese, recorded in the history",
          "[e2e][deadlines][notify]") {
  Cli cli;
  const std::string id = accepted_on_monday(cli);
  advance_to(cli, "2026-05-08T01:00:00Z");  // past the reminder and the limit
  const std::string file = cli.dir + "/thong-bao.jsonl";
  auto first = cli.ok_json({"notify", "deliver", "--file", file});
  const auto delivered = first.at("delivered").as_int64();
  CHECK(delivered == 5);  // received ×2, reminder, overdue to the holder and to the level above
  std::ifstream in(file);
  std::vector<boost::json::value> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(boost::json::parse(line));
  REQUIRE(lines.size() == 5);
  std::vector<std::pair<std::int64_t, std::int64_t>> ids;
  bool overdue_above = false, reminder = false;
  for (const auto& l : lines) {
    const std::string key = str(l.at("id"));
    ids.emplace_back(std::stoll(key.substr(0, key.find('.'))), std::stoll(key.substr(key.find('.') + 1)));
    if (str(l.at("template")) == "deadline_overdue_superior") {
      overdue_above = true;
      CHECK(str(l.at("to_org")) == "ca-tinh-thai-nguyen");
      CHECK(str(l.at("subject")).find("quá hạn") != std::string::npos);
      CHECK(str(l.at("body")).find("2026-05-07") != std::string::npos);
      CHECK_FALSE(l.at("emails").as_array().empty());
    }
    if (str(l.at("template")) == "deadline_reminder") {
      reminder = true;
      CHECK(str(l.at("subject")) == "Hồ sơ " + id + " sắp đến hạn xử lý ngày 2026-05-07");
    }
  }
  CHECK(overdue_above);
  CHECK(reminder);
  CHECK(std::is_sorted(ids.begin(), ids.end()));  // commit order
  // Each delivery is a system event in the chained history; nothing is sent twice.
  int deliveries = 0;
  for (const auto& [type, timer] : events_of(cli, id)) deliveries += type == "NotificationDelivered";
  CHECK(deliveries == 5);
  CHECK(cli.ok_json({"notify", "deliver", "--file", file}).at("delivered").as_int64() == 0);
  std::ifstream again(file);
  CHECK(std::count(std::istreambuf_iterator<char>(again), std::istreambuf_iterator<char>(), '\n') == 5);
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", "--all"}).at("ok").as_bool());
  // A file that cannot be written delivers nothing; the failed attempt is recorded with its reason and the
  // time of the next one (2 s later, the first backoff), and the notice goes out once that time has come.
  must_act(cli, id, "appraise", "vhxh-xa-phuong-tien.appraiser");
  auto broken = cli({"notify", "deliver", "--file", cli.dir + "/no-such-dir/x.jsonl"});
  CHECK(broken.code == 1);
  CHECK(broken.err.find("no-such-dir") != std::string::npos);
  CHECK(broken.err.find("thử lại lúc") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(cli.dir + "/no-such-dir"));
  auto last_event = [&] { return cli.ok_json({"history", id}).as_array().back().as_object(); };
  const auto failed = last_event();
  CHECK(failed.at("type").as_string() == "NotificationFailed");
  CHECK(failed.at("payload").at("delivery").at("attempt").as_int64() == 1);
  CHECK(std::string(failed.at("payload").at("delivery").at("error").as_string()).find("no-such-dir") !=
        std::string::npos);
  CHECK_FALSE(failed.at("payload").at("delivery").at("retry_at").as_string().empty());
  // Before the retry is due nothing is tried; after it, the notice goes out at the second attempt.
  CHECK(cli.ok_json({"notify", "deliver", "--file", file}).at("delivered").as_int64() == 0);
  REQUIRE(cli({"clock", "advance", "1m"}).code == 0);
  CHECK(cli.ok_json({"notify", "deliver", "--file", file}).at("delivered").as_int64() == 1);
  const auto second = last_event();
  CHECK(second.at("type").as_string() == "NotificationDelivered");
  CHECK(second.at("payload").at("delivery").at("attempt").as_int64() == 2);
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", "--all"}).at("ok").as_bool());
}

TEST_CASE("notify status: what is still to go out - never tried / waiting for a retry / dead-lettered / held",
          "[e2e][notify]") {
  Cli cli;
  init_virtual(cli, "2026-04-20T01:00:00Z");
  const std::string file = cli.dir + "/n.jsonl", broken = cli.dir + "/no-such-dir/x.jsonl";
  auto status = [&] { return cli.ok_json({"notify", "status"}).as_object(); };
  auto file_channel = [&] { return status().at("channels").at("file").as_object(); };
  // Nothing recorded yet: no cursor, nothing waiting.
  auto empty = status();
  CHECK(empty.at("cursor").is_null());
  CHECK(empty.at("after_cursor").as_int64() == 0);
  CHECK(empty.at("oldest_waiting_at").is_null());
  const std::string id = submitted_dossier(cli);
  must_act(cli, id, "accept", "ca-xa-phuong-tien.clerk");
  const auto recorded = notices_of(cli, id).size();
  REQUIRE(recorded >= 2);
  // The notices the commands recorded, none tried: counted, the oldest dated by its event (the submission).
  auto waiting = status();
  CHECK(waiting.at("cursor").is_null());
  CHECK(waiting.at("after_cursor").as_int64() == static_cast<std::int64_t>(recorded));
  CHECK(waiting.at("never_tried").as_int64() == static_cast<std::int64_t>(recorded));
  CHECK(str(waiting.at("oldest_waiting_at")) == "2026-04-20T01:00:00.000Z");
  CHECK(waiting.at("channels").as_object().empty());
  auto text = cli({"notify", "status"});
  CHECK(text.code == 0);
  CHECK(text.out.find("chưa gửi lần nào: " + std::to_string(recorded)) != std::string::npos);
  CHECK(text.out.find("từ 2026-04-20 08:00:00 (UTC+7)") != std::string::npos);  // the Vietnam time
  // Delivered: the cursor moves past them and nothing waits.
  REQUIRE(cli({"notify", "deliver", "--file", file}).code == 0);
  auto sent = status();
  CHECK_FALSE(sent.at("cursor").is_null());
  CHECK(sent.at("after_cursor").as_int64() == 0);
  CHECK(sent.at("never_tried").as_int64() == 0);
  CHECK(sent.at("oldest_waiting_at").is_null());
  // A failed attempt (at 01:00:00): waiting for its retry, due when its NotificationFailed event says, with
  // the error.
  must_act(cli, id, "appraise", "vhxh-xa-phuong-tien.appraiser");
  REQUIRE(cli({"notify", "deliver", "--file", broken}).code == 1);
  auto retry = file_channel();
  const auto failed_delivery = cli.ok_json({"history", id}).as_array().back().at("payload").at("delivery");
  const auto retry_id = failed_delivery.at("notification");
  CHECK(retry.at("waiting_retry").as_int64() == 1);
  CHECK(retry.at("delivered").as_int64() == 0);
  CHECK(retry.at("dead_lettered").as_int64() == 0);
  CHECK(str(retry.at("next_retry_at")) == str(failed_delivery.at("retry_at")));
  CHECK(str(retry.at("last_error")).find("no-such-dir") != std::string::npos);
  CHECK(status().at("never_tried").as_int64() == 0);
  // A second later, its retry not due yet, another dossier's notices go out ahead of it: counted as delivered
  // on the channel until the cursor passes them.
  REQUIRE(cli({"clock", "set", "2026-04-20T01:00:01Z"}).code == 0);
  const std::string later = submitted_dossier(cli);
  const auto later_notices = static_cast<std::int64_t>(notices_of(cli, later).size());
  REQUIRE(later_notices >= 1);
  REQUIRE(cli({"notify", "deliver", "--file", file}).code == 0);
  // And a third dossier's, not tried: the oldest waiting is still the failed one, not the latest.
  const std::string third = submitted_dossier(cli);
  const auto third_notices = static_cast<std::int64_t>(notices_of(cli, third).size());
  const auto ahead = status();
  CHECK(ahead.at("after_cursor").as_int64() == 1 + later_notices + third_notices);
  CHECK(ahead.at("never_tried").as_int64() == third_notices);
  CHECK(ahead.at("channels").at("file").at("delivered").as_int64() == later_notices);
  CHECK(ahead.at("channels").at("file").at("waiting_retry").as_int64() == 1);
  CHECK(str(ahead.at("oldest_waiting_at")) == "2026-04-20T01:00:00.000Z");
  text = cli({"notify", "status"});
  CHECK(text.out.find("Kênh file: đã gửi " + std::to_string(later_notices) +
                      ", chờ gửi lại 1, đưa vào hàng lỗi 0 (gửi lại sớm nhất lúc") != std::string::npos);
  REQUIRE(cli({"notify", "deliver", "--file", file}).code == 0);  // the third's go out; the retry is not due
  // Every attempt failing until the last: dead-lettered, settled (the cursor passes it, nothing waits), and
  // listed among the dead letters with its dossier, channel and error for the operator.
  CHECK(status().at("dead_letters").as_array().empty());
  for (int attempt = 2; attempt <= 20; ++attempt) {  // the default: 20 attempts, at most an hour apart
    REQUIRE(cli({"clock", "advance", "1h"}).code == 0);
    REQUIRE(cli({"notify", "deliver", "--file", broken}).code == 1);
  }
  const auto after_dead = status();
  CHECK(after_dead.at("after_cursor").as_int64() == 0);
  CHECK(after_dead.at("oldest_waiting_at").is_null());
  const auto& dead = after_dead.at("dead_letters").as_array();
  REQUIRE(dead.size() == 1);
  CHECK(std::to_string(dead[0].at("dossier").as_int64()) == id);
  CHECK(str(dead[0].at("channel")) == "file");
  CHECK(str(dead[0].at("to_org")) == "ubnd-xa-phuong-tien");
  CHECK(str(dead[0].at("error")).find("no-such-dir") != std::string::npos);
  CHECK(str(dead[0].at("id")) == str(retry_id));
  text = cli({"notify", "status"});
  CHECK(text.out.find("Đã đưa vào hàng lỗi (không gửi lại tự động): 1 thông báo") != std::string::npos);
  CHECK(text.out.find("qua kênh file") != std::string::npos);
  // A notice whose dossier fails its check is held: named with its dossier and why, and status still exits 0.
  // Another dossier's notices after them render and are counted once, the held ones too.
  const std::string other = submitted_dossier(cli);
  const auto other_notices = notices_of(cli, other).size();
  forge(cli, "UPDATE dossiers SET last_hash = 'forged' WHERE id = " + other);
  const std::string renders = submitted_dossier(cli);
  const auto renders_notices = static_cast<std::int64_t>(notices_of(cli, renders).size());
  const auto with_held = status();
  const auto& held = with_held.at("held").as_array();
  REQUIRE(held.size() == other_notices);
  CHECK(std::to_string(held[0].at("dossier").as_int64()) == other);
  CHECK_FALSE(str(held[0].at("message")).empty());
  CHECK(with_held.at("never_tried").as_int64() == renders_notices);  // held ones are not counted as waiting
  CHECK(with_held.at("after_cursor").as_int64() == static_cast<std::int64_t>(held.size()) + renders_notices);
  text = cli({"notify", "status"});
  CHECK(text.code == 0);
  CHECK(text.out.find("Bị giữ lại") != std::string::npos);
  CHECK(text.out.find("của hồ sơ " + other) != std::string::npos);
  // Reading the status writes nothing.
  const std::string events = read_one(cli, "SELECT count(*) FROM events");
  status();
  CHECK(read_one(cli, "SELECT count(*) FROM events") == events);
  // Bad input: an option it does not take, a subcommand it does not know, a database that does not exist —
  // each refused with its own message, nothing written, no file created.
  const auto with_file = cli({"notify", "status", "--file", file});
  CHECK(with_file.code == 2);
  CHECK(with_file.err.find("hoso notify status không nhận --file") != std::string::npos);
  const auto unknown = cli({"notify", "stats"});
  CHECK(unknown.code == 2);
  CHECK(unknown.err.find("cách dùng: hoso notify deliver") != std::string::npos);
  CHECK(read_one(cli, "SELECT count(*) FROM events") == events);
  const std::string missing = cli.dir + "/khong-co.db";
  const auto no_db = run({HOSO_BINARY, "notify", "status", "--db", missing});
  CHECK(no_db.code == 3);
  CHECK(no_db.err.find("không tìm thấy cơ sở dữ liệu") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(missing));
}

TEST_CASE("notify status fails naming what stops it rather than counting only the notices before it",
          "[e2e][notify]") {
  Cli cli;
  // The notices of the submission and the acceptance render; the overdue notice to the level above, recorded
  // once the limit passes, names a template the stored templates no longer have (changed behind init's back).
  const std::string id = accepted_on_monday(cli);
  const auto before = cli.ok_json({"notify", "status"});
  REQUIRE(before.at("never_tried").as_int64() >= 2);
  forge(cli,
        "UPDATE config_files SET text = replace(text, 'deadline_overdue_superior:', 'gone_superior:') "
        "WHERE name = 'templates'");
  REQUIRE(cli({"clock", "advance", "20d"}).code ==
          0);  // past the limit: an overdue notice to the level above
  auto r = cli({"notify", "status"});
  CHECK(r.code == 7);
  CHECK(r.err.find("deadline_overdue_superior") != std::string::npos);
  CHECK(r.out.empty());  // no partial count
}

TEST_CASE("notify status: a dead letter that names no notice (added behind the engine's back) fails it",
          "[e2e][notify][audit]") {
  Cli cli;
  init_virtual(cli, "2026-04-20T01:00:00Z");
  const std::string id = submitted_dossier(cli);
  REQUIRE(cli({"notify", "status"}).code == 0);
  forge(cli,
        "INSERT INTO events (dossier_id, seq, type, at, actor_user, actor_role, actor_org, \"action\", "
        "from_state, to_state, holder, note, payload, schema_version, prev_hash, hash, prev_gseq) "
        "SELECT dossier_id, seq + 1, 'NotificationDeadLettered', at, actor_user, actor_role, actor_org, "
        "\"action\", to_state, to_state, holder, '', '{\"delivery\":{}}', schema_version, hash, hash, gseq "
        "FROM events WHERE dossier_id = " +
            id + " ORDER BY seq DESC LIMIT 1");
  auto r = cli({"notify", "status", "--json"});
  CHECK(r.code == 8);
  CHECK(r.err.find("hàng lỗi") != std::string::npos);
  CHECK(r.err.find("hồ sơ " + id) != std::string::npos);
}

TEST_CASE("the timers table is audited, and a forged or missing row never fires a deadline early",
          "[e2e][deadlines][audit]") {
  Cli cli;
  init_virtual(cli, "2026-03-02T01:00:00Z");
  const std::string id = submitted_dossier(cli);
  must_act(cli, id, "accept", "ca-xa-phuong-tien.clerk");  // limit: end of 16/03
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  SECTION("a forged row: audit names it; advancing drops it and fires nothing early") {
    forge(cli, "INSERT INTO timers VALUES ('2026-03-02T01:00:00.500Z', " + id + ", 'processing')");
    auto audit = cli({"audit", "verify", "--json"});
    CHECK(audit.code == 8);
    CHECK(boost::json::parse(audit.out).at("failure").as_string().find("không ghi nhận") != std::string::npos);
    const auto moved = cli.ok_json({"clock", "advance", "1h", "--json"});
    CHECK(moved.at("fired").as_int64() == 0);
    CHECK(moved.at("dropped").as_int64() == 1);
    CHECK_FALSE(cli.ok_json({"dossier", "show", id}).at("overdue").as_bool());
    CHECK(events_of(cli, id).back().first == "DossierAccepted");
    CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
    advance_to(cli, "2026-03-16T17:00:00Z");  // the real limit still fires
    CHECK(cli.ok_json({"dossier", "show", id}).at("overdue").as_bool());
  }
  SECTION(
      "a due row of a dossier whose projection was forged: named and left while the rows after it are handled") {
    const std::string other = submitted_dossier(cli);
    forge(cli, "UPDATE dossiers SET fields = '{\"recipient_name\":\"Người khác\"}' WHERE id = " + id);
    forge(cli, "INSERT INTO timers VALUES ('2026-03-02T00:00:00.000Z', " + id +
                   ", 'processing'), ('2026-03-02T00:00:01.000Z', " + other + ", 'processing')");
    auto run = cli({"timers", "run"});
    CHECK(run.code == 8);
    CHECK(run.err.find("của hồ sơ " + id + " (đến hạn 2026-03-02T00:00:00.000Z)") != std::string::npos);
    CHECK(read_one(cli, "SELECT count(*) FROM timers WHERE dossier_id = " + other) == "0");  // dropped
    CHECK(read_one(cli, "SELECT count(*) FROM timers WHERE dossier_id = " + id +
                            " AND due_at = '2026-03-02T00:00:00.000Z'") == "1");
    // Moving the simulation's clock stops before it too, and names it; the clock stays where it was.
    const RunResult shown = cli({"clock", "show"});
    REQUIRE(shown.code == 0);
    const std::string before = shown.out;
    auto moved = cli({"clock", "advance", "1h"});
    CHECK(moved.code == 8);
    CHECK(moved.err.find("của hồ sơ " + id) != std::string::npos);
    CHECK(cli({"clock", "show"}).out == before);
  }
  SECTION("a deleted row: audit names it, and the dossier can still move on") {
    forge(cli, "DELETE FROM timers WHERE name = 'processing'");
    auto audit = cli({"audit", "verify", "--json"});
    CHECK(audit.code == 8);
    CHECK(boost::json::parse(audit.out).at("failure").as_string().find("thiếu hẹn giờ") != std::string::npos);
    must_act(cli, id, "appraise", "vhxh-xa-phuong-tien.appraiser");
    must_act(cli, id, "decide", "ubnd-xa-phuong-tien.signer",
             {"--field", "decision_number=3/QĐ", "--field", "decision_date=2026-03-02"});
    CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  }
}

TEST_CASE("notices are part of the chain: a forged one is neither delivered nor passes the audit, a moved "
          "dispatch cursor moved past unsent notices is caught",
          "[e2e][notify][audit]") {
  Cli cli;
  init_virtual(cli, "2026-03-02T01:00:00Z");
  const std::string id = submitted_dossier(cli);
  must_act(cli, id, "accept", "ca-xa-phuong-tien.clerk");
  const std::string file = cli.dir + "/n.jsonl";
  auto delivered = [&] {
    std::ifstream in(file);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  auto audit_failure = [&] {
    auto audit = cli({"audit", "verify", "--json"});
    CHECK(audit.code == 8);
    return std::string(boost::json::parse(audit.out).at("failure").as_string());
  };
  SECTION("an event telling another org, added to the log outside the dossier's chain") {
    forge(cli,
          "INSERT INTO events (dossier_id, seq, type, at, actor_user, actor_role, actor_org, \"action\", "
          "from_state, to_state, holder, note, payload, schema_version, prev_hash, hash, prev_gseq) "
          "SELECT dossier_id, seq, type, at, actor_user, actor_role, actor_org, \"action\", from_state, to_state, "
          "holder, note, replace(payload, 'vhxh-xa-phuong-tien', 'ca-tinh-lao-cai'), schema_version, prev_hash, "
          "hash, prev_gseq FROM events WHERE dossier_id = " + id + " AND seq = 3");
    CHECK_FALSE(audit_failure().empty());
    auto sent = cli({"notify", "deliver", "--file", file});
    CHECK(sent.code == 8);
    // The genuine notices before it went out; the forged one did not.
    CHECK(delivered().find("ca-tinh-lao-cai") == std::string::npos);
    CHECK(delivered().find("ca-xa-phuong-tien") != std::string::npos);
  }
  SECTION("a notice redirected to another org inside its event") {
    forge(cli,
          "DROP TRIGGER events_no_update; UPDATE events SET payload = replace(payload, 'vhxh-xa-phuong-tien', "
          "'ca-tinh-lao-cai') WHERE dossier_id = " + id + " AND seq = 3");
    CHECK(audit_failure().find("mã băm") != std::string::npos);
    CHECK(cli({"notify", "deliver", "--file", file}).code == 8);
    CHECK(delivered().find("ca-tinh-lao-cai") == std::string::npos);
  }
  SECTION("the dispatch cursor moved past notices that never went out") {
    forge(cli, "INSERT OR REPLACE INTO meta VALUES ('dispatch_cursor', (SELECT max(gseq) || '.0' FROM events))");
    CHECK(audit_failure().find("vị trí gửi") != std::string::npos);
  }
  SECTION("the dispatch cursor moved back after the notices went out: none goes out twice, it catches up") {
    REQUIRE(cli({"notify", "deliver", "--file", file}).code == 0);
    const std::string once = delivered();
    CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
    const std::string cursor = read_one(cli, "SELECT value FROM meta WHERE key = 'dispatch_cursor'");
    forge(cli, "DELETE FROM meta WHERE key = 'dispatch_cursor'");
    // Notices settle independently, so attempts past the cursor are no anomaly; the history says what went out.
    CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
    CHECK(cli({"notify", "deliver", "--file", file}).code == 0);
    CHECK(delivered() == once);
    CHECK(read_one(cli, "SELECT value FROM meta WHERE key = 'dispatch_cursor'") == cursor);
    CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  }
  SECTION("an exact copy of a delivered notice's event, added at the end of the log: not delivered again") {
    REQUIRE(cli({"notify", "deliver", "--file", file}).code == 0);
    const std::string once = delivered();
    forge(cli,
          "INSERT INTO events (dossier_id, seq, type, at, actor_user, actor_role, actor_org, \"action\", "
          "from_state, to_state, holder, note, payload, schema_version, prev_hash, hash, prev_gseq) "
          "SELECT dossier_id, seq, type, at, actor_user, actor_role, actor_org, \"action\", from_state, to_state, "
          "holder, note, payload, schema_version, prev_hash, hash, prev_gseq FROM events WHERE dossier_id = " +
              id + " AND seq = 2");
    CHECK(cli({"notify", "deliver", "--file", file}).code == 8);
    CHECK(delivered() == once);
    CHECK_FALSE(audit_failure().empty());
  }
}

TEST_CASE("notify deliver: a notice of a dossier whose projection was forged is held and named - the notices after "
          "it go out and it goes out once the dossier is repaired",
          "[e2e][notify]") {
  Cli cli;
  init_virtual(cli, "2026-03-02T01:00:00Z");
  const std::string forged = submitted_dossier(cli), sound = submitted_dossier(cli);
  const std::string original = read_one(cli, "SELECT fields FROM dossiers WHERE id = " + forged);
  forge(cli, "UPDATE dossiers SET fields = '{\"recipient_name\":\"Người khác\"}' WHERE id = " + forged);
  const std::string file = cli.dir + "/n.jsonl";
  auto sent_for = [&] {
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
      out.push_back(std::to_string(boost::json::parse(line).at("dossier").as_int64()));
    return out;
  };
  auto delivered_in = [&](const std::string& id) {
    return read_one(cli, "SELECT count(*) FROM events WHERE type = 'NotificationDelivered' AND dossier_id = " + id);
  };
  auto held = cli({"notify", "deliver", "--file", file});
  CHECK(held.code == 8);
  CHECK_THAT(held.err, Catch::Contains("Đã gửi 1 thông báo; 1 thông báo bị giữ lại"));
  CHECK_THAT(held.err,
             Catch::Contains("của hồ sơ " + forged + " (chưa gửi): Hồ sơ " + forged + " không khớp với lịch sử"));
  CHECK(sent_for() == std::vector<std::string>{sound});
  CHECK(delivered_in(sound) == "1");
  CHECK(delivered_in(forged) == "0");
  // Run again: held again, nothing sent twice.
  CHECK(cli({"notify", "deliver", "--file", file}).code == 8);
  CHECK(sent_for() == std::vector<std::string>{sound});
  // The projection put back as the log says it is: its notice goes out, once, and the audit passes.
  std::string quoted;
  for (char ch : original) quoted += ch == '\'' ? std::string("''") : std::string(1, ch);
  forge(cli, "UPDATE dossiers SET fields = '" + quoted + "' WHERE id = " + forged);
  CHECK(cli.ok_json({"notify", "deliver", "--file", file}).at("delivered").as_int64() == 1);
  CHECK(sent_for() == (std::vector<std::string>{sound, forged}));
  CHECK(delivered_in(forged) == "1");
  CHECK(cli.ok_json({"notify", "deliver", "--file", file}).at("delivered").as_int64() == 0);
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE("switching the stored clock behind the engine's back cannot back-date an event", "[e2e][audit]") {
  Cli cli;
  cli.init();  // a production database (system clock)
  submitted_dossier(cli);
  forge(cli, "INSERT OR REPLACE INTO meta VALUES ('clock', 'virtual'), ('clock_at', '2025-01-02T00:00:00.000Z')");
  const std::string before = cli.dump();
  auto r = cli({"dossier", "create", "--workflow", "standard", "--award", "giay_khen_xa", "--as", "xom-khuan-lan.clerk"});
  CHECK(r.code == 5);  // clock_behind: earlier than the last event in the log
  CHECK(r.err.find("ghi lùi") != std::string::npos);
  CHECK(cli({"clock", "set", "2025-01-01T00:00:00Z"}).code == 2);
  CHECK(cli.dump() == before);
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
}

TEST_CASE("a fired timer may move the dossier along a timeout transition", "[e2e][deadlines]") {
  Cli cli;
  // The seed workflows plus a test workflow whose intake gives the dossier back after 2 days.
  const std::string workflows = cli.dir + "/workflows";
  std::filesystem::create_directories(workflows);
  for (const char* f : {"standard.yaml", "simplified.yaml"})
    std::filesystem::copy_file(kSource + "/workflows/" + f, workflows + "/" + f);
  std::filesystem::copy_file(kSource + "/tests/fixtures/timeout/auto_return.yaml", workflows + "/auto_return.yaml");
  auto r = cli({"init", "--config", kSource + "/config", "--workflows", workflows, "--clock", "virtual", "--at",
                "2026-03-02T01:00:00Z"});
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::string id =
      create(cli, "auto_return", "giay_khen_xa", "xom-khuan-lan.clerk", {"--field", "recipient_name=Xóm Khuân Lân"});
  must_act(cli, id, "submit", "xom-khuan-lan.clerk");
  // Nobody may take the timeout transition by hand.
  CHECK(cli({"dossier", "act", id, "auto_return", "--as", "ca-xa-phuong-tien.clerk"}).code != 0);
  advance_to(cli, "2026-03-04T00:59:00Z");
  CHECK(str(cli.ok_json({"dossier", "show", id}).at("state")) == "intake");
  advance_to(cli, "2026-03-04T01:00:00Z");
  const auto shown = cli.ok_json({"dossier", "show", id});
  CHECK(str(shown.at("state")) == "draft");
  CHECK(str(shown.at("holder")) == "xom-khuan-lan");
  const auto history = cli.ok_json({"history", id});
  const auto& last = history.as_array().back();
  CHECK(str(last.at("type")) == "TimerFired");
  CHECK(str(last.at("action")) == "auto_return");
  CHECK(str(last.at("from")) == "intake");
  CHECK(str(last.at("to")) == "draft");
  CHECK(has(notices_of(cli, id), "xom-khuan-lan", "dossier_returned"));
  CHECK(cli.ok_json({"audit", "verify"}).at("ok").as_bool());
  CHECK(cli.ok_json({"replay", id}).at("ok").as_bool());
  // Submitted again and taken up in time: the timer is cancelled and nothing moves it back.
  must_act(cli, id, "submit", "xom-khuan-lan.clerk");
  must_act(cli, id, "decide", "ca-xa-phuong-tien.clerk");
  advance_to(cli, "2026-03-10T01:00:00Z");
  CHECK(str(cli.ok_json({"dossier", "show", id}).at("state")) == "approved");
}

TEST_CASE("clock, timers and notify refuse malformed commands with a message and change nothing",
          "[e2e][deadlines]") {
  Cli cli;
  init_virtual(cli, "2026-03-02T01:00:00Z");
  const std::string id = submitted_dossier(cli);
  must_act(cli, id, "accept", "ca-xa-phuong-tien.clerk");
  const std::string before = cli.dump();
  for (std::vector<std::string> bad : {std::vector<std::string>{"clock"},
                                       {"clock", "advance"},
                                       {"clock", "advance", "3x"},
                                       {"clock", "advance", "-1d"},
                                       {"clock", "set", "2026-13-01T00:00:00Z"},
                                       {"clock", "show", "now"},
                                       {"timers"},
                                       {"timers", "fire"},
                                       {"timers", "list", "all"},
                                       {"timers", "run", "--file", "x"},
                                       {"notify"},
                                       {"notify", "send"},
                                       {"notify", "deliver", "--as", "ca-xa-phuong-tien.clerk"}}) {
    auto r = cli(bad);
    INFO(bad[0] << " " << (bad.size() > 1 ? bad[1] : "") << " " << (bad.size() > 2 ? bad[2] : ""));
    CHECK(r.code == 2);
    CHECK(r.err.find("lỗi:") != std::string::npos);
  }
  CHECK(cli.dump() == before);
  CHECK_FALSE(std::filesystem::exists(cli.db + ".notifications.jsonl"));
}

}  // namespace hoso::testing
