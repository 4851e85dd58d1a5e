// The core through the command service, with a fake clock and the in-memory store.
#include <catch2/catch.hpp>

#include "engine/codec.hpp"
#include "engine/hash_chain.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/walker.hpp"

using namespace hoso;
using namespace hoso::testing;

namespace {

// Rehashes `e`, edited in place, and records it as the dossier's head, as a forger with file access would: the
// hash chain then holds, and only the rules (replay) can tell.
void forge_head(World& w, DossierId id, EventRecord& e) {
  e.hash = event_hash(e);
  w.store.data().dossiers[id].last_hash = e.hash;
}

DossierId create(World& w, const std::string& workflow, const std::string& award, const std::string& user,
                 const RawInput& in) {
  auto r = w.service->create(workflow, award, user, in);
  INFO((r ? "" : r.error().message));
  REQUIRE(r.ok());
  return r->id;
}

RawInput simplified_input() {
  RawInput in;
  in.fields = {{"recipient_name", "Anh Nguyễn Văn Dũng"},
               {"recipient_kind", "individual"},
               {"act_date", "2026-02-20"},
               {"act_summary", "Cứu người bị đuối nước"}};
  in.documents = {{"to_trinh", "tt.pdf", std::string(64, 'b'), 10},
                  {"tom_tat_thanh_tich", "tt2.pdf", std::string(64, 'c'), 10}};
  return in;
}

std::vector<std::string> path_of(World& w, const std::string& workflow, const std::string& award,
                                 const std::string& user, const RawInput& in) {
  return walk_forward(w, create(w, workflow, award, user, in));
}

}  // namespace

TEST_CASE("every award kind walks its full path and stops at its deciding level", "[service][paths]") {
  World w;
  const std::string unit = "xom-khuan-lan.clerk";
  SECTION("Giấy khen xã stops at the commune") {
    CHECK(path_of(w, "standard", "giay_khen_xa", unit, eligible_collective()) ==
          concat({kCommunePath, {"approved"}}));
  }
  SECTION("Bằng khen and Cờ thi đua tỉnh stop at UBND tỉnh after the council vote") {
    for (const char* award : {"bang_khen_tinh", "co_thi_dua_tinh"})
      CHECK(path_of(w, "standard", award, unit, eligible_collective()) ==
            concat({kCommunePath, kProvincePath, {"approved"}}));
  }
  SECTION("Bằng khen Thủ tướng and Cờ thi đua Chính phủ go to central and the Prime Minister") {
    for (const char* award : {"bang_khen_ttg", "co_thi_dua_cp"})
      CHECK(path_of(w, "standard", award, unit, eligible_collective()) ==
            concat({kCommunePath,
                    kProvincePath,
                    {"central_intake", "central_appraisal", "pm_decision", "approved"}}));
  }
  SECTION("Huân chương Lao động goes on to the President") {
    for (const char* award : {"huan_chuong_ld_nhat", "huan_chuong_ld_nhi", "huan_chuong_ld_ba"})
      CHECK(
          path_of(w, "standard", award, unit, eligible_collective()) ==
          concat({kCommunePath,
                  kProvincePath,
                  {"central_intake", "central_appraisal", "pm_decision", "president_decision", "approved"}}));
  }
  SECTION("a provincial department enters at Công an tỉnh") {
    CHECK(path_of(w, "standard", "bang_khen_tinh", "sgddt-thai-nguyen.clerk", eligible_collective()) ==
          concat({{"draft"}, kProvincePath, {"approved"}}));
  }
  SECTION("a commune proposed by its UBND xã for Cờ thi đua enters at Công an tỉnh") {
    CHECK(path_of(w, "standard", "co_thi_dua_tinh", "ubnd-xa-phuong-tien.clerk",
                  eligible_collective("Xã Phượng Tiến")) == concat({{"draft"}, kProvincePath, {"approved"}}));
  }
  SECTION("a department head decides Giấy khen of the department") {
    CHECK(path_of(w, "standard", "giay_khen_so", "sgddt-thai-nguyen.clerk", eligible_collective()) ==
          std::vector<std::string>{"draft", "approved"});
  }
  SECTION("the simplified procedure has no appraisal and no council") {
    CHECK(path_of(w, "simplified", "giay_khen_xa_dot_xuat", unit, simplified_input()) ==
          std::vector<std::string>{"draft", "commune_review", "commune_decision", "approved"});
    CHECK(path_of(w, "simplified", "bang_khen_tinh_dot_xuat", unit, simplified_input()) ==
          std::vector<std::string>{"draft", "commune_review", "commune_decision", "province_review",
                                   "province_decision", "approved"});
  }
  // Every walk above left a history that replays to the stored projection and verifies.
  auto audit = w.service->audit_verify();
  REQUIRE(audit.ok());
  CHECK(audit->ok);
  auto replay = w.service->replay_all();
  REQUIRE(replay.ok());
  CHECK(replay->ok);
  CHECK(replay->dossiers >= 1);
}

TEST_CASE("return for supplementation, resubmission, rejection and withdrawal", "[service]") {
  World w;
  const DossierId id = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());

  SECTION("a return needs a reason, goes back to the proposer, and the resubmission comes back") {
    auto no_reason = w.service->act(id, "return", "ca-xa-phuong-tien.clerk", {});
    REQUIRE_FALSE(no_reason.ok());
    CHECK(no_reason.error().reason == "note_required");
    RawInput why;
    why.note = "Thiếu biên bản họp xét khen thưởng có chữ ký";
    auto ret = w.service->act(id, "return", "ca-xa-phuong-tien.clerk", why);
    REQUIRE(ret.ok());
    CHECK(ret->state == "origin_supplement");
    auto view = w.service->show(id, std::nullopt);
    CHECK(view->record.holder == "xom-khuan-lan");
    RawInput fix;
    fix.fields = {{"achievement_summary", "Bổ sung biên bản"}};
    fix.documents = {{"bien_ban_hop", "bien-ban-moi.pdf", std::string(64, 'd'), 2048}};
    auto again = w.service->act(id, "resubmit", "xom-khuan-lan.clerk", fix);
    REQUIRE(again.ok());
    CHECK(again->state == "commune_intake");
    auto events = w.service->history(id, std::nullopt);
    REQUIRE(events->size() == 4);
    CHECK((*events)[2].type == "DossierReturned");
    CHECK((*events)[2].note == why.note);
    CHECK((*events)[3].type == "DossierResubmitted");
  }
  SECTION("a rejection closes the dossier and nothing more can be done") {
    RawInput why;
    why.note = "Không đủ điều kiện theo tiêu chuẩn";
    auto r = w.service->act(id, "reject", "ca-xa-phuong-tien.clerk", why);
    REQUIRE(r.ok());
    CHECK(r->state == "rejected");
    auto after = w.service->act(id, "accept", "ca-xa-phuong-tien.clerk", {});
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().code == ErrorCode::kRefused);
    CHECK(after.error().reason == "dossier_closed");
  }
  SECTION("the proposer may withdraw; nobody else may") {
    RawInput why;
    why.note = "Đơn vị rút để hoàn thiện";
    auto other = w.service->act(id, "withdraw", "ca-xa-phuong-tien.clerk", why);
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().code == ErrorCode::kNotPermitted);
    auto r = w.service->act(id, "withdraw", "xom-khuan-lan.clerk", why);
    REQUIRE(r.ok());
    CHECK(r->state == "withdrawn");
  }
}

