// The HTTP API as a function from a request to a response, with no socket in sight: `hoso serve` feeds it
// what Beast parsed, and tests call it directly. Every route authenticates (except /health and
// /openapi.json), maps the request onto the command service and renders the same JSON shapes as the CLI.
// Errors are JSON {"error": {"code", "message" (Vietnamese), "reason"?, "subject"?}} with a stable code.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "adapters/runtime/app.hpp"

namespace hoso::http {

struct Request {
  std::string method;         // GET, POST, ...
  std::string target;         // path and query, e.g. /dossiers?state=intake&page=2
  std::string authorization;  // the Authorization header, "" when absent
  std::string body;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
  // For the server's log: who was refused what and why (set on 401/403), in English.
  std::string denied;
  // On a 405: the methods the path takes (the Allow header).
  std::string allow;
};

// The HTTP status for an error code (and reason): 400, 401, 403, 404, 405, 409, 422, 500 or 507.
int status_of(const Error& e);
// The JSON error answer for `e`: {"error": {code, message, reason, subject}} with status_of(e).
Response error_response(const Error& e);

class Api {
 public:
  explicit Api(App& app) : app_(app) {}
  Response handle(const Request& req);

 private:
  App& app_;
};

// The OpenAPI 3 document of the routes above, served at /openapi.json.
const char* openapi_json();

}  // namespace hoso::http
