#include "engine/codec.hpp"
#include "engine/hash_chain.hpp"
#include "engine/json_out.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <cstdint>
#include <string_view>
#include <utility>

namespace hoso {

namespace json = boost::json;

namespace {

Error bad(const std::string& what) { return make_error(ErrorCode::kVerifyFailed, what); }

std::string org_key(const Directory& dir, OrgId id) { return id.valid() ? dir.org(id).key : std::string(); }
std::string user_key(const Directory& dir, UserId id) {
  return id.valid() ? dir.user(id).key : std::string();
}

void write_timers(JsonOut& out, const std::vector<PendingTimer>& timers) {
  out.begin_array();
  for (const auto& t : timers) out.begin_object().member("name", t.name).member("due", format_utc(t.due)).end_object();
  out.end_array();
}

void write_clocks(JsonOut& out, const std::vector<LegalClock>& clocks) {
  out.begin_array();
  for (const auto& c : clocks)
    out.begin_object()
        .member("timer", c.timer)
        .member("level", org_kind_name(c.level))
        .member("rule", c.rule)
        .member("working_days", c.working_days)
        .member("remind_before", c.remind_before)
        .member("due", format_date(c.due))
        .member("remaining", c.remaining)
        .member("running", c.running)
        .member("overdue", c.overdue)
        .end_object();
  out.end_array();
}

Result<std::vector<PendingTimer>> decode_timers(const json::value& v) {
  std::vector<PendingTimer> out;
  if (!v.is_array()) return bad("timers is not an array");
  for (const auto& item : v.as_array()) {
    const auto* o = item.if_object();
    const auto* name = o ? o->if_contains("name") : nullptr;
    const auto* due = o ? o->if_contains("due") : nullptr;
    if (!name || !name->is_string() || !due || !due->is_string()) return bad("malformed timer");
    auto at = parse_utc(std::string_view(due->as_string()));
    if (!at) return bad("malformed timer due time");
    out.push_back(PendingTimer{std::string(name->as_string()), *at});
  }
  return out;
}

Result<std::vector<LegalClock>> decode_clocks(const json::value& v) {
  std::vector<LegalClock> out;
  if (!v.is_array()) return bad("clocks is not an array");
  for (const auto& item : v.as_array()) {
    const auto* o = item.if_object();
    if (!o) return bad("malformed clock");
    auto text = [&](const char* k) -> std::optional<std::string_view> {
      const auto* x = o->if_contains(k);
      if (!x || !x->is_string()) return std::nullopt;
      return std::string_view(x->as_string());
    };
    auto integer = [&](const char* k) -> std::optional<int> {
      const auto* x = o->if_contains(k);
      if (!x || !x->is_int64()) return std::nullopt;
      return static_cast<int>(x->as_int64());
    };
    auto flag = [&](const char* k) -> std::optional<bool> {
      const auto* x = o->if_contains(k);
      if (!x || !x->is_bool()) return std::nullopt;
      return x->as_bool();
    };
    LegalClock c;
    auto timer = text("timer"), level = text("level"), rule = text("rule"), due = text("due");
    auto days = integer("working_days"), remind = integer("remind_before"), left = integer("remaining");
    auto running = flag("running"), overdue = flag("overdue");
    if (!timer || !level || !rule || !due || !days || !remind || !left || !running || !overdue)
      return bad("incomplete clock");
    auto kind = parse_org_kind(*level);
    auto day = parse_date(*due);
    if (!kind || !day) return bad("malformed clock");
    out.push_back(LegalClock{std::string(*timer), *kind, std::string(*rule), *days, *remind, *day, *left,
                             *running, *overdue});
  }
  return out;
}

void write_documents(JsonOut& out, const Definition& def, const std::vector<DocumentRef>& docs) {
  out.begin_array();
  for (const auto& d : docs)
    out.begin_object()
        .member("kind", def.document(d.kind).key)
        .member("filename", d.filename)
        .member("sha256", d.sha256)
        .member("size", d.size)
        .end_object();
  out.end_array();
}

Result<std::vector<DocumentRef>> decode_documents(const Definition& def, const json::value& v) {
  std::vector<DocumentRef> out;
  if (!v.is_array()) return bad("documents is not an array");
  for (const auto& item : v.as_array()) {
    const auto* o = item.if_object();
    if (!o || !o->contains("kind") || !o->contains("filename") || !o->contains("sha256") ||
        !o->contains("size"))
      return bad("malformed document entry");
    auto kind = def.find_document(json::value_to<std::string>(o->at("kind")));
    if (!kind) return bad("unknown document kind");
    out.push_back(DocumentRef{*kind, json::value_to<std::string>(o->at("filename")),
                              json::value_to<std::string>(o->at("sha256")),
                              o->at("size").to_number<std::int64_t>()});
  }
  return out;
}

Result<std::vector<UserId>> decode_users(const Directory& dir, const json::value& v) {
  std::vector<UserId> out;
  if (!v.is_array()) return bad("user list is not an array");
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) return bad("user id is not a string");
    auto id = dir.find_user(std::string_view(item.as_string()));
    if (!id) return bad(fmt::format("unknown user '{}'", std::string_view(item.as_string())));
    out.push_back(*id);
  }
  return out;
}

void write_users(JsonOut& out, const Directory& dir, const std::vector<UserId>& users) {
  out.begin_array();
  for (UserId u : users) out.value(dir.user(u).key);
  out.end_array();
}

Result<std::vector<FieldChange>> decode_changes(const Definition& def, const json::value& v) {
  std::vector<FieldChange> out;
  if (!v.is_array()) return bad("changes is not an array");
  for (const auto& item : v.as_array()) {
    const auto* pair = item.if_array();
    if (!pair || pair->size() != 2 || !(*pair)[0].is_string() || !(*pair)[1].is_string())
      return bad("malformed change");
    auto f = def.find_field(std::string_view((*pair)[0].as_string()));
    if (!f) return bad(fmt::format("unknown field '{}'", std::string_view((*pair)[0].as_string())));
    auto value = parse_value(def.field(*f).spec, std::string_view((*pair)[1].as_string()));
    if (!value) return bad(fmt::format("field '{}': {}", def.field(*f).key, value.error().message));
    out.push_back(FieldChange{*f, std::move(value.value())});
  }
  return out;
}