TEST_CASE("permissions: role, org and read jurisdiction", "[service][security]") {
  World w;
  const DossierId id = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  SECTION("a clerk of another commune cannot act") {
    auto r = w.service->act(id, "submit", "tdp-so-10-phan-dinh-phung.clerk", {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kNotPermitted);
  }
  SECTION("the right org but the wrong role cannot act") {
    REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
    REQUIRE(w.service->act(id, "accept", "ca-xa-phuong-tien.clerk", {}).ok());
    auto r = w.service->act(id, "appraise", "ubnd-xa-phuong-tien.signer", {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kNotPermitted);
  }
  SECTION("a dossier that could never reach a decision is not created") {
    // A commune unit cannot propose a department's Giấy khen; a department cannot propose a commune's.
    for (auto [award, user] : {std::pair{"giay_khen_so", "xom-khuan-lan.clerk"},
                               std::pair{"giay_khen_xa", "sgddt-thai-nguyen.clerk"}}) {
      auto r = w.service->create("standard", award, user, eligible_collective());
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == ErrorCode::kRefused);
      CHECK(r.error().reason == "no_route");
    }
    // A commune's UBND xã enters at the province, but only a department's head decides a department's
    // Giấy khen.
    auto self =
        w.service->create("standard", "giay_khen_so", "ubnd-xa-phuong-tien.clerk", eligible_collective());
    REQUIRE_FALSE(self.ok());
    CHECK(self.error().reason == "no_route");
    auto r = w.service->create("simplified", "giay_khen_xa_dot_xuat", "sgddt-thai-nguyen.clerk",
                               simplified_input());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == "no_route");
    CHECK(w.store.data().events.size() == 1);  // only the case's own dossier
  }
  SECTION("a clerk cannot reject at the signer's decision step") {
    REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
    REQUIRE(w.service->act(id, "accept", "ca-xa-phuong-tien.clerk", {}).ok());
    REQUIRE(w.service->act(id, "appraise", "vhxh-xa-phuong-tien.appraiser", {}).ok());
    RawInput why;
    why.note = "Không đủ điều kiện";
    auto r = w.service->act(id, "reject", "ubnd-xa-phuong-tien.clerk", why);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kNotPermitted);
    CHECK(w.service->act(id, "reject", "ubnd-xa-phuong-tien.signer", why).ok());
  }
  SECTION("the proposer cannot pre-fill the decision number") {
    RawInput in;
    in.fields = {{"decision_number", "99/QĐ"}};
    auto r = w.service->act(id, "submit", "xom-khuan-lan.clerk", in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == "field_not_accepted");
  }
  SECTION("reading is limited to the user's jurisdiction") {
    CHECK(w.service->show(id, std::string("ca-xa-phuong-tien.clerk")).ok());
    CHECK(w.service->show(id, std::string("ubnd-tinh-thai-nguyen.auditor")).ok());
    CHECK(w.service->show(id, std::string("bo-noi-vu.auditor")).ok());
    auto other_province = w.service->show(id, std::string("ubnd-tinh-lao-cai.auditor"));
    REQUIRE_FALSE(other_province.ok());
    CHECK(other_province.error().code == ErrorCode::kNotPermitted);
    auto other_unit = w.service->history(id, std::string("thcs-phuong-tien.clerk"));
    REQUIRE_FALSE(other_unit.ok());
    CHECK(other_unit.error().code == ErrorCode::kNotPermitted);
  }
  SECTION("an auditor cannot act") {
    auto r = w.service->act(id, "submit", "ubnd-tinh-thai-nguyen.auditor", {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kNotPermitted);
  }
}

TEST_CASE("council vote: threshold, quorum, one vote per member", "[service][vote]") {
  World w;
  const DossierId id = create(w, "standard", "bang_khen_tinh", "xom-khuan-lan.clerk", eligible_collective());
  auto step = [&](const std::string& action, const std::string& user, RawInput in = {}) {
    w.tick();
    auto r = w.service->act(id, action, user, in);
    INFO(action << " by " << user << ": " << (r ? "" : r.error().message));
    REQUIRE(r.ok());
    return r->state;
  };
  step("submit", "xom-khuan-lan.clerk");
  step("accept", "ca-xa-phuong-tien.clerk");
  step("appraise", "vhxh-xa-phuong-tien.appraiser");
  step("forward", "ubnd-xa-phuong-tien.signer");
  step("accept", "ca-tinh-thai-nguyen.clerk");
  step("forward", "ca-tinh-thai-nguyen.appraiser");
  REQUIRE(step("appraise", "snv-thai-nguyen.appraiser") == "council_vote");
  auto ballot = [](const char* b) {
    RawInput in;
    in.ballot = b;
    return in;
  };
  const std::string m = "snv-thai-nguyen.council";
  SECTION("4 of 5 yes reaches 80% of members and passes") {
    CHECK(step("vote", m + "1", ballot("yes")) == "council_vote");
    CHECK(step("vote", m + "2", ballot("no")) == "council_vote");
    CHECK(step("vote", m + "3", ballot("yes")) == "council_vote");
    CHECK(step("vote", m + "4", ballot("yes")) == "council_vote");
    CHECK(step("vote", m + "5", ballot("yes")) == "province_decision");
    auto events = w.service->history(id, std::nullopt);
    CHECK(events->back().type == "VoteCast");
    CHECK(events->back().to_state == "province_decision");
  }
  SECTION("two no votes make 80% unreachable and the vote fails at once") {
    CHECK(step("vote", m + "1", ballot("no")) == "council_vote");
    CHECK(step("vote", m + "2", ballot("no")) == "rejected");
    auto v = w.service->show(id, std::nullopt);
    CHECK(v->record.closed);
    // The deciding ballot carries the vote's fail effects: the proposer is told.
    const EventRecord& last = w.store.data().events.back();
    CHECK(last.seq == v->record.version);
    const auto notices = listed_notices(last.payload).value();
    REQUIRE_FALSE(notices.empty());
    CHECK(notices.back().to == "xom-khuan-lan");
    CHECK(notices.back().template_key == "dossier_rejected");
  }
  SECTION("a member votes once; a non-member cannot vote; a ballot is required") {
    step("vote", m + "1", ballot("yes"));
    auto twice = w.service->act(id, "vote", m + "1", ballot("yes"));
    REQUIRE_FALSE(twice.ok());
    CHECK(twice.error().reason == "already_voted");
    auto outsider = w.service->act(id, "vote", "snv-thai-nguyen.appraiser", ballot("yes"));
    REQUIRE_FALSE(outsider.ok());
    CHECK(outsider.error().code == ErrorCode::kNotPermitted);
    auto blank = w.service->act(id, "vote", m + "2", {});
    REQUIRE_FALSE(blank.ok());
    CHECK(blank.error().code == ErrorCode::kInvalidInput);
  }
  SECTION("a ballot takes no fields or documents; the proposer may withdraw during the vote") {
    RawInput in = ballot("yes");
    in.fields = {{"merits_count", "9"}};
    auto r = w.service->act(id, "vote", m + "1", in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidInput);
    RawInput why;
    why.note = "Đơn vị rút hồ sơ";
    CHECK(step("withdraw", "xom-khuan-lan.clerk", why) == "withdrawn");
  }
  SECTION("closing early is refused without quorum, and decides on the votes cast with it") {
    step("vote", m + "1", ballot("yes"));
    step("vote", m + "2", ballot("yes"));
    auto early = w.service->act(id, "close_vote", "snv-thai-nguyen.clerk", {});
    REQUIRE_FALSE(early.ok());
    CHECK(early.error().reason == "quorum_not_met");
    step("vote", m + "3", ballot("yes"));
    auto with_ballot = w.service->act(id, "close_vote", "snv-thai-nguyen.clerk", ballot("yes"));
    REQUIRE_FALSE(with_ballot.ok());
    CHECK(with_ballot.error().code == ErrorCode::kInvalidInput);
    // 3 yes of 5 members = 60% < 80%: closing now fails the vote.
    CHECK(step("close_vote", "snv-thai-nguyen.clerk") == "rejected");
  }
}

