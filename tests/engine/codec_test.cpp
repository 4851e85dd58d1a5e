// The event codec: payloads read without a JSON document (the shape encode_event writes, and any JSON that
// PayloadScan can read) decode exactly as the JSON parser reads them, and every refusal is the parser's.
#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "engine/codec.hpp"
#include "engine/json_out.hpp"
#include "tests/support/world.hpp"

using namespace hoso;
using namespace hoso::testing;

namespace {

constexpr std::int64_t kDay = 86'400'000;

// A history with every kind of payload the standard workflow writes: a creation with fields and documents,
// notices, effects, timers and legal clocks, a return (a paused clock), an electorate and ballots, decisions
// with fields, and fired timers (late ones too).
World& walked() {
  static World w;
  static bool done = false;
  if (done) return w;
  done = true;
  auto act = [&](DossierId id, const char* action, const char* user, RawInput in = {}) {
    w.tick();
    auto r = w.service->act(id, action, user, in);
    INFO(action << ": " << (r ? "" : r.error().message));
    REQUIRE(r.ok());
  };
  auto big = w.service->create("standard", "huan_chuong_ld_nhat", "xom-khuan-lan.clerk", eligible_collective());
  REQUIRE(big.ok());
  RawInput yes;
  yes.ballot = "yes";
  act(big->id, "submit", "xom-khuan-lan.clerk");
  act(big->id, "accept", "ca-xa-phuong-tien.clerk");
  RawInput why;
  why.note = "Thiếu biên bản họp";
  act(big->id, "return", "vhxh-xa-phuong-tien.appraiser", why);
  act(big->id, "resubmit", "xom-khuan-lan.clerk");
  act(big->id, "accept", "ca-xa-phuong-tien.clerk");
  act(big->id, "appraise", "vhxh-xa-phuong-tien.appraiser");
  act(big->id, "forward", "ubnd-xa-phuong-tien.signer");
  act(big->id, "accept", "ca-tinh-thai-nguyen.clerk");
  act(big->id, "forward", "ca-tinh-thai-nguyen.appraiser");
  act(big->id, "appraise", "snv-thai-nguyen.appraiser");
  for (const char* member : {"snv-thai-nguyen.council1", "snv-thai-nguyen.council2", "snv-thai-nguyen.council3",
                             "snv-thai-nguyen.council4"})
    act(big->id, "vote", member, yes);
  act(big->id, "forward", "ubnd-tinh-thai-nguyen.signer");
  act(big->id, "accept", "ban-tdkt-tw.clerk");
  act(big->id, "forward", "ban-tdkt-tw.appraiser");
  act(big->id, "forward", "vpcp.signer");
  RawInput decision;
  decision.fields = {{"decision_number", "99/QĐ-CTN"}, {"decision_date", "2026-03-02"}};
  act(big->id, "decide", "vp-ctn.signer", decision);
  // A commune dossier left at a level: its reminder and limit fire, late.
  // A name with every character JSON escapes, and Vietnamese.
  auto small = w.service->create("standard", "giay_khen_xa", "xom-khuan-lan.clerk",
                                 eligible_collective("Xóm \"Khác\" \\ \t/\x01\x1f\x7f Đ"));
  REQUIRE(small.ok());
  act(small->id, "submit", "xom-khuan-lan.clerk");
  act(small->id, "accept", "ca-xa-phuong-tien.clerk");
  w.clock.advance_ms(40 * kDay);
  REQUIRE(w.service->fire_due(w.clock.now(), false).value().fired >= 2);
  // Notices' attempts: one failed (with its retry time), one delivered with recipients the mail server left
  // out, one given up on.
  std::vector<NotificationTemplate> templates;
  for (const char* key : {"dossier_received", "dossier_returned", "dossier_rejected", "dossier_decided"})
    templates.push_back(NotificationTemplate{key, "Hồ sơ {ho_so}", "{buoc}", {}});
  auto pending = w.service->pending_notifications(3, templates).value();
  REQUIRE(pending.size() == 3);
  const Timestamp retry{w.clock.now().millis + 60'000};
  REQUIRE(
      w.service
          ->record_attempt(pending[0], {"email", DeliveryOutcome::kFailed, 1, "421 bận", retry, false, {}})
          .ok());
  DeliveryAttempt some{"email", DeliveryOutcome::kDelivered, 1, "", std::nullopt, false, {}};
  some.left_out =
      "smtp 127.0.0.1:25: RCPT TO:<a@x.example>: 550 5.1.1 không có hộp thư; smtp 127.0.0.1:25: RCPT "
      "TO:<b@x.example>: 553 sai địa chỉ";
  REQUIRE(w.service->record_attempt(pending[1], some).ok());
  REQUIRE(
      w.service
          ->record_attempt(
              pending[2], {"webhook", DeliveryOutcome::kDeadLettered, 1, "410 Gone", std::nullopt, false, {}})
          .ok());
  return w;
}

const Definition& standard(World& w) { return *w.registry->current("standard").value(); }

// The record `e` encodes to, with the digest `r` recorded.
EventRecord reencoded(World& w, const EventRecord& r, const Event& e) {
  EventRecord out = encode_event(standard(w), w.directory, r.dossier, e, recorded_state_digest(r));
  out.prev_hash = r.prev_hash;
  out.hash = r.hash;
  return out;
}

// The payload with its "state" key written with an escape: the same JSON, which only the parser reads.
std::string escaped(std::string payload) {
  const auto at = payload.rfind("\"state\"");
  REQUIRE(at != std::string::npos);
  payload.replace(at, 7, "\"st\\u0061te\"");
  return payload;
}

}  // namespace

TEST_CASE("every stored payload decodes to the event it was encoded from, read directly or parsed", "[codec]") {
  World& w = walked();
  const auto& events = w.store.data().events;
  REQUIRE(events.size() > 20);
  bool timers = false, clocks = false, electorate = false, ballot = false, fired = false, documents = false,
       retry = false, left_out = false, error = false;
  for (const EventRecord& r : events) {
    INFO(r.type << " " << r.payload);
    // Read directly, unless a string has an escape (the name with control characters): then parsed.
    CHECK(payload_reads_directly(standard(w), w.directory, r.payload) == (r.payload.find('\\') == std::string::npos));
    auto direct = decode_event(standard(w), w.directory, r);
    REQUIRE(direct.ok());
    CHECK(reencoded(w, r, *direct) == r);
    // The same JSON with an escape goes through the parser and gives the same event.
    EventRecord parsed = r;
    parsed.payload = escaped(r.payload);
    CHECK_FALSE(payload_reads_directly(standard(w), w.directory, parsed.payload));
    auto slow = decode_event(standard(w), w.directory, parsed);
    REQUIRE(slow.ok());
    CHECK(reencoded(w, r, *slow) == r);
    // For folding (notices, effects and the digest dropped), both read alike too.
    Event a, b;
    REQUIRE(decode_event_into(standard(w), w.directory, r, a, /*fold_only=*/true).ok());
    REQUIRE(decode_event_into(standard(w), w.directory, parsed, b, /*fold_only=*/true).ok());
    CHECK(encode_event(standard(w), w.directory, r.dossier, a, "") ==
          encode_event(standard(w), w.directory, r.dossier, b, ""));
    CHECK(a.notices.empty());
    CHECK(a.effects.empty());
    timers = timers || direct->timers.has_value();
    clocks = clocks || (direct->clocks && !direct->clocks->empty());
    electorate = electorate || !direct->electorate.empty();
    ballot = ballot || direct->ballot != Ballot::kNone;
    fired = fired || !direct->timer.empty();
    documents = documents || !direct->documents.empty();
    if (direct->delivery) {
      retry = retry || !direct->delivery->retry_at.empty();
      error = error || !direct->delivery->error.empty();
      if (!direct->delivery->left_out.empty()) {
        left_out = true;
        CHECK_THAT(direct->delivery->left_out, Catch::Contains("<b@x.example>: 553 sai địa chỉ"));
        CHECK(direct->delivery->left_out == slow->delivery->left_out);
      }
    }
  }
  CHECK((timers && clocks && electorate && ballot && fired && documents));
  CHECK((retry && left_out && error));
}

TEST_CASE("a payload in another shape the direct reader accepts reads the same, and refusals are the parser's", "[codec]") {
  World& w = walked();
  const auto& events = w.store.data().events;
  const EventRecord& created = events.front();
  REQUIRE(created.type == "DossierCreated");
  auto want = decode_event(standard(w), w.directory, created);
  REQUIRE(want.ok());
  auto read = [&](const std::string& payload) {
    EventRecord r = created;
    r.payload = payload;
    return decode_event(standard(w), w.directory, r);
  };
  auto same = [&](const std::string& payload) {
    INFO(payload);
    CHECK(payload_reads_directly(standard(w), w.directory, payload));
    auto got = read(payload);
    REQUIRE(got.ok());
    CHECK(reencoded(w, created, *got) == reencoded(w, created, *want));
  };
  // Spaces and line breaks between tokens.
  std::string spaced;
  for (char c : created.payload) {
    spaced += c;
    if (c == ',' || c == ':' || c == '[' || c == '{') spaced += " \n\t";
  }
  same(" " + spaced + "\r\n");
  // Keys in another order (the state first, the award last).
  const auto state_at = created.payload.rfind(",\"state\"");
  same("{" + created.payload.substr(state_at + 1, created.payload.size() - state_at - 2) + "," +
       created.payload.substr(1, state_at - 1) + "}");

  auto refused = [&](const std::string& payload, const std::string& message) {
    INFO(payload);
    auto got = read(payload);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == ErrorCode::kVerifyFailed);
    CHECK_THAT(got.error().message, Catch::StartsWith(message));
  };
  const std::string p = created.payload;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string out = p;
    const auto at = out.find(from);
    REQUIRE(at != std::string::npos);
    out.replace(at, from.size(), to);
    return out;
  };
  refused(with("\"award\":\"huan_chuong_ld_nhat\"", "\"award\":\"huan_chuong_gia\""), "unknown award in payload");
  refused(with("\"recipient_kind\"", "\"recipient_kin\""), "unknown field 'recipient_kin'");
  refused(with("\"size\":1024", "\"size\":\"1024\""), "malformed event payload: ");
  refused(with("\"size\":1024", "\"siz\":1024"), "malformed document entry");
  refused(p.substr(0, p.size() - 1), "payload is not a JSON object");
  refused(p + "x", "payload is not a JSON object");
  refused(with("Xóm Khuân Lân", "X\xC3\x28m"), "payload is not a JSON object");  // not UTF-8
  refused("[]", "payload is not a JSON object");
  // A key twice: the direct reader leaves it to the parser, which keeps one; no crash, one answer.
  auto twice = read(with("\"origin\":", "\"origin\":\"ca-tinh-lao-cai\",\"origin\":"));
  CHECK(twice.ok());
}