std::optional<OrgId> org_of(const Directory& dir, const std::string& key) {
  if (key.empty()) return OrgId{};
  return dir.find_org(key);
}

}  // namespace

EventRecord encode_event(const Definition& def, const Directory& dir, DossierId id, const Event& e,
                         const std::string& state_digest) {
  EventRecord r;
  r.dossier = id;
  r.seq = e.seq;
  r.type = event_type_name(e.type);
  r.at = format_utc(e.at);
  if (!e.actor.user.valid()) {  // by the system: a fired timer, a delivery, a dossier it opened
    r.actor_user = kSystemActor;
    r.actor_role = kSystemActor;
    r.actor_org = "";
  } else {
    r.actor_user = user_key(dir, e.actor.user);
    r.actor_role = role_name(e.actor.role);
    r.actor_org = org_key(dir, e.actor.org);
  }
  r.action = e.action.valid() ? def.action_name(e.action) : "";
  r.from_state = e.from.valid() ? def.state(e.from).key : "";
  r.to_state = def.state(e.to).key;
  r.holder = org_key(dir, e.holder);
  r.note = e.note;
  r.payload.reserve(1024);  // one allocation for a typical payload instead of one per doubling
  JsonOut p(r.payload);
  p.begin_object();
  // Only when used, so the payloads (and hashes) of events nobody delegated stay as they were.
  if (e.on_behalf_of.valid()) p.member("on_behalf_of", user_key(dir, e.on_behalf_of));
  if (e.type == EventType::kDossierCreated)
    p.member("award", def.award(e.award).key).member("origin", org_key(dir, e.origin)).member("definition", def.hash());
  if (!e.changes.empty()) {
    p.key("changes").begin_array();
    for (const auto& c : e.changes)
      p.begin_array()
          .value(def.field(c.field).key)
          .value(format_value(def.field(c.field).spec, c.value))
          .end_array();
    p.end_array();
  }
  if (!e.documents.empty()) write_documents(p.key("documents"), def, e.documents);
  if (!e.notices.empty()) {
    p.key("notices").begin_array();
    for (const auto& n : e.notices) p.begin_object().member("to", n.to).member("template", n.template_key).end_object();
    p.end_array();
  }
  if (e.delivery) {
    p.key("delivery")
        .begin_object()
        .member("notification", e.delivery->notification)
        .member("channel", e.delivery->channel)
        .member("to", e.delivery->to)
        .member("template", e.delivery->template_key);
    if (e.delivery->attempt > 0) p.member("attempt", e.delivery->attempt);
    if (!e.delivery->error.empty()) p.member("error", e.delivery->error);
    if (!e.delivery->retry_at.empty()) p.member("retry_at", e.delivery->retry_at);
    if (!e.delivery->left_out.empty()) p.member("left_out", e.delivery->left_out);
    p.end_object();
  }
  if (!e.timer.empty()) {
    p.member("timer", e.timer);
    if (e.late) p.member("late", true);
  }
  if (e.timers) write_timers(p.key("timers"), *e.timers);
  if (e.clocks) write_clocks(p.key("clocks"), *e.clocks);
  if (e.ballot != Ballot::kNone) p.member("ballot", ballot_name(e.ballot));
  if (!e.electorate.empty()) write_users(p.key("electorate"), dir, e.electorate);
  if (!e.effects.empty()) {
    p.key("effects").begin_array();
    for (const auto& f : e.effects) {
      p.begin_object();
      switch (f.kind) {
        case Effect::Kind::kNotify:
          p.member("notify", f.to).member("template", f.template_);
          break;
        case Effect::Kind::kStartTimer:
          p.member("start_timer", f.timer);
          if (f.on_field.valid())
            p.member("on", def.field(f.on_field).key).member("hour", f.hour);
          else
            p.member("after", f.after);
          break;
        case Effect::Kind::kCancelTimer:
          p.member("cancel_timer", f.timer);
          break;
        case Effect::Kind::kPauseTimer:
          p.member("pause_timer", f.timer);
          break;
      }
      p.end_object();
    }
    p.end_array();
  }
  p.member("state", state_digest).end_object();
  r.schema_version = kEventSchemaVersion;
  return r;
}

std::string recorded_state_digest(const EventRecord& r) { return recorded_state_digest(r.payload); }

std::string_view recorded_state_digest_fast(std::string_view payload) {
  // encode_event writes the digest as the payload's last key: ..."state":"<64 hex>"}
  constexpr std::string_view kKey = "\"state\":\"";
  constexpr std::size_t kTail = kKey.size() + 64 + 2;  // key, digest, closing quote and brace
  if (payload.size() >= kTail + 1 && payload.front() == '{' &&
      payload.substr(payload.size() - kTail, kKey.size()) == kKey &&
      payload.substr(payload.size() - 2) == "\"}") {
    const char prev = payload[payload.size() - kTail - 1];
    const std::string_view digest = payload.substr(payload.size() - 66, 64);
    if ((prev == ',' || prev == '{') &&
        is_digest_hex(digest))
      return digest;
  }
  return {};
}

std::string recorded_state_digest(std::string_view payload) {
  if (auto fast = recorded_state_digest_fast(payload); !fast.empty()) return std::string(fast);
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return {};
  const auto* s = v.as_object().if_contains("state");
  return s && s->is_string() ? std::string(s->as_string()) : std::string();
}