TEST_CASE("Phượng Tiến eligibility: every clause refuses with its name", "[service][guards]") {
  World w;
  for (const auto& c : kEligibilityCases) {
    DYNAMIC_SECTION(c.award << ": " << c.field << "=" << c.value << " fails " << c.clause) {
      RawInput in = eligible_collective();
      for (auto& [k, v] : in.fields)
        if (k == c.field) v = c.value;
      const DossierId id = create(w, "standard", c.award, "xom-khuan-lan.clerk", in);
      auto r = w.service->act(id, "submit", "xom-khuan-lan.clerk", {});
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == ErrorCode::kRefused);
      CHECK(r.error().reason == "guard_failed");
      CHECK(r.error().subject == c.clause);
      CHECK_THAT(r.error().message, Catch::Contains("Không đạt tiêu chí '" + c.clause + "'"));
      // Nothing was written: the dossier is still a draft at version 1.
      CHECK(w.service->show(id, std::nullopt)->record.version == 1);
    }
  }
  SECTION("an enterprise needs an adequate security force") {
    RawInput in = eligible_collective("Công ty TNHH Cơ khí Gia Sàng");
    for (auto& [k, v] : in.fields)
      if (k == "recipient_org_type") v = "enterprise";
    const DossierId id = create(w, "standard", "bang_khen_tinh", "xom-khuan-lan.clerk", in);
    auto r = w.service->act(id, "submit", "xom-khuan-lan.clerk", {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().subject == "enterprise_security_force");
    RawInput fix;
    fix.fields = {{"security_force_adequate", "true"}};
    CHECK(w.service->act(id, "submit", "xom-khuan-lan.clerk", fix).ok());
  }
  SECTION("an individual who heads a unit needs an effective movement in the unit") {
    RawInput in = eligible_collective("Ông Hoàng Văn Lâm");
    for (auto& [k, v] : in.fields)
      if (k == "recipient_kind") v = "individual";
    in.fields.push_back({"heads_unit", "true"});
    in.fields.push_back({"unit_movement_effective", "false"});
    const DossierId id = create(w, "standard", "bang_khen_tinh", "xom-khuan-lan.clerk", in);
    auto r = w.service->act(id, "submit", "xom-khuan-lan.clerk", {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().subject == "unit_head_movement");
  }
  SECTION("a missing field needed by a clause is named") {
    RawInput in = eligible_collective();
    std::erase_if(in.fields, [](const auto& kv) { return kv.first == "leads_cluster"; });
    const DossierId id = create(w, "standard", "co_thi_dua_tinh", "xom-khuan-lan.clerk", in);
    auto r = w.service->act(id, "submit", "xom-khuan-lan.clerk", {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().subject == "leads_cluster");
    CHECK_THAT(r.error().message, Catch::Contains("chưa có thông tin"));
  }
}

TEST_CASE("the latest closed certification cycle moves on 16/11", "[service][guards]") {
  World w;
  // 2026-11-16 09:00 Vietnam: the cycle ending 15/11/2026 has closed, so 2025's certificate is stale.
  w.clock.set(Timestamp{1794794400000});
  const DossierId id = create(w, "standard", "bang_khen_tinh", "xom-khuan-lan.clerk", eligible_collective());
  auto r = w.service->act(id, "submit", "xom-khuan-lan.clerk", {});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().subject == "security_certified");
  RawInput fix;
  fix.fields = {{"security_cert_cycle_end", "2026-11-15"}};
  CHECK(w.service->act(id, "submit", "xom-khuan-lan.clerk", fix).ok());
}

TEST_CASE("documents, fields and input checks", "[service]") {
  World w;
  SECTION("a required document missing is named") {
    RawInput in = eligible_collective();
    std::erase_if(in.documents, [](const RawDocument& d) { return d.kind == "bao_cao_thanh_tich"; });
    const DossierId id = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", in);
    auto r = w.service->act(id, "submit", "xom-khuan-lan.clerk", {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == "document_missing");
    CHECK(r.error().subject == "bao_cao_thanh_tich");
  }
  SECTION("unknown award, unknown field, wrong type, oversize note, non-UTF-8 note") {
    auto bad_award =
        w.service->create("standard", "huy_chuong_vang", "xom-khuan-lan.clerk", eligible_collective());
    REQUIRE_FALSE(bad_award.ok());
    CHECK(bad_award.error().code == ErrorCode::kInvalidInput);
    RawInput in = eligible_collective();
    in.fields.push_back({"favourite_colour", "blue"});
    auto bad_field = w.service->create("standard", "giay_khen_xa", "xom-khuan-lan.clerk", in);
    REQUIRE_FALSE(bad_field.ok());
    CHECK(bad_field.error().subject == "favourite_colour");
    in = eligible_collective();
    in.fields.push_back({"achievement_year", "năm ngoái"});
    auto bad_type = w.service->create("standard", "giay_khen_xa", "xom-khuan-lan.clerk", in);
    REQUIRE_FALSE(bad_type.ok());
    CHECK(bad_type.error().subject == "achievement_year");
    in = eligible_collective();
    in.note = std::string(kMaxNoteBytes + 1, 'x');
    auto big = w.service->create("standard", "giay_khen_xa", "xom-khuan-lan.clerk", in);
    REQUIRE_FALSE(big.ok());
    CHECK(big.error().code == ErrorCode::kInvalidInput);
    in.note = "\xff\xfe";
    auto binary = w.service->create("standard", "giay_khen_xa", "xom-khuan-lan.clerk", in);
    REQUIRE_FALSE(binary.ok());
    CHECK(binary.error().code == ErrorCode::kInvalidInput);
    CHECK(w.store.data().events.empty());
  }
  SECTION("a decision needs its number and date") {
    const DossierId id =
        create(w, "standard", "giay_khen_so", "sgddt-thai-nguyen.clerk", eligible_collective());
    auto r = w.service->act(id, "decide", "sgddt-thai-nguyen.signer", {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == "field_missing");
    RawInput in;
    in.fields = {{"decision_number", "45/QĐ-SGDĐT"}, {"decision_date", "2026-03-02"}};
    auto ok = w.service->act(id, "decide", "sgddt-thai-nguyen.signer", in);
    REQUIRE(ok.ok());
    CHECK(ok->state == "approved");
  }
  SECTION("a field the action does not accept is refused") {
    const DossierId id = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
    REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
    RawInput in;
    in.fields = {{"merits_count", "9"}};
    auto r = w.service->act(id, "accept", "ca-xa-phuong-tien.clerk", in);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == "field_not_accepted");
  }
}

TEST_CASE("versions, time and the hash chain", "[service][history]") {
  World w;
  const DossierId id = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  SECTION("a stale expected version is refused and nothing is written") {
    RawInput in;
    in.expected_version = 1;
    REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", in).ok());
    in.expected_version = 1;
    auto stale = w.service->act(id, "accept", "ca-xa-phuong-tien.clerk", in);
    REQUIRE_FALSE(stale.ok());
    CHECK(stale.error().code == ErrorCode::kVersionConflict);
    CHECK(w.store.data().events.size() == 2);
  }
  SECTION("an event may not be stamped earlier than the previous one") {
    w.clock.advance_ms(-3'600'000);
    auto r = w.service->act(id, "submit", "xom-khuan-lan.clerk", {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == "clock_behind");
  }
  SECTION("events carry the clock's time, the actor, and a chain of hashes") {
    w.tick();
    REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
    const auto& ev = w.store.data().events;
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].prev_hash.empty());
    CHECK(ev[1].prev_hash == ev[0].hash);
    CHECK(ev[1].at == format_utc(w.clock.now()));
    CHECK(ev[1].actor_user == "xom-khuan-lan.clerk");
    CHECK(ev[1].actor_role == "clerk");
    CHECK(ev[1].actor_org == "xom-khuan-lan");
    CHECK(listed_notices(ev[0].payload).value().empty());
    const auto told = listed_notices(ev[1].payload).value();
    REQUIRE(told.size() == 1);
    CHECK(told[0].to == "ca-xa-phuong-tien");
  }
  SECTION("an edited event is caught by the audit and by replay") {
    REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
    w.store.data().events[1].note = "sửa lén";
    auto audit = w.service->audit_verify();
    REQUIRE(audit.ok());
    CHECK_FALSE(audit->ok);
    CHECK(audit->failed_dossier == id);
    CHECK(audit->failed_seq == 2);
    auto replay = w.service->replay(id);
    REQUIRE(replay.ok());
    CHECK_FALSE(replay->ok);
  }
  SECTION("a projection edited behind the log's back is caught by replay") {
    REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
    w.store.data().dossiers[id].state = "approved";
    auto replay = w.service->replay(id);
    REQUIRE(replay.ok());
    CHECK_FALSE(replay->ok);
    CHECK_THAT(replay->failure, Catch::Contains("state"));
  }
}

TEST_CASE("inbox lists what waits for the user's org and roles", "[service]") {
  World w;
  const DossierId a = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  const DossierId b =
      create(w, "standard", "giay_khen_xa", "thcs-phuong-tien.clerk", eligible_collective("Trường THCS"));
  REQUIRE(w.service->act(a, "submit", "xom-khuan-lan.clerk", {}).ok());
  auto inbox = w.service->inbox("ca-xa-phuong-tien.clerk");
  REQUIRE(inbox.ok());
  REQUIRE(inbox->size() == 1);
  CHECK((*inbox)[0].record.id == a);
  CHECK(w.service->inbox("vhxh-xa-phuong-tien.appraiser")->empty());
  auto drafts = w.service->inbox("thcs-phuong-tien.clerk");
  REQUIRE(drafts->size() == 1);
  CHECK((*drafts)[0].record.id == b);
}

TEST_CASE("a forged projection is refused before the core sees it", "[service][history]") {
  World w;
  const DossierId id = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
  w.store.data().dossiers[id].fields = R"({"recipient_name":"Người khác","recipient_kind":"individual"})";
  auto shown = w.service->show(id, std::nullopt);
  REQUIRE_FALSE(shown.ok());
  CHECK(shown.error().code == ErrorCode::kVerifyFailed);
  auto acted = w.service->act(id, "accept", "ca-xa-phuong-tien.clerk", {});
  REQUIRE_FALSE(acted.ok());
  CHECK(acted.error().code == ErrorCode::kVerifyFailed);
  CHECK(w.store.data().events.size() == 2);
}

TEST_CASE("a service trusts only the projection it wrote itself, anything else is checked again",
          "[service][history]") {
  World w;
  // A second service over the same store stands for another process.
  CommandService other(w.store, w.clock, *w.registry, w.directory);
  other.set_calendar(yaml::calendar_from_store(w.store).value());
  const DossierId id = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
  w.tick();
  REQUIRE(other.act(id, "accept", "ca-xa-phuong-tien.clerk", {}).ok());
  w.tick();
  // The first service's memory is stale (version 2); it reads and checks version 3 and goes on.
  REQUIRE(w.service->act(id, "appraise", "vhxh-xa-phuong-tien.appraiser", {}).ok());
  CHECK(w.store.data().dossiers[id].version == 4);
  // A projection edited after this service wrote it, version unchanged, is caught.
  w.store.data().dossiers[id].holder = "ubnd-tinh-thai-nguyen";
  auto acted = w.service->act(id, "forward", "ubnd-xa-phuong-tien.signer", {});
  REQUIRE_FALSE(acted.ok());
  CHECK(acted.error().code == ErrorCode::kVerifyFailed);
  CHECK(w.store.data().events.size() == 4);
}

TEST_CASE("the state a service remembers after each command is the one its stored projection decodes to",
          "[service][history]") {
  // The next command on a dossier starts from the remembered state instead of decoding the projection again,
  // so the two must be equal after every kind of command: creations, each level's steps, votes, decisions,
  // returns with edited fields and documents, timers fired late, a paused and resumed legal clock. And the
  // stored projection is the remembered state's encoded afresh: a command that changes no field or document
  // takes their encoding from the projection before it, one that does (resubmit) writes it anew.
  World w;
  std::vector<DossierId> seen;
  auto matches = [&](DossierId id) {
    auto rec = w.store.load(id);
    REQUIRE(rec.ok());
    REQUIRE(rec->has_value());
    auto def = w.registry->by_hash((*rec)->definition_hash);
    REQUIRE(def.ok());
    auto decoded = decode_dossier(**def, w.directory, **rec);
    REQUIRE(decoded.ok());
    auto remembered = w.service->remembered_state(id);
    REQUIRE(remembered.has_value());
    INFO("dossier " << id << " at version " << (*rec)->version << " in state " << (*rec)->state);
    CHECK(*remembered == *decoded);
    CHECK(encode_dossier(**def, w.directory, *remembered, (*rec)->last_hash) == **rec);
  };
  for (const char* award : {"giay_khen_xa", "bang_khen_tinh", "bang_khen_ttg", "huan_chuong_ld_nhat"}) {
    const DossierId id = create(w, "standard", award, "xom-khuan-lan.clerk", eligible_collective());
    matches(id);
    walk_forward(w, id, 60, "", [&] { matches(id); });
  }
  const DossierId quick = create(w, "simplified", "bang_khen_tinh_dot_xuat", "xom-khuan-lan.clerk", simplified_input());
  walk_forward(w, quick, 60, "", [&] { matches(quick); });

  const DossierId id = create(w, "standard", "bang_khen_tinh", "xom-khuan-lan.clerk", eligible_collective());
  REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
  matches(id);
  RawInput why;
  why.note = "Thiếu biên bản họp";
  w.tick();
  REQUIRE(w.service->act(id, "return", "ca-xa-phuong-tien.clerk", why).ok());
  matches(id);
  // Forty days later: the resubmission fires what came due meanwhile in the same command.
  w.clock.advance_ms(40LL * 24 * 3600 * 1000);
  RawInput fix;
  fix.fields = {{"achievement_summary", "Bổ sung biên bản"}};
  fix.documents = {{"bien_ban_hop", "bien-ban-moi.pdf", std::string(64, 'd'), 2048}};
  REQUIRE(w.service->act(id, "resubmit", "xom-khuan-lan.clerk", fix).ok());
  matches(id);
  // Each later step ten days after the last: every deadline running meanwhile fires in the next command.
  walk_forward(w, id, 60, "", [&] {
    matches(id);
    w.clock.advance_ms(10LL * 24 * 3600 * 1000);
  });
  auto events = w.service->history(id, std::nullopt);
  REQUIRE(events.ok());
  CHECK(std::any_of(events->begin(), events->end(), [](const EventRecord& e) { return e.type == "TimerFired"; }));
}

TEST_CASE("replay of a log whose first event is not DossierCreated fails cleanly", "[service][history]") {
  World w;
  const DossierId id = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  auto& first = w.store.data().events[0];
  first.type = "DossierSubmitted";
  forge_head(w, id, first);
  auto r = w.service->replay(id);
  REQUIRE(r.ok());
  CHECK_FALSE(r->ok);
  CHECK_THAT(r->failure, Catch::Contains("not DossierCreated"));
}

TEST_CASE("eligibility is judged as of the first submission, not of each later step", "[service][guards]") {
  World w;
  // Submitted on 14/11/2026 with the certificate of the cycle that ended 15/11/2025 (then the latest closed).
  w.clock.set(Timestamp{1794621600000});
  const DossierId id = create(w, "standard", "bang_khen_tinh", "xom-khuan-lan.clerk", eligible_collective());
  REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
  CHECK(w.service->show(id, std::nullopt)->record.submitted_at == "2026-11-14T02:00:00.000Z");
  w.tick();
  REQUIRE(w.service->act(id, "accept", "ca-xa-phuong-tien.clerk", {}).ok());
  REQUIRE(w.service->act(id, "appraise", "vhxh-xa-phuong-tien.appraiser", {}).ok());
  // On 20/11 the 2026 cycle has closed, but the forward re-checks eligibility as of 14/11: it passes.
  w.clock.set(Timestamp{1795140000000});
  auto r = w.service->act(id, "forward", "ubnd-xa-phuong-tien.signer", {});
  INFO((r ? "" : r.error().message));
  CHECK(r.ok());
  // A dossier first submitted on 20/11 with the same certificate is refused.
  const DossierId late =
      create(w, "standard", "bang_khen_tinh", "xom-khuan-lan.clerk", eligible_collective());
  auto s = w.service->act(late, "submit", "xom-khuan-lan.clerk", {});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().subject == "security_certified");
}