TEST_CASE("JSON strings are escaped alike wherever the byte to escape falls in them", "[codec]") {
  // The writer looks at eight bytes at a time: every length around that, each byte that is escaped (and
  // some that are not) at every place, among ASCII and among UTF-8 multi-byte text.
  const std::vector<std::string> specials = {"\"", "\\", "\n", "\x1f", std::string(1, '\0'), "\x7f", " ", "ư", "\t"};
  for (const char* filler : {"a", "\xc3\xa1"}) {
    for (std::size_t length = 0; length <= 20; ++length) {
      for (std::size_t at = 0; at <= length; ++at) {
        for (const std::string& special : specials) {
          std::string text;
          for (std::size_t i = 0; i < at; ++i) text += filler;
          text += special;
          for (std::size_t i = at; i < length; ++i) text += filler;
          std::string written;
          JsonOut(written).value(text);
          INFO("length " << length << ", at " << at);
          REQUIRE(written == boost::json::serialize(boost::json::value(boost::json::string_view(text))));
        }
      }
    }
  }
}

TEST_CASE("a key is found in JSON text where std::string_view::find finds it", "[codec]") {
  const std::string text = R"({"a":"\"x\"","notices":[{"to":"ubnd"}],"on_behalf":1,"on_behalf_of":"b"})";
  for (std::string_view needle : {R"("notices":[)", R"("on_behalf_of")", R"("on_behalf")", R"("a")",
                                  R"("to")", R"("missing")", "}", R"({"a")", R"("b"})", R"("b"}x)", "\"", ""})
    CHECK(find_in_json(text, needle) == std::string_view(text).find(needle));
  CHECK(find_in_json(text, R"("on_behalf_of")") == text.rfind(R"("on_behalf_of")"));
  CHECK(find_in_json("", "x") == std::string_view::npos);
  CHECK(find_in_json("ab", "abc") == std::string_view::npos);
}