namespace {
// True when the payload may hold a key that apply_event reads. encode_event writes keys without escapes, and
// the payload's hash was checked before it is folded, so a key absent from the text is absent from the JSON
// (a payload that is not an object is always parsed, and refused).
bool payload_matters_to_fold(std::string_view payload) {
  if (payload.empty() || payload.front() != '{' || payload.back() != '}') return true;
  // One pass over the quotes (replay runs this for every event) rather than one search per key; the first
  // letter picks the keys worth comparing.
  for (auto q = payload.find('"'); q != std::string_view::npos; q = payload.find('"', q + 1)) {
    const std::string_view rest = payload.substr(q + 1);
    auto is = [&](std::string_view key) { return rest.starts_with(key); };
    if (rest.empty()) break;
    switch (rest.front()) {
      case 'a': if (is("award\"")) return true; break;
      case 'b': if (is("ballot\"")) return true; break;
      case 'c': if (is("changes\"") || is("clocks\"")) return true; break;
      case 'd': if (is("documents\"") || is("definition\"") || is("delivery\"")) return true; break;
      case 'e': if (is("electorate\"")) return true; break;
      case 'o':
        if (is("origin\"") || is("on_behalf_of\"")) return true;
        break;
      case 't': if (is("timer\"") || is("timers\"")) return true; break;
      default: break;
    }
  }
  return false;
}

// --- Payloads read without a JSON document ---------------------------------------------------------------
//
// decode_into_unchecked reads most payloads with PayloadScan: JSON whose strings have no escapes, whose
// numbers are plain integers and whose objects hold no key twice, with only the keys encode_event writes at
// the top and only strings, integers and booleans inside the listed objects. Anything else it leaves to the
// JSON parser (read_payload_fast returns false before any error is decided), so both read every payload
// alike and every refusal comes from one place.

struct Scalar {
  enum class Kind : std::uint8_t { kString, kInt, kBool } kind = Kind::kString;
  std::string_view text;
  std::int64_t number = 0;
  bool flag = false;
};

// An object whose values are all scalars, in the order written (at most kMax keys, none twice).
struct FlatObject {
  static constexpr std::size_t kMax = 12;
  std::array<std::pair<std::string_view, Scalar>, kMax> items;
  std::size_t size = 0;
  const Scalar* find(std::string_view key) const {
    for (std::size_t i = 0; i < size; ++i)
      if (items[i].first == key) return &items[i].second;
    return nullptr;
  }
  // The value of `key` when it is a string, else "" (as the JSON path reads optional texts).
  std::string_view text(std::string_view key) const {
    const Scalar* s = find(key);
    return s && s->kind == Scalar::Kind::kString ? s->text : std::string_view();
  }
};

class PayloadScan {
 public:
  explicit PayloadScan(std::string_view s) : s_(s) {}

