// The HTTP API as a function from a request to a response, with no socket in sight: `hoso serve` feeds it
// what Beast parsed, and tests call it directly. Every route authenticates (except /health and
// /openapi.json), maps the request onto the command service and renders the same JSON shapes as the CLI.
// Errors are JSON {"error": {"code", "message" (Vietnamese), "reason"?, "subject"?}} with a stable code.
#pragma once
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/runtime/app.hpp"

namespace hoso::http {

// What the body of a create (POST /dossiers) or of an action (POST /dossiers/{id}/actions/{action}) asks:
// the workflow and award of a create, and the command's input; refused (400) for a key the route does not
// take, a wrong type or a missing workflow or award, checked in that order.
struct CommandBody {
  std::string workflow, award;  // a create's
  RawInput input;
};

// A request body parsed as JSON ahead of time (see parse_body). The tree is in `resource`, first in the
// struct's own buffer (a command's body fits), so it is built without an allocation per node and freed
// at once; nothing taken from it outlives the request.
struct ParsedBody {
  ParsedBody();  // user-provided, so that make_shared does not zero the buffer first
  ParsedBody(const ParsedBody&) = delete;
  ParsedBody& operator=(const ParsedBody&) = delete;
  unsigned char buffer[8192];
  boost::json::monotonic_resource resource{buffer, sizeof buffer};
  boost::json::value value =
      boost::json::value(boost::json::storage_ptr(&resource));  // moved into: kept there
  boost::system::error_code error;  // set: the body is not JSON
  // The body mapped onto a create's or an action's input when the target names one of those routes (the
  // result the route would reach itself, error included); unset for any other target. Taken (moved out) by
  // the route that runs the request: were it run again, it would map the tree again.
  mutable std::optional<Result<CommandBody>> command;
};

struct Request {
  std::string method;         // GET, POST, ...
  std::string target;         // path and query, e.g. /dossiers?state=intake&page=2
  std::string authorization;  // the Authorization header, "" when absent
  std::string body;
  // `body` already parsed (by the server's loop thread, so that the engine does not); when null the API
  // parses the body itself. Either way it is looked at only after authentication, in the same order.
  std::shared_ptr<const ParsedBody> parsed = nullptr;
};

// `body` parsed as JSON, for Request::parsed, and mapped onto a command's input when `target` is a create's
// or an action's path (ParsedBody::command).
std::shared_ptr<const ParsedBody> parse_body(const std::string& body, std::string_view target = {});

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
  // For the server's log: who was refused what and why (set on 401/403), in English.
  std::string denied;
  // For the server's log: the config read again (hoso init changed it) before answering, or why it could not
  // be, in English.
  std::string note;
  // On a 405: the methods the path takes (the Allow header).
  std::string allow;
  // Set by an Api that defers rendering (see Api): writes `body`, once, on the thread that sends the answer.
  std::function<std::string()> render;
};

// Writes a deferred body (Response::render) into `r.body`; nothing when there is none.
void finish(Response& r);

// The HTTP status for an error code (and reason): 400, 401, 403, 404, 405, 409, 422, 500, 503 or 507.
int status_of(const Error& e);
// The JSON error answer for `e`: {"error": {code, message, reason, subject}} with status_of(e).
Response error_response(const Error& e);

class Api {
 public:
  // With `defer_rendering`, a command's answer is left for Response::render (finish()) to write, so that the
  // thread that runs commands does not spend its time on it; without, every answer comes with its body.
  explicit Api(App& app, bool defer_rendering = false) : app_(app), defer_rendering_(defer_rendering) {}
  Response handle(const Request& req);

 private:
  App& app_;
  bool defer_rendering_ = false;
};

// The OpenAPI 3 document of the routes above, served at /openapi.json.
const char* openapi_json();

}  // namespace hoso::http