TEST_CASE("JSON is written byte for byte as Boost.JSON serializes the same values", "[codec]") {
  std::string all;  // every ASCII byte, then UTF-8
  for (int c = 1; c < 128; ++c) all += static_cast<char>(c);
  all += std::string(1, '\0') + "Đồng Tháp — “trích dẫn” 𝄞";
  std::string text;
  JsonOut out(text);
  out.begin_object()
      .member("all", all)
      .member("empty", "")
      .member("min", std::numeric_limits<std::int64_t>::min())
      .member("max", std::numeric_limits<std::int64_t>::max())
      .member("zero", 0)
      .member("yes", true)
      .member("no", false);
  out.key("list").begin_array().value("a").begin_object().end_object().begin_array().end_array().value(-7).end_array();
  out.key("nested").begin_object().key("x").begin_array().value(false).end_array().end_object().end_object();
  boost::json::object want;
  want["all"] = all;
  want["empty"] = "";
  want["min"] = std::numeric_limits<std::int64_t>::min();
  want["max"] = std::numeric_limits<std::int64_t>::max();
  want["zero"] = 0;
  want["yes"] = true;
  want["no"] = false;
  want["list"] = boost::json::array{"a", boost::json::object{}, boost::json::array{}, -7};
  want["nested"] = boost::json::object{{"x", boost::json::array{false}}};
  CHECK(text == boost::json::serialize(want));

  // Everything the codec wrote for the walked history reads back and serializes to the same bytes.
  World& w = walked();
  auto same = [](const std::string& json) {
    INFO(json);
    CHECK(boost::json::serialize(boost::json::parse(json)) == json);
  };
  for (const EventRecord& r : w.store.data().events) same(r.payload);
  for (const auto& [id, p] : w.store.data().dossiers) {
    same(p.fields);
    same(p.documents);
    same(p.vote);
    if (!p.timing.empty()) same(p.timing);
  }
  bool escaped = false;
  for (const auto& [id, p] : w.store.data().dossiers) escaped = escaped || p.fields.find("\\u0001") != std::string::npos;
  CHECK(escaped);
}