TEST_CASE("audit verify reports the failure earliest in the log, whichever chunk meets it", "[service][history]") {
  World w;  // the log is read in chunks of two events
  // Two dossiers whose events interleave in the log: a1 b1 a2 b2 a3 b3.
  const DossierId a = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  w.tick();
  const DossierId b = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective("Xóm Khác"));
  for (const char* step : {"submit", "accept"})
    for (DossierId id : {a, b}) {
      w.tick();
      REQUIRE(w.service->act(id, step, step == std::string("submit") ? "xom-khuan-lan.clerk" : "ca-xa-phuong-tien.clerk",
                             {})
                  .ok());
    }
  REQUIRE(w.service->audit_verify()->ok);
  auto& events = w.store.data().events;
  REQUIRE(events.size() == 6);
  auto audit_fails_at = [&](DossierId id, std::int64_t seq) {
    auto audit = w.service->audit_verify();
    REQUIRE(audit.ok());
    CHECK_FALSE(audit->ok);
    CHECK(audit->failed_dossier == id);
    CHECK(audit->failed_seq == seq);
    return audit->failure;
  };
  SECTION("two edited events in different chunks: the earlier one is named, in either order") {
    events[5].note = "sửa";  // b3
    events[2].note = "sửa";  // a2
    audit_fails_at(a, 2);
    events[2].note.clear();
    events[3].note = "sửa";  // b2
    audit_fails_at(b, 2);
  }
  SECTION("a time written backwards, with its hash recomputed, is named before a later edit in a later chunk") {
    // a3 (the last of its chain, so no link breaks) stamped before b2, the event before it in the log.
    events[4].at = format_utc(Timestamp{kStart.millis - 60'000});
    events[4].hash = event_hash(events[4]);
    events[5].note = "sửa";  // b3, later in the log, in a later chunk
    CHECK(audit_fails_at(a, 3).find("ghi lùi") != std::string::npos);
    SECTION("but after an earlier edit of the other dossier") {
      events[3].note = "sửa";  // b2
      audit_fails_at(b, 2);
    }
  }
  // Events 2..6 (the submissions and acceptances) each tell someone; nothing has been delivered yet.
  auto first_notice = [&] {
    for (std::size_t i = 0; i < events.size(); ++i)
      if (!listed_notices(events[i].payload).value().empty()) return i;
    return events.size();
  };
  const std::size_t told = first_notice();
  REQUIRE(told < events.size());
  SECTION("a dispatch cursor moved past notices that never went out: the first of them is named") {
    w.store.data().cursor = NoticeKey{static_cast<std::int64_t>(events.size()), 0};
    CHECK(audit_fails_at(events[told].dossier, events[told].seq).find("vị trí gửi") != std::string::npos);
  }
  SECTION("a dispatch cursor on an event that tells no one") {
    w.store.data().cursor = NoticeKey{1, 0};
    CHECK(audit_fails_at(0, 0).find("không phải một thông báo") != std::string::npos);
  }
}

TEST_CASE("deliveries: each notice once, the cursor past those settled in log order, the cursor and the history agree", "[service][notify]") {
  World w;
  const DossierId id = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  w.tick();
  REQUIRE(w.service->act(id, "submit", "xom-khuan-lan.clerk", {}).ok());
  w.tick();
  REQUIRE(w.service->act(id, "accept", "ca-xa-phuong-tien.clerk", {}).ok());
  std::vector<NotificationTemplate> templates;
  for (const char* key : {"dossier_received", "dossier_returned", "dossier_rejected", "dossier_decided"})
    templates.push_back(NotificationTemplate{key, "Hồ sơ {ho_so}", "{co_quan}: {buoc}", {}});
  auto pending = w.service->pending_notifications(10, templates);
  INFO((pending ? "" : pending.error().message));
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 2);
  CHECK((*pending)[0].to_org == "ca-xa-phuong-tien");
  CHECK((*pending)[1].to_org == "vhxh-xa-phuong-tien");
  CHECK((*pending)[0].gseq < (*pending)[1].gseq);
  SECTION("delivered in order: the cursor follows, each delivery is an event, the audit passes") {
    for (const auto& n : *pending) REQUIRE(w.service->record_delivered(n, "file").ok());
    CHECK(w.service->pending_notifications(10, templates)->empty());
    CHECK(w.store.data().cursor == NoticeKey{(*pending)[1].gseq, (*pending)[1].n});
    CHECK(w.store.data().events.back().type == "NotificationDelivered");
    CHECK(w.service->audit_verify()->ok);
    CHECK(w.service->replay_all()->ok);
    // Delivering one again is refused: the cursor is past it.
    CHECK_FALSE(w.service->record_delivered((*pending)[0], "file").ok());
  }
  SECTION("the later one first: recorded, the cursor waits for the first, then passes both") {
    REQUIRE(w.service->record_delivered((*pending)[1], "file").ok());
    CHECK(w.store.data().cursor == NoticeKey{0, -1});
    CHECK(w.service->audit_verify()->ok);
    // Still pending: the first; the second too, until the cursor passes it (its history says it settled).
    auto still = w.service->pending_notifications(10, templates);
    REQUIRE(still.ok());
    REQUIRE(still->size() == 2);
    CHECK((*still)[1].progress.at("file").settled);
    REQUIRE(w.service->record_delivered((*pending)[0], "file").ok());
    CHECK(w.store.data().cursor == NoticeKey{(*pending)[0].gseq, (*pending)[0].n});
    const NoticeKey second{(*pending)[1].gseq, (*pending)[1].n};
    CHECK(w.service->advance_dispatch_cursor({second}).value() == second);
    CHECK(w.service->pending_notifications(10, templates)->empty());
    CHECK(w.service->audit_verify()->ok);
  }
  SECTION("a delivery recorded twice in the history is named by the audit") {
    REQUIRE(w.service->record_delivered((*pending)[0], "file").ok());
    auto& events = w.store.data().events;
    EventRecord again = events.back();
    again.seq += 1;
    again.prev_hash = events.back().hash;
    again.hash = event_hash(again);
    events.push_back(again);
    auto& p = w.store.data().dossiers[id];
    p.version = again.seq;
    p.last_hash = again.hash;
    auto audit = w.service->audit_verify();
    REQUIRE(audit.ok());
    CHECK_FALSE(audit->ok);
    CHECK(audit->failed_seq == again.seq);
    CHECK_THAT(audit->failure, Catch::Contains("hai lần"));
  }
}