  bool eat(char c) {
    ws();
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool at_end() {
    ws();
    return at_ == s_.size();
  }
  // A string without escapes or control characters, well-formed UTF-8.
  bool string(std::string_view& out) {
    if (!eat('"')) return false;
    const std::size_t begin = at_;
    bool ascii = true;
    for (; at_ < s_.size() && s_[at_] != '"'; ++at_) {
      const auto c = static_cast<unsigned char>(s_[at_]);
      if (c < 0x20 || c == '\\') return false;
      ascii = ascii && c < 0x80;
    }
    if (at_ == s_.size()) return false;
    out = s_.substr(begin, at_++ - begin);
    return ascii || is_valid_utf8(out);
  }
  // An integer without sign oddities, fraction or exponent that fits in 64 bits.
  bool integer(std::int64_t& out) {
    ws();
    const std::size_t begin = at_;
    if (at_ < s_.size() && s_[at_] == '-') ++at_;
    const std::size_t digits = at_;
    while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') ++at_;
    if (at_ == digits || (s_[digits] == '0' && (at_ - digits > 1 || digits != begin))) return false;  // "", "01", "-0"
    if (at_ < s_.size() && (s_[at_] == '.' || s_[at_] == 'e' || s_[at_] == 'E')) return false;
    const auto [end, ec] = std::from_chars(s_.data() + begin, s_.data() + at_, out);
    return ec == std::errc() && end == s_.data() + at_;
  }
  bool scalar(Scalar& out) {
    ws();
    if (at_ >= s_.size()) return false;
    const char c = s_[at_];
    if (c == '"') {
      out.kind = Scalar::Kind::kString;
      return string(out.text);
    }
    if (c == 't' || c == 'f') {
      out.kind = Scalar::Kind::kBool;
      out.flag = c == 't';
      const std::string_view word = out.flag ? "true" : "false";
      if (s_.substr(at_, word.size()) != word) return false;
      at_ += word.size();
      return true;
    }
    out.kind = Scalar::Kind::kInt;
    return integer(out.number);
  }
  // `each()` reads one element at a time.
  template <typename Each>
  bool array(Each&& each) {
    if (!eat('[')) return false;
    if (eat(']')) return true;
    do {
      if (!each()) return false;
    } while (eat(','));
    return eat(']');
  }
  bool flat_object(FlatObject& out) {
    out.size = 0;
    if (!eat('{')) return false;
    if (eat('}')) return true;
    do {
      std::string_view key;
      Scalar value;
      if (!string(key) || !eat(':') || !scalar(value) || out.find(key) || out.size == FlatObject::kMax) return false;
      out.items[out.size++] = {key, value};
    } while (eat(','));
    return eat('}');
  }

 private:
  void ws() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r')) ++at_;
  }
  std::string_view s_;
  std::size_t at_ = 0;
};

// The parts of an event its payload fills (decode_into_unchecked resets them before reading it).
void clear_payload_parts(Event& e) {
  e.on_behalf_of = UserId{};
  e.award = AwardId{};
  e.origin = OrgId{};
  e.ballot = Ballot::kNone;
  e.changes.clear();
  e.documents.clear();
  e.electorate.clear();
  e.effects.clear();
  e.state_digest.clear();
  e.definition_hash.clear();
  e.timers.reset();
  e.clocks.reset();
  e.timer.clear();
  e.late = false;
  e.delivery.reset();
  e.notices.clear();
}

// Reads the payload into `e` as the JSON path would; false (with `e` partly filled) when PayloadScan cannot
// read it or the JSON path would refuse it.
bool read_payload_fast(const Definition& def, const Directory& dir, std::string_view payload, Event& e,
                       bool fold_only) {
  PayloadScan in(payload);
  FlatObject o;
  std::string_view s;
  if (!in.eat('{')) return false;
  if (in.eat('}')) return in.at_end();
  std::uint32_t seen = 0;
  auto once = [&](unsigned bit) {
    if (seen & (1u << bit)) return false;
    seen |= 1u << bit;
    return true;
  };
  do {
    std::string_view key;
    if (!in.string(key) || !in.eat(':')) return false;
    bool ok = false;
    if (key == "award") {
      ok = once(0) && in.string(s);
      if (ok) {
        auto a = def.find_award(s);
        ok = a.has_value();
        if (ok) e.award = *a;
      }
    } else if (key == "origin") {
      ok = once(1) && in.string(s);
      if (ok) {
        auto org = dir.find_org(s);
        ok = org.has_value();
        if (ok) e.origin = *org;
      }
    } else if (key == "definition") {
      ok = once(2) && in.string(s);
      if (ok) e.definition_hash.assign(s);
    } else if (key == "changes") {
      ok = once(3) && in.array([&] {
        std::string_view name, text;
        if (!in.eat('[') || !in.string(name) || !in.eat(',') || !in.string(text) || !in.eat(']')) return false;
        auto f = def.find_field(name);
        if (!f) return false;
        auto value = parse_value(def.field(*f).spec, text);
        if (!value) return false;
        e.changes.push_back(FieldChange{*f, std::move(value.value())});
        return true;
      });
    } else if (key == "documents") {
      ok = once(4) && in.array([&] {
        if (!in.flat_object(o)) return false;
        const Scalar *kind = o.find("kind"), *name = o.find("filename"), *sha = o.find("sha256"), *size = o.find("size");
        using K = Scalar::Kind;
        if (!kind || !name || !sha || !size || kind->kind != K::kString || name->kind != K::kString ||
            sha->kind != K::kString || size->kind != K::kInt)
          return false;
        auto k = def.find_document(kind->text);
        if (!k) return false;
        e.documents.push_back(DocumentRef{*k, std::string(name->text), std::string(sha->text), size->number});
        return true;
      });
    } else if (key == "notices") {
      ok = once(5) && in.array([&] {
        if (!in.flat_object(o)) return false;
        const Scalar *to = o.find("to"), *t = o.find("template");
        if (!to || !t || to->kind != Scalar::Kind::kString || t->kind != Scalar::Kind::kString) return false;
        if (!fold_only) e.notices.push_back(Event::Notice{std::string(to->text), std::string(t->text)});
        return true;
      });
    } else if (key == "delivery") {
      ok = once(6) && in.flat_object(o);
      if (ok) {
        Event::Delivery d{std::string(o.text("notification")),
                          std::string(o.text("channel")),
                          std::string(o.text("to")),
                          std::string(o.text("template")),
                          0,
                          std::string(o.text("error")),
                          std::string(o.text("retry_at")),
                          std::string(o.text("left_out"))};
        ok = !d.notification.empty() && !d.channel.empty() && !d.to.empty();
        if (const Scalar* a = o.find("attempt")) {
          ok = ok && a->kind == Scalar::Kind::kInt && a->number > 0;
          d.attempt = a->number;
        }
        if (ok) e.delivery = std::move(d);
      }
    } else if (key == "timer") {
      ok = once(7) && in.string(s);
      if (ok) e.timer.assign(s);
    } else if (key == "late") {
      Scalar late;
      ok = once(8) && in.scalar(late) && late.kind == Scalar::Kind::kBool;
      if (ok) e.late = late.flag;
    } else if (key == "timers") {
      e.timers.emplace();
      ok = once(9) && in.array([&] {
        if (!in.flat_object(o)) return false;
        const Scalar *name = o.find("name"), *due = o.find("due");
        if (!name || !due || name->kind != Scalar::Kind::kString || due->kind != Scalar::Kind::kString) return false;
        auto at = parse_utc(due->text);
        if (!at) return false;
        e.timers->push_back(PendingTimer{std::string(name->text), *at});
        return true;
      });
    } else if (key == "clocks") {
      e.clocks.emplace();
      ok = once(10) && in.array([&] {
        if (!in.flat_object(o)) return false;
        auto of = [&](const char* k, Scalar::Kind kind) {
          const Scalar* x = o.find(k);
          return x && x->kind == kind ? x : nullptr;
        };
        using K = Scalar::Kind;
        const Scalar *timer = of("timer", K::kString), *level = of("level", K::kString), *rule = of("rule", K::kString),
                     *due = of("due", K::kString), *days = of("working_days", K::kInt),
                     *remind = of("remind_before", K::kInt), *left = of("remaining", K::kInt),
                     *running = of("running", K::kBool), *overdue = of("overdue", K::kBool);
        if (!timer || !level || !rule || !due || !days || !remind || !left || !running || !overdue) return false;
        auto kind = parse_org_kind(level->text);
        auto day = parse_date(due->text);
        if (!kind || !day) return false;
        e.clocks->push_back(LegalClock{std::string(timer->text), *kind, std::string(rule->text),
                                       static_cast<int>(days->number), static_cast<int>(remind->number), *day,
                                       static_cast<int>(left->number), running->flag, overdue->flag});
        return true;
      });
    } else if (key == "ballot") {
      ok = once(11) && in.string(s);
      if (ok) {
        auto b = parse_ballot(s);
        ok = b.has_value();
        if (ok) e.ballot = *b;
      }
    } else if (key == "electorate") {
      ok = once(12) && in.array([&] {
        if (!in.string(s)) return false;
        auto id = dir.find_user(s);
        if (!id) return false;
        e.electorate.push_back(*id);
        return true;
      });
    } else if (key == "effects") {
      ok = once(13) && in.array([&] {
        if (!in.flat_object(o)) return false;
        if (fold_only) return true;  // the fold reads no effects: checked, not kept
        Effect f;
        if (o.find("notify")) {
          f.kind = Effect::Kind::kNotify;
          f.to.assign(o.text("notify"));
          f.template_.assign(o.text("template"));
          if (f.to.starts_with("field:")) {
            auto field = def.find_field(std::string_view(f.to).substr(6));
            if (!field) return false;
            f.to_field = *field;
          }
        } else if (o.find("start_timer")) {
          f.kind = Effect::Kind::kStartTimer;
          f.timer.assign(o.text("start_timer"));
          f.after.assign(o.text("after"));
          if (const std::string_view on = o.text("on"); !on.empty()) {
            auto field = def.find_field(on);
            const Scalar* hour = o.find("hour");
            if (!field || !hour || hour->kind != Scalar::Kind::kInt) return false;
            f.on_field = *field;
            f.hour = static_cast<int>(hour->number);
          }
        } else if (o.find("pause_timer")) {
          f.kind = Effect::Kind::kPauseTimer;
          f.timer.assign(o.text("pause_timer"));
        } else {
          f.kind = Effect::Kind::kCancelTimer;
          f.timer.assign(o.text("cancel_timer"));
        }
        e.effects.push_back(std::move(f));
        return true;
      });
    } else if (key == "on_behalf_of") {
      ok = once(15) && in.string(s);
      if (ok) {
        auto id = dir.find_user(s);
        ok = id.has_value();
        if (ok) e.on_behalf_of = *id;
      }
    } else if (key == "state") {
      ok = once(14) && in.string(s);
      if (ok && !fold_only) e.state_digest.assign(s);
    }
    if (!ok) return false;
  } while (in.eat(','));
  return in.eat('}') && in.at_end();
}

Status decode_into_unchecked(const Definition& def, const Directory& dir, const EventRecord& r, Event& e,
                             bool fold_only) {
  // Reset, keeping the capacity of strings and vectors (replay decodes millions into one Event).
  e.action = ActionId{};
  e.from = StateId{};
  clear_payload_parts(e);
  auto type = parse_event_type(r.type);
  if (!type) return bad(fmt::format("unknown event type '{}'", r.type));
  if (r.schema_version != kEventSchemaVersion)
    return bad(fmt::format("unsupported schema version {}", r.schema_version));
  e.type = *type;
  e.seq = r.seq;
  auto at = parse_utc(r.at);
  if (!at) return bad(fmt::format("malformed time '{}'", r.at));
  e.at = *at;
  const bool by_system = e.type == EventType::kTimerFired || is_notification_event(e.type);
  if (by_system || (e.type == EventType::kDossierCreated && r.actor_user == kSystemActor)) {
    if (r.actor_user != kSystemActor || r.actor_role != kSystemActor || !r.actor_org.empty())
      return bad("a fired timer or a delivery is recorded by the system");
    e.actor = Actor{};
  } else {
    auto user = dir.find_user(r.actor_user);
    auto org = dir.find_org(r.actor_org);
    auto role = parse_role(r.actor_role);
    if (!user || !org || !role)
      return bad(fmt::format("unknown actor '{}' / '{}' / '{}'", r.actor_user, r.actor_role, r.actor_org));
    e.actor = Actor{*user, *role, *org};
  }
  if (!r.action.empty()) {
    auto a = def.find_action(r.action);
    if (!a) return bad(fmt::format("unknown action '{}'", r.action));
    e.action = *a;
  }
  if (!r.from_state.empty()) {
    auto s = def.find_state(r.from_state);
    if (!s) return bad(fmt::format("unknown state '{}'", r.from_state));
    e.from = *s;
  }
  auto to = def.find_state(r.to_state);
  if (!to) return bad(fmt::format("unknown state '{}'", r.to_state));
  e.to = *to;
  auto holder = org_of(dir, r.holder);
  if (!holder) return bad(fmt::format("unknown org '{}'", r.holder));
  e.holder = *holder;
  if (fold_only)
    e.note.clear();  // the fold keeps no notes
  else
    e.note = r.note;
  if (fold_only && !payload_matters_to_fold(r.payload)) return Status::Ok();
  if (read_payload_fast(def, dir, r.payload, e, fold_only)) return Status::Ok();
  clear_payload_parts(e);  // what the fast reader filled before it gave up
  boost::system::error_code ec;
  // Payloads are small: parse them into a stack buffer rather than the heap.
  unsigned char buffer[4096];
  json::monotonic_resource arena(buffer, sizeof buffer);
  json::value pv = json::parse(r.payload, ec, &arena);
  if (ec || !pv.is_object()) return bad("payload is not a JSON object");
  const json::object& p = pv.as_object();
  if (const auto* v = p.if_contains("on_behalf_of")) {
    auto u = v->is_string() ? dir.find_user(std::string_view(v->as_string())) : std::nullopt;
    if (!u) return bad("unknown on_behalf_of user in payload");
    e.on_behalf_of = *u;
  }
  if (const auto* v = p.if_contains("award")) {
    auto a = v->is_string() ? def.find_award(std::string_view(v->as_string())) : std::nullopt;
    if (!a) return bad("unknown award in payload");
    e.award = *a;
  }
  if (const auto* v = p.if_contains("origin")) {
    auto o = v->is_string() ? dir.find_org(std::string_view(v->as_string())) : std::nullopt;
    if (!o) return bad("unknown origin in payload");
    e.origin = *o;
  }
  if (const auto* v = p.if_contains("changes")) {
    auto c = decode_changes(def, *v);
    if (!c) return c.error();
    e.changes = std::move(c.value());
  }
  if (const auto* v = p.if_contains("documents")) {
    auto d = decode_documents(def, *v);
    if (!d) return d.error();
    e.documents = std::move(d.value());
  }
  if (const auto* v = p.if_contains("ballot")) {
    auto b = v->is_string() ? parse_ballot(std::string_view(v->as_string())) : std::nullopt;
    if (!b) return bad("malformed ballot");
    e.ballot = *b;
  }
  if (const auto* v = p.if_contains("electorate")) {
    auto u = decode_users(dir, *v);
    if (!u) return u.error();
    e.electorate = std::move(u.value());
  }
  if (const auto* v = p.if_contains("notices")) {
    if (!v->is_array()) return bad("malformed notices");
    for (const auto& item : v->as_array()) {
      const auto* o = item.if_object();
      const auto* target = o ? o->if_contains("to") : nullptr;
      const auto* t = o ? o->if_contains("template") : nullptr;
      if (!target || !t || !target->is_string() || !t->is_string()) return bad("malformed notice");
      if (!fold_only)  // the fold reads no notices: checked, not kept
        e.notices.push_back(Event::Notice{std::string(target->as_string()), std::string(t->as_string())});
    }
  }
  if (const auto* v = p.if_contains("delivery")) {
    const auto* o = v->if_object();
    auto text = [&](const char* k) -> std::string {
      const auto* x = o ? o->if_contains(k) : nullptr;
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    Event::Delivery d{text("notification"), text("channel"),  text("to"),      text("template"), 0,
                      text("error"),        text("retry_at"), text("left_out")};
    if (d.notification.empty() || d.channel.empty() || d.to.empty()) return bad("malformed delivery");
    if (const auto* a = o->if_contains("attempt")) {
      if (!a->is_int64() || a->as_int64() <= 0) return bad("malformed delivery attempt");
      d.attempt = a->as_int64();
    }
    e.delivery = std::move(d);
  }
  if (const auto* v = p.if_contains("timer")) {
    if (!v->is_string()) return bad("malformed timer name");
    e.timer = std::string(v->as_string());
  }
  if (const auto* v = p.if_contains("late")) {
    if (!v->is_bool()) return bad("malformed late flag");
    e.late = v->as_bool();
  }
  if (const auto* v = p.if_contains("timers")) {
    auto t = decode_timers(*v);
    if (!t) return t.error();
    e.timers = std::move(t.value());
  }
  if (const auto* v = p.if_contains("clocks")) {
    auto c = decode_clocks(*v);
    if (!c) return c.error();
    e.clocks = std::move(c.value());
  }
  if (const auto* v = p.if_contains("state"); v && v->is_string() && !fold_only)
    e.state_digest = std::string(v->as_string());
  if (const auto* v = p.if_contains("definition"); v && v->is_string())
    e.definition_hash = std::string(v->as_string());
  if (const auto* v = p.if_contains("effects"); v && v->is_array()) {
    for (const auto& item : v->as_array()) {
      const auto* o = item.if_object();
      if (!o) return bad("malformed effect");
      if (fold_only) continue;  // the fold reads no effects: checked, not kept
      Effect f;
      auto str = [&](const char* k) {
        const auto* x = o->if_contains(k);
        return x && x->is_string() ? std::string(x->as_string()) : std::string();
      };
      if (o->contains("notify")) {
        f.kind = Effect::Kind::kNotify;
        f.to = str("notify");
        f.template_ = str("template");
        if (f.to.starts_with("field:")) {
          auto field = def.find_field(std::string_view(f.to).substr(6));
          if (!field) return bad(fmt::format("notify target '{}' names no field", f.to));
          f.to_field = *field;
        }
      } else if (o->contains("start_timer")) {
        f.kind = Effect::Kind::kStartTimer;
        f.timer = str("start_timer");
        f.after = str("after");
        if (const std::string on = str("on"); !on.empty()) {
          auto field = def.find_field(on);
          const auto* hour = o->if_contains("hour");
          if (!field || !hour || !hour->is_int64()) return bad(fmt::format("start_timer on '{}' is malformed", on));
          f.on_field = *field;
          f.hour = static_cast<int>(hour->as_int64());
        }
      } else if (o->contains("pause_timer")) {
        f.kind = Effect::Kind::kPauseTimer;
        f.timer = str("pause_timer");
      } else {
        f.kind = Effect::Kind::kCancelTimer;
        f.timer = str("cancel_timer");
      }
      e.effects.push_back(std::move(f));
    }
  }
  return Status::Ok();
}

}  // namespace

// Tampered data can make Boost.JSON throw (a number that is not one); that is a verification failure.
Status decode_event_into(const Definition& def, const Directory& dir, const EventRecord& r, Event& out,
                         bool fold_only) {
  try {
    return decode_into_unchecked(def, dir, r, out, fold_only);
  } catch (const std::exception& ex) {
    return bad(fmt::format("malformed event payload: {}", ex.what()));
  }
}

std::optional<NoticeKey> parse_notice_key(std::string_view text) {
  const auto dot = text.find('.');
  NoticeKey k;
  auto number = [](std::string_view t, std::int64_t& out) {
    const auto [end, err] = std::from_chars(t.data(), t.data() + t.size(), out);
    return !t.empty() && err == std::errc() && end == t.data() + t.size();
  };
  if (dot == std::string_view::npos || !number(text.substr(0, dot), k.gseq) || !number(text.substr(dot + 1), k.n))
    return std::nullopt;
  return k;
}

std::optional<NoticeOutcome> notice_outcome(std::string_view payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  const auto* d = !ec && v.is_object() ? v.as_object().if_contains("delivery") : nullptr;
  const auto* o = d ? d->if_object() : nullptr;
  if (o == nullptr) return std::nullopt;
  auto text = [&](const char* k) -> std::string {
    const auto* x = o->if_contains(k);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  auto key = parse_notice_key(text("notification"));
  std::string channel = text("channel");
  if (!key || channel.empty()) return std::nullopt;
  const auto* a = o->if_contains("attempt");
  return NoticeOutcome{*key, std::move(channel), a && a->is_int64() ? a->as_int64() : 0, text("error"),
                       text("retry_at")};
}

bool payload_reads_directly(const Definition& def, const Directory& dir, std::string_view payload) {
  Event e;
  return read_payload_fast(def, dir, payload, e, /*fold_only=*/false);
}

Result<Event> decode_event(const Definition& def, const Directory& dir, const EventRecord& r) {
  Event e;
  if (auto st = decode_event_into(def, dir, r, e); !st) return st.error();
  return e;
}

DossierRecord encode_dossier(const Definition& def, const Directory& dir, const DossierState& s,
                             const std::string& last_hash, const EncodedContent* same) {
  DossierRecord r;
  r.id = s.id;
  r.workflow = def.name();
  r.definition_hash = s.definition_hash;
  r.award = def.award(s.award).key;
  r.origin = org_key(dir, s.origin);
  r.state = def.state(s.state).key;
  r.holder = org_key(dir, s.holder);
  r.previous_holder = org_key(dir, s.previous_holder);
  r.closed = s.closed;
  r.version = s.version;
  if (same && same->known()) {
    r.fields = same->fields;
    r.documents = same->documents;
  } else {
    // Room for typical texts up front: one allocation each instead of one per doubling as they grow.
    r.fields.reserve(512);
    r.documents.reserve(256 * s.documents.size() + 2);
    JsonOut fields(r.fields);
    fields.begin_object();
    for (const auto& f : def.fields())
      if (s.fields[f.id.value].present()) fields.member(f.key, format_value(f.spec, s.fields[f.id.value]));
    fields.end_object();
    JsonOut documents(r.documents);
    write_documents(documents, def, s.documents);
  }
  JsonOut vote(r.vote);
  write_users(vote.begin_object().key("electorate"), dir, s.vote.electorate);
  write_users(vote.key("voted"), dir, s.vote.voted);
  vote.member("yes", s.vote.yes).member("no", s.vote.no).member("abstain", s.vote.abstain).end_object();
  r.created_by = s.created_by.valid() ? user_key(dir, s.created_by) : std::string(kSystemActor);
  r.created_at = format_utc(s.created_at);
  r.updated_at = format_utc(s.updated_at);
  r.submitted_at = s.submitted_at ? format_utc(*s.submitted_at) : "";
  if (!s.timers.empty() || !s.clocks.empty()) {
    JsonOut timing(r.timing);
    write_timers(timing.begin_object().key("timers"), s.timers);
    write_clocks(timing.key("clocks"), s.clocks);
    timing.end_object();
  }
  r.last_hash = last_hash;
  return r;
}

namespace {
// A projection's timing as a JSON object listing its timers and clocks, its tree in `arena`.
Result<json::value> timing_object(std::string_view timing, json::monotonic_resource& arena) {
  boost::system::error_code ec;
  json::value tv = json::parse(timing, ec, &arena);
  if (ec || !tv.is_object() || !tv.as_object().contains("timers") || !tv.as_object().contains("clocks"))
    return bad("projection timing is not a JSON object with timers and clocks");
  return tv;
}

Result<DossierState> decode_dossier_unchecked(const Definition& def, const Directory& dir,
                                              const DossierRecord& r) {
  DossierState s;
  s.id = r.id;
  s.definition_hash = r.definition_hash;
  auto award = def.find_award(r.award);
  auto origin = dir.find_org(r.origin);
  auto state = def.find_state(r.state);
  auto holder = org_of(dir, r.holder);
  auto prev = org_of(dir, r.previous_holder);
  auto creator = r.created_by == kSystemActor ? std::optional<UserId>(UserId{}) : dir.find_user(r.created_by);
  if (!award || !origin || !state || !holder || !prev || !creator)
    return bad(fmt::format("dossier {} names an award, org, state or user that is no longer known", r.id));
  s.award = *award;
  s.origin = *origin;
  s.state = *state;
  s.holder = *holder;
  s.previous_holder = *prev;
  s.created_by = *creator;
  s.closed = r.closed;
  s.version = r.version;
  auto created = parse_utc(r.created_at);
  auto updated = parse_utc(r.updated_at);
  if (!created || !updated) return bad("malformed timestamps in projection");
  s.created_at = *created;
  s.updated_at = *updated;
  if (!r.submitted_at.empty()) {
    auto submitted = parse_utc(r.submitted_at);
    if (!submitted) return bad("malformed submission time in projection");
    s.submitted_at = *submitted;
  }
  s.fields.assign(def.fields().size(), Value{});
  boost::system::error_code ec;
  // The four JSON texts are parsed into a stack buffer, not the heap (as payloads are): their trees live only
  // while they are read into the state.
  unsigned char buffer[8192];
  json::monotonic_resource arena(buffer, sizeof buffer);
  json::value fv = json::parse(r.fields, ec, &arena);
  if (ec || !fv.is_object()) return bad("projection fields are not a JSON object");
  for (const auto& kv : fv.as_object()) {
    auto f = def.find_field(kv.key());
    if (!f || !kv.value().is_string())
      return bad(fmt::format("unknown field '{}' in projection", std::string_view(kv.key())));
    auto v = parse_value(def.field(*f).spec, std::string_view(kv.value().as_string()));
    if (!v) return bad(v.error().message);
    s.fields[f->value] = std::move(v.value());
  }
  json::value dv = json::parse(r.documents, ec, &arena);
  if (ec) return bad("projection documents are not JSON");
  auto docs = decode_documents(def, dv);
  if (!docs) return docs.error();
  s.documents = std::move(docs.value());
  json::value vv = json::parse(r.vote, ec, &arena);
  if (ec || !vv.is_object()) return bad("projection vote is not a JSON object");
  const auto& vo = vv.as_object();
  if (!vo.contains("electorate") || !vo.contains("voted") || !vo.contains("yes") || !vo.contains("no") ||
      !vo.contains("abstain"))
    return bad("projection vote is incomplete");
  auto electorate = decode_users(dir, vo.at("electorate"));
  auto voted = decode_users(dir, vo.at("voted"));
  if (!electorate) return electorate.error();
  if (!voted) return voted.error();
  s.vote.electorate = std::move(electorate.value());
  s.vote.voted = std::move(voted.value());
  s.vote.yes = static_cast<int>(vo.at("yes").to_number<std::int64_t>());
  s.vote.no = static_cast<int>(vo.at("no").to_number<std::int64_t>());
  s.vote.abstain = static_cast<int>(vo.at("abstain").to_number<std::int64_t>());
  if (!r.timing.empty()) {
    auto tv = timing_object(r.timing, arena);
    if (!tv) return tv.error();
    auto timers = decode_timers(tv->as_object().at("timers"));
    if (!timers) return timers.error();
    auto clocks = decode_clocks(tv->as_object().at("clocks"));
    if (!clocks) return clocks.error();
    s.timers = std::move(timers.value());
    s.clocks = std::move(clocks.value());
  }
  return s;
}

}  // namespace

Result<DossierState> decode_dossier(const Definition& def, const Directory& dir, const DossierRecord& r) {
  try {
    return decode_dossier_unchecked(def, dir, r);
  } catch (const std::exception& ex) {
    return bad(fmt::format("dossier {}: malformed projection: {}", r.id, ex.what()));
  }
}

Result<std::vector<LegalClock>> timing_clocks(std::string_view timing) {
  if (timing.empty()) return std::vector<LegalClock>{};
  unsigned char buffer[4096];  // a projection's timing is small: its tree on the stack, spilling to the heap
  json::monotonic_resource arena(buffer, sizeof buffer);
  auto tv = timing_object(timing, arena);
  if (!tv) return tv.error();
  return decode_clocks(tv->as_object().at("clocks"));
}

namespace {

// Reads a list of two-key objects in the exact shape json::serialize gives it, [{"<a>":"<x>","<b>":"<y>"},...],
// with every string printable ASCII without escapes (those are the strings encode_event writes there), and
// calls fn(x, y) for each object once the whole list is read; false, having called nothing, when `list` is in
// any other shape (the JSON parser then decides). What this accepts, the parser reads to the same strings.
template <typename Fn>
bool read_pairs_exactly(std::string_view list, std::string_view a, std::string_view b, Fn&& fn) {
  thread_local std::vector<std::pair<std::string_view, std::string_view>> pairs;  // reused: no allocation
  pairs.clear();
  std::size_t at = 0;
  auto literal = [&](std::string_view x) {
    if (list.substr(at, x.size()) != x) return false;
    at += x.size();
    return true;
  };
  auto key = [&](std::string_view k) { return literal("\"") && literal(k) && literal("\":\""); };
  auto string = [&](std::string_view& out) {  // after the opening quote, up to and past the closing one
    const std::size_t begin = at;
    for (; at < list.size() && list[at] != '"'; ++at)
      if (list[at] < 0x20 || list[at] > 0x7e || list[at] == '\\') return false;
    if (at == list.size()) return false;
    out = list.substr(begin, at++ - begin);
    return true;
  };
  if (!literal("[")) return false;
  if (!literal("]")) {
    for (;;) {
      std::string_view x, y;
      if (!literal("{") || !key(a) || !string(x) || !literal(",") || !key(b) || !string(y) || !literal("}"))
        return false;
      pairs.emplace_back(x, y);
      if (literal("]")) break;
      if (!literal(",")) return false;
    }
  }
  for (const auto& [x, y] : pairs) fn(x, y);
  return true;
}

// Passes the list that `text` (a JSON object written by encode_event or encode_dossier) holds under the key
// `pattern` ("\"<key>\":[") to `read_exactly` (see read_pairs_exactly), or, when that refuses it, parsed, to
// `read_parsed`; does nothing when there is no such key. Only the list is read (audit verify runs this for
// every event): the key is found in the text. Keys are written without escapes, and a quote inside a string
// value is escaped, so the pattern can only be a key; no field value is a list and no nested object uses the
// keys looked up here, so it is the top-level one. Fails with `malformed` when the list is not complete JSON.
template <typename ReadExactly, typename ReadParsed>
Status with_listed(std::string_view text, std::string_view pattern, const char* malformed, ReadExactly&& read_exactly,
                   ReadParsed&& read_parsed) {
  const auto at = find_in_json(text, pattern);
  if (at == std::string_view::npos) return Status::Ok();
  const std::string_view list = text.substr(at + pattern.size() - 1);
  if (read_exactly(list)) return Status::Ok();
  // The lists are small: the parser's stack and the values live in stack buffers rather than the heap.
  unsigned char values[2048], stack[512];
  json::monotonic_resource arena(values, sizeof values);
  json::parser p(&arena, {}, stack, sizeof stack);
  boost::system::error_code ec;
  p.write_some(list.data(), list.size(), ec);
  if (ec) return bad(malformed);  // an incomplete list is an error too
  return read_parsed(p.release());
}

}  // namespace

Status visit_listed_timers(std::string_view text, const std::function<void(std::string_view name, Timestamp due)>& fn) {
  return with_listed(
      text, "\"timers\":[", "malformed timers",
      [&](std::string_view list) {
        thread_local std::vector<std::pair<std::string_view, Timestamp>> timers;
        timers.clear();
        bool all_due = true;  // a due time that does not parse is left to decode_timers' error
        const bool read = read_pairs_exactly(list, "name", "due", [&](std::string_view name, std::string_view due) {
          auto t = parse_utc(due);
          all_due = all_due && t;
          timers.emplace_back(name, t.value_or(Timestamp{}));
        });
        if (!read || !all_due) return false;
        for (const auto& [name, due] : timers) fn(name, due);
        return true;
      },
      [&](const json::value& list) -> Status {
        auto timers = decode_timers(list);
        if (!timers) return timers.error();
        for (const auto& t : *timers) fn(t.name, t.due);
        return Status::Ok();
      });
}

Result<std::vector<TimerRecord>> listed_timer_rows(DossierId id, std::string_view text) {
  std::vector<TimerRecord> out;
  Status st = visit_listed_timers(text, [&](std::string_view name, Timestamp due) {
    out.push_back(TimerRecord{format_utc(due), id, std::string(name)});
  });
  if (!st) return st.error();
  return out;
}

Status visit_listed_notices(std::string_view payload,
                            const std::function<void(std::string_view to, std::string_view template_key)>& fn) {
  return with_listed(
      payload, "\"notices\":[", "malformed notices",
      [&](std::string_view list) { return read_pairs_exactly(list, "to", "template", fn); },
      [&](const json::value& list) -> Status {
        for (const auto& item : list.as_array()) {
          const auto* o = item.if_object();
          const auto* to = o ? o->if_contains("to") : nullptr;
          const auto* t = o ? o->if_contains("template") : nullptr;
          if (!to || !t || !to->is_string() || !t->is_string()) return bad("malformed notice");
          fn(std::string_view(to->as_string()), std::string_view(t->as_string()));
        }
        return Status::Ok();
      });
}

Result<std::vector<Event::Notice>> listed_notices(std::string_view payload) {
  std::vector<Event::Notice> out;
  Status st = visit_listed_notices(payload, [&](std::string_view to, std::string_view template_key) {
    out.push_back(Event::Notice{std::string(to), std::string(template_key)});
  });
  if (!st) return st.error();
  return out;
}

}  // namespace hoso