TEST_CASE("listed notices and timers: the shape encode_event writes and any other JSON read alike", "[codec]") {
  auto notices = [](const std::string& payload) { return listed_notices(payload); };
  using N = std::vector<Event::Notice>;
  CHECK(notices(R"({"notices":[{"to":"a-b","template":"t1"},{"to":"c","template":"t2"}],"state":"x"})").value() ==
        N{{"a-b", "t1"}, {"c", "t2"}});
  CHECK(notices(R"({"notices":[],"state":"x"})").value().empty());
  CHECK(notices(R"({"state":"x"})").value().empty());
  // Other shapes go through the JSON parser: spaces, escapes, other key orders, non-ASCII.
  CHECK(notices(R"({"notices":[ {"template":"t1", "to":"a\u002db"} ]})").value() == N{{"a-b", "t1"}});
  CHECK(notices(R"({"notices":[{"to":"x\"y","template":"Đ"}]})").value() == N{{"x\"y", "Đ"}});
  CHECK_FALSE(notices(R"({"notices":[{"to":"a","template":"t1"})").ok());  // cut short
  CHECK_FALSE(notices(R"({"notices":[{"to":"a"}]})").ok());
  CHECK_FALSE(notices(R"({"notices":[{"to":"a","template":1}]})").ok());

  auto timers = [](const std::string& json) { return listed_timer_rows(7, json); };
  using T = std::vector<TimerRecord>;
  CHECK(timers(R"({"timers":[{"name":"remind","due":"2026-03-04T01:02:03.004Z"}],"clocks":[]})").value() ==
        T{{"2026-03-04T01:02:03.004Z", 7, "remind"}});
  // A due time without milliseconds is read by the parser and written back in the stored format.
  CHECK(timers(R"({"timers":[{"name":"remind","due":"2026-03-04T01:02:03Z"}]})").value() ==
        T{{"2026-03-04T01:02:03.000Z", 7, "remind"}});
  CHECK_FALSE(timers(R"({"timers":[{"name":"remind","due":"soon"}]})").ok());
  CHECK_FALSE(timers(R"({"timers":[{"name":"remind","due":"2026-03-04T01:02:03.004Z"})").ok());
}

// ---------------------------------------------------------------------------------------------
// Delegation: the Phó Chủ tịch UBND xã Phượng Tiến (ubnd-xa-phuong-tien.appraiser) may act for the
// Chủ tịch (ubnd-xa-phuong-tien.signer) from 01/03/2026 to 30/04/2026 (config/users.yaml).

namespace {

const std::string kChair = "ubnd-xa-phuong-tien.signer";
const std::string kDeputy = "ubnd-xa-phuong-tien.appraiser";

// A Giấy khen xã waiting for the Chủ tịch's decision.
DossierId at_commune_decision(World& w) {
  const DossierId id = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  for (auto [action, user] :
       {std::pair{"submit", "xom-khuan-lan.clerk"}, std::pair{"accept", "ca-xa-phuong-tien.clerk"},
        std::pair{"appraise", "vhxh-xa-phuong-tien.appraiser"}}) {
    w.tick();
    auto r = w.service->act(id, action, user, {});
    INFO(action << ": " << (r ? "" : r.error().message));
    REQUIRE(r.ok());
  }
  return id;
}

// The dossier replays as stored and the whole log replays and passes audit verify.
void verifies(World& w, DossierId id) {
  auto replay = w.service->replay(id);
  REQUIRE(replay.ok());
  CHECK(replay->ok);
  auto all = w.service->replay_all();
  REQUIRE(all.ok());
  CHECK(all->ok);
  auto audit = w.service->audit_verify();
  REQUIRE(audit.ok());
  CHECK(audit->ok);
}

RawInput decision(const std::string& on_behalf_of) {
  RawInput in;
  in.fields = {{"decision_number", "15/QĐ-UBND"}, {"decision_date", "2026-03-01"}};
  in.on_behalf_of = on_behalf_of;
  return in;
}

}  // namespace

TEST_CASE("delegation: the deputy decides for the Chủ tịch, recorded as such, and the log still verifies",
          "[service][delegation]") {
  World w;
  const DossierId id = at_commune_decision(w);
  w.tick();
  auto r = w.service->act(id, "decide", kDeputy, decision(kChair));
  INFO((r ? "" : r.error().message));
  REQUIRE(r.ok());
  CHECK(r->state == "approved");
  const EventRecord& e = r->events.back();
  CHECK(e.type == "DossierDecided");
  CHECK(e.actor_user == kDeputy);   // the person who clicked
  CHECK(e.actor_role == "signer");  // the role used: the Chủ tịch's
  CHECK(e.actor_org == "ubnd-xa-phuong-tien");
  CHECK_THAT(e.payload, Catch::StartsWith(R"({"on_behalf_of":"ubnd-xa-phuong-tien.signer",)"));
  // Events nobody delegated carry no such key, so their payloads and hashes are as before.
  auto history = w.service->history(id, std::nullopt);
  REQUIRE(history.ok());
  REQUIRE(history->size() == 5);
  for (std::size_t i = 0; i + 1 < history->size(); ++i)
    CHECK((*history)[i].payload.find("on_behalf_of") == std::string::npos);
  // Decoded, the event names both; the whole log still replays and verifies.
  auto view = w.service->show(id, std::nullopt);
  REQUIRE(view.ok());
  auto decoded = decode_event(*view->definition, w.directory, history->back());
  REQUIRE(decoded.ok());
  CHECK(decoded->actor.user == *w.directory.find_user(kDeputy));
  CHECK(decoded->on_behalf_of == *w.directory.find_user(kChair));
  CHECK(view->record.created_by == "xom-khuan-lan.clerk");
  verifies(w, id);
  // The history names the delegator too, so config may not drop them.
  auto keys = referenced_directory_keys(w.store);
  REQUIRE(keys.ok());
  CHECK(keys->users.count(kChair) == 1);
  CHECK(keys->users.count(kDeputy) == 1);
}

TEST_CASE("delegation: refusals name why, and nothing is written", "[service][delegation]") {
  World w;
  const DossierId id = at_commune_decision(w);
  const std::size_t before = w.store.data().events.size();
  auto refused = [&](Result<Outcome> r, ErrorCode code, const std::string& reason) {
    INFO((r ? "accepted" : r.error().message));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == code);
    CHECK(r.error().reason == reason);
    CHECK(w.store.data().events.size() == before);
    return r.ok() ? std::string() : r.error().message;
  };
  w.tick();
  SECTION("without on_behalf_of the deputy has only her own role") {
    refused(w.service->act(id, "decide", kDeputy, decision("")), ErrorCode::kNotPermitted, "not_permitted");
  }
  SECTION("a user who is not a delegate") {
    const auto msg = refused(w.service->act(id, "decide", "ubnd-xa-phuong-tien.clerk", decision(kChair)),
                             ErrorCode::kNotPermitted, "not_a_delegate");
    CHECK_THAT(msg, Catch::Contains("không được ủy quyền thay mặt Dương Công Việt"));
  }
  SECTION("after the period") {
    w.clock.set(Timestamp{kStart.millis + 70LL * 86'400'000});  // 11/05/2026
    const auto msg = refused(w.service->act(id, "decide", kDeputy, decision(kChair)),
                             ErrorCode::kNotPermitted, "delegation_expired");
    CHECK_THAT(msg, Catch::Contains("từ 01/03/2026 đến 30/04/2026"));
    CHECK_THAT(msg, Catch::Contains("đã hết thời hạn ủy quyền"));
  }
  SECTION("on one's own behalf") {
    refused(w.service->act(id, "decide", kChair, decision(kChair)), ErrorCode::kInvalidInput,
            "invalid_input");
  }
  SECTION(
      "on behalf of nobody the directory knows: a refused request naming the field, not a missing thing") {
    const auto msg = refused(w.service->act(id, "decide", kDeputy, decision("ubnd-xa-phuong-tien.nobody")),
                             ErrorCode::kInvalidInput, "unknown_user");
    CHECK_THAT(msg, Catch::Contains("on_behalf_of") && Catch::Contains("'ubnd-xa-phuong-tien.nobody'"));
    RawInput in = eligible_collective();
    in.on_behalf_of = "ubnd-xa-phuong-tien.nobody";
    refused(w.service->create("standard", "giay_khen_xa", kDeputy, in), ErrorCode::kInvalidInput,
            "unknown_user");
    auto inbox = w.service->inbox(kDeputy, "ubnd-xa-phuong-tien.nobody");
    REQUIRE_FALSE(inbox.ok());
    CHECK(inbox.error().code == ErrorCode::kInvalidInput);
    CHECK(inbox.error().subject == "on_behalf_of");
  }
  SECTION("creating for the Chủ tịch is checked against his roles, which may not create") {
    RawInput in = eligible_collective();
    in.on_behalf_of = kChair;
    auto r = w.service->create("standard", "giay_khen_xa", kDeputy, in);
    const auto msg = refused(std::move(r), ErrorCode::kNotPermitted, "not_permitted");
    CHECK_THAT(msg, Catch::Contains("thay mặt 'ubnd-xa-phuong-tien.signer'"));
  }
}

TEST_CASE("delegation: not before the period starts", "[service][delegation]") {
  World w;
  w.clock.set(Timestamp{kStart.millis - 10LL * 86'400'000});  // 20/02/2026, before any event
  const DossierId id = at_commune_decision(w);
  w.tick();
  auto r = w.service->act(id, "decide", kDeputy, decision(kChair));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kNotPermitted);
  CHECK(r.error().reason == "delegation_not_started");
  CHECK_THAT(r.error().message, Catch::Contains("chưa tới thời hạn ủy quyền"));
  // From its first day it holds (Vietnam date: 01/03 starts at 17:00 UTC on 28/02).
  w.clock.set(*parse_utc("2026-02-28T17:00:00.000Z"));
  auto ok = w.service->act(id, "decide", kDeputy, decision(kChair));
  INFO((ok ? "" : ok.error().message));
  CHECK(ok.ok());
}

TEST_CASE("a decision's signing date is never after the day it is recorded (Vietnam date), delegated or not",
          "[service][delegation]") {
  World w;
  const DossierId id = at_commune_decision(w);
  const std::int64_t version = w.store.data().dossiers[id].version;
  auto dated = [](const char* date, const std::string& on_behalf_of) {
    RawInput in;
    in.fields = {{"decision_number", "15/QĐ-UBND"}, {"decision_date", date}};
    in.on_behalf_of = on_behalf_of;
    return in;
  };
  // The clock: 2026-03-02 16:59 UTC, still 02/03 in Vietnam (UTC+7) until 17:00.
  w.clock.set(*parse_utc("2026-03-02T16:59:00.000Z"));
  for (const auto& [user, behalf] : {std::pair{kChair, std::string()}, std::pair{kDeputy, kChair}}) {
    INFO(user);
    auto r = w.service->act(id, "decide", user, dated("2026-03-03", behalf));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInvalidInput);
    CHECK(r.error().reason == "date_in_future");
    CHECK(r.error().subject == "decision_date");
    CHECK_THAT(r.error().message, Catch::Contains("03/03/2026") && Catch::Contains("02/03/2026"));
    CHECK(w.store.data().dossiers[id].version == version);  // nothing written
  }
  // At 17:00 UTC it is 03/03 in Vietnam: that date is today, and may be recorded (by the deputy, for the chair).
  w.clock.set(*parse_utc("2026-03-02T17:00:00.000Z"));
  auto ok = w.service->act(id, "decide", kDeputy, dated("2026-03-03", kChair));
  INFO((ok ? "" : ok.error().message));
  REQUIRE(ok.ok());
  verifies(w, id);
  SECTION("a decision date forged into the log, later than its event, is named by replay") {
    auto& events = w.store.data().events;
    EventRecord& forged = events.back();
    const auto at = forged.payload.find("\"decision_date\",\"2026-03-03\"");
    REQUIRE(at != std::string::npos);
    forged.payload.replace(at + 17, 10, "2026-12-31");
    forge_head(w, id, forged);
    // (Its hash recomputed, so only a replay, which folds every event through the workflow's rules, sees it.)
    auto replay = w.service->replay(id);
    REQUIRE(replay.ok());
    CHECK_FALSE(replay->ok);
    CHECK_THAT(replay->failure, Catch::Contains("decision_date"));
  }
}

TEST_CASE("delegation: the inbox of the delegator, for the delegate", "[service][delegation]") {
  World w;
  const DossierId id = at_commune_decision(w);
  auto own = w.service->inbox(kDeputy);
  REQUIRE(own.ok());
  CHECK(own->empty());
  auto theirs = w.service->inbox(kDeputy, kChair);
  REQUIRE(theirs.ok());
  REQUIRE(theirs->size() == 1);
  CHECK(theirs->front().record.id == id);
  auto stranger = w.service->inbox("ubnd-xa-phuong-tien.clerk", kChair);
  REQUIRE_FALSE(stranger.ok());
  CHECK(stranger.error().reason == "not_a_delegate");
}

TEST_CASE("delegation: a fold refuses a ballot cast on another's behalf", "[service][delegation][history]") {
  World w;
  const DossierId id = at_commune_decision(w);
  auto view = w.service->show(id, std::nullopt);
  REQUIRE(view.ok());
  DossierState s = view->state;
  Event e;
  e.type = EventType::kVoteCast;
  e.seq = s.version + 1;
  e.at = s.updated_at;
  e.actor = Actor{*w.directory.find_user(kDeputy), Role::kCouncilMember, s.holder};
  e.on_behalf_of = *w.directory.find_user(kChair);
  e.from = e.to = s.state;
  e.holder = s.holder;
  auto st = apply_event(*view->definition, s, e);
  REQUIRE_FALSE(st.ok());
  CHECK_THAT(st.error().message, Catch::Contains("ballot cast on another's behalf"));
}

TEST_CASE("delegation: the last day holds until midnight in Vietnam, 17:00 UTC", "[service][delegation]") {
  World w;
  const DossierId id = at_commune_decision(w);
  w.clock.set(*parse_utc("2026-04-30T17:00:00.000Z"));  // 01/05/2026 00:00 in Vietnam: over
  auto late = w.service->act(id, "decide", kDeputy, decision(kChair));
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().reason == "delegation_expired");
  auto late_inbox = w.service->inbox(kDeputy, kChair);
  REQUIRE_FALSE(late_inbox.ok());
  CHECK(late_inbox.error().reason == "delegation_expired");
  w.clock.set(*parse_utc("2026-04-30T16:59:59.000Z"));  // 30/04/2026 23:59:59: still the last day
  auto inbox = w.service->inbox(kDeputy, kChair);
  REQUIRE(inbox.ok());
  CHECK(inbox->size() == 1);
  auto last = w.service->act(id, "decide", kDeputy, decision(kChair));
  INFO((last ? "" : last.error().message));
  CHECK(last.ok());
}

TEST_CASE("delegation: neither a retired delegator nor a retired delegate acts or reads the inbox",
          "[service][delegation]") {
  auto retire = [](const std::string& key) {
    return [key](yaml::Project& p) { user_spec(p, key).active = false; };
  };
  auto refused_both = [](World& w, const std::string& why) {
    const DossierId id = at_commune_decision(w);
    const std::size_t before = w.store.data().events.size();
    w.tick();
    auto r = w.service->act(id, "decide", kDeputy, decision(kChair));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kNotPermitted);
    CHECK(r.error().reason == "not_permitted");
    CHECK_THAT(r.error().message, Catch::Contains(why));
    CHECK(w.store.data().events.size() == before);
    auto inbox = w.service->inbox(kDeputy, kChair);
    REQUIRE_FALSE(inbox.ok());
    CHECK(inbox.error().code == ErrorCode::kNotPermitted);
  };
  SECTION("the Chủ tịch retired: nobody acts for him") {
    World w(retire(kChair));
    refused_both(w, "không ai thay mặt được");
  }
  SECTION("the Phó Chủ tịch retired: she acts for nobody") {
    World w(retire(kDeputy));
    refused_both(w, "'" + kDeputy + "' đã ngừng hoạt động");
  }
}

TEST_CASE("delegation: a dossier created on the unit clerk's behalf is the unit's, and verifies",
          "[service][delegation]") {
  const std::string unit = "xom-khuan-lan.clerk", deputy = "ubnd-xa-phuong-tien.clerk";
  World w([&](yaml::Project& p) {
    user_spec(p, unit).delegates.push_back({deputy, "2026-03-01", "2026-03-31", "Nghỉ ốm"});
  });
  RawInput in = eligible_collective();
  in.on_behalf_of = unit;
  auto r = w.service->create("standard", "giay_khen_xa", deputy, in);
  INFO((r ? "" : r.error().message));
  REQUIRE(r.ok());
  REQUIRE(r->events.size() == 1);
  const EventRecord& e = r->events.front();
  CHECK(e.type == "DossierCreated");
  CHECK(e.actor_user == deputy);
  CHECK(e.actor_role == "clerk");
  CHECK(e.actor_org == "xom-khuan-lan");
  CHECK_THAT(e.payload, Catch::StartsWith(R"({"on_behalf_of":"xom-khuan-lan.clerk",)"));
  auto view = w.service->show(r->id, unit);
  REQUIRE(view.ok());
  CHECK(view->record.origin == "xom-khuan-lan");
  // The unit's clerk, back, carries on with it himself.
  w.tick();
  auto submitted = w.service->act(r->id, "submit", unit, {});
  INFO((submitted ? "" : submitted.error().message));
  CHECK(submitted.ok());
  verifies(w, r->id);
}

TEST_CASE("delegation: replay and audit verify still pass once the period is over",
          "[service][delegation][history]") {
  World w;
  const DossierId id = at_commune_decision(w);
  w.tick();
  REQUIRE(w.service->act(id, "decide", kDeputy, decision(kChair)).ok());
  w.clock.set(*parse_utc("2026-06-01T02:00:00.000Z"));  // a month after 30/04/2026
  verifies(w, id);
  CHECK(w.service->show(id, std::nullopt).ok());
}

// ---------------------------------------------------------------------------------------------
// A council ballot is the member's own. snv-thai-nguyen.council1, a member of the Hội đồng TĐKT tỉnh Thái
// Nguyên, names the Sở's appraiser as delegate for March and April 2026 (the tests' own config).

namespace {

const std::string kMember = "snv-thai-nguyen.council1";
const std::string kMemberDeputy = "snv-thai-nguyen.appraiser";

void member_delegates(yaml::Project& p) {
  user_spec(p, kMember).delegates.push_back({kMemberDeputy, "2026-03-01", "2026-04-30", "Nghỉ phép"});
}

// A Bằng khen tỉnh waiting for the council's ballots.
DossierId at_council_vote(World& w) {
  const DossierId id = create(w, "standard", "bang_khen_tinh", "xom-khuan-lan.clerk", eligible_collective());
  REQUIRE(walk_forward(w, id, 60, "council_vote").back() == "council_vote");
  return id;
}

}  // namespace

TEST_CASE("delegation: a ballot is not cast on a member's behalf, and his inbox for the delegate holds none",
          "[service][delegation][vote]") {
  World w(member_delegates);
  const DossierId id = at_council_vote(w);
  auto own = w.service->inbox(kMember);
  REQUIRE(own.ok());
  REQUIRE(own->size() == 1);  // the member's ballot
  auto theirs = w.service->inbox(kMemberDeputy, kMember);
  REQUIRE(theirs.ok());
  CHECK(theirs->empty());  // nothing there his delegate could do
  const std::size_t before = w.store.data().events.size();
  RawInput ballot;
  ballot.ballot = "yes";
  ballot.on_behalf_of = kMember;
  w.tick();
  auto r = w.service->act(id, "vote", kMemberDeputy, ballot);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kNotPermitted);
  CHECK(r.error().reason == "vote_not_delegable");
  CHECK_THAT(r.error().message, Catch::Contains("không được bỏ thay"));
  CHECK(w.store.data().events.size() == before);
}

TEST_CASE("delegation: for a delegate, a member who also closes the vote has the closing and not the ballot",
          "[service][delegation][vote]") {
  World w([](yaml::Project& p) {
    member_delegates(p);
    user_spec(p, kMember).roles.push_back("clerk");
  });
  const DossierId id = at_council_vote(w);
  auto theirs = w.service->inbox(kMemberDeputy, kMember);
  REQUIRE(theirs.ok());
  REQUIRE(theirs->size() == 1);
  const DossierView& v = theirs->front();
  CHECK(v.record.id == id);
  const UserId member = *w.directory.find_user(kMember);
  auto names = [&](const std::vector<ActionId>& actions) {
    std::vector<std::string> out;
    for (ActionId a : actions) out.push_back(v.definition->action_name(a));
    return out;
  };
  CHECK(names(available_actions(*v.definition, w.directory, v.state, member)) ==
        std::vector<std::string>{"vote", "close_vote"});
  CHECK(names(available_actions(*v.definition, w.directory, v.state, member, true)) ==
        std::vector<std::string>{"close_vote"});
}

TEST_CASE("a service full of remembered states forgets the dossier written longest ago", "[service]") {
  World w;
  w.service->set_remembered(2);
  const DossierId a = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  const DossierId b = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  // A written again: B is now the one written longest ago.
  REQUIRE(w.service->act(a, "submit", "xom-khuan-lan.clerk", {}).ok());
  const DossierId c = create(w, "standard", "giay_khen_xa", "xom-khuan-lan.clerk", eligible_collective());
  CHECK(w.service->remembered_state(a).has_value());
  CHECK_FALSE(w.service->remembered_state(b).has_value());
  CHECK(w.service->remembered_state(c).has_value());
  CHECK(w.service->remembered_state(a)->version == 2);
  // B written again comes back, and A (now written longest ago) leaves.
  REQUIRE(w.service->act(b, "submit", "xom-khuan-lan.clerk", {}).ok());
  CHECK_FALSE(w.service->remembered_state(a).has_value());
  CHECK(w.service->remembered_state(b).has_value());
  CHECK(w.service->remembered_state(c).has_value());
  // A forgotten state costs nothing but a read: A's next command starts from its stored projection.
  REQUIRE(w.service->act(a, "accept", "ca-xa-phuong-tien.clerk", {}).ok());
  CHECK(w.service->remembered_state(a)->version == 3);
  CHECK_FALSE(w.service->remembered_state(c).has_value());
}
