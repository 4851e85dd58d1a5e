// The OpenAPI 3 document of the HTTP API (adapters/http/api.cpp), served at /openapi.json.
#include "adapters/http/api.hpp"

namespace hoso::http {

const char* openapi_json() {
  return R"json({
  "openapi": "3.0.3",
  "info": {"title": "hoso", "version": "1.0",
           "description": "Hồ sơ đề nghị khen thưởng — phong trào Toàn dân bảo vệ an ninh Tổ quốc. Mọi đường dẫn trừ /health và /openapi.json cần Authorization: Bearer <mã> (hoso users token NGƯỜI_DÙNG; mã hết hạn sau 90 ngày trừ khi được cấp với --expires-in khác, hết hạn thì được trả 401 reason expired_token; tên lược đồ Bearer viết hoa hay thường đều được); thiếu mã hoặc mã không dùng được thì được trả 401 (tiêu đề WWW-Authenticate: Bearer) trước khi xét đường dẫn và phương thức. Với mã hợp lệ: đường dẫn không có được trả 404 (reason no_route); mọi đường dẫn GET cũng nhận HEAD (chỉ trả phần đầu); một đường dẫn có thật gọi bằng phương thức khác được trả 405 (reason method_not_allowed), tiêu đề Allow liệt kê các phương thức nó nhận. Phần thân quá giới hạn được trả 413 (kể cả khi gửi theo từng phần — Transfer-Encoding: chunked), phần đầu quá lớn 431; sau một câu trả lời lỗi, máy chủ đọc bỏ phần yêu cầu còn lại (tối đa 5 giây) rồi mới đóng kết nối. Mọi lỗi là JSON dạng Error (lỗi nội bộ: 500). Những gì hoso init thay đổi (cơ quan, người dùng, quy trình, lịch làm việc, mẫu thông báo) có hiệu lực từ yêu cầu kế tiếp, không cần khởi động lại máy chủ; nếu cấu hình đã lưu không đọc được, các yêu cầu cần mã được trả 503 (reason config_unreadable) cho đến khi sửa xong. Nếu không ghi được nhật ký xuống đĩa, các yêu cầu đang chờ được trả 503 (reason log_not_durable: không biết lệnh đã được lưu hay chưa) và máy chủ dừng lại. Khi số kết nối đang mở đã đến giới hạn (max_connections), một kết nối mới được trả ngay 503 (reason too_many_connections) rồi đóng: hãy thử lại sau giây lát."},
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string", "enum": ["internal", "invalid_input", "not_found", "not_permitted", "refused", "version_conflict", "invalid_definition", "verify_failed"]},
        "message": {"type": "string", "description": "tiếng Việt"},
        "reason": {"type": "string", "description": "lý do ổn định cho máy đọc, ví dụ: malformed_json, wrong_type, unknown_key, missing_key, empty_value, bad_number, bad_date, bad_query, bad_target, note_too_long, no_token, unknown_token, revoked_token, expired_token, inactive_user, not_permitted, auditor_read_only, not_a_delegate, no_route, method_not_allowed, unknown_org, unknown_workflow, unknown_dossier, version_conflict, guard_failed, field_missing, field_not_accepted, note_required, dossier_closed, no_such_action, already_voted, quorum_not_met, config_unreadable, log_not_durable, too_many_connections, storage_full"},
        "subject": {"type": "string", "description": "điều khoản, trường, tài liệu, trạng thái hoặc phiên bản liên quan"}}}}},
      "Document": {"type": "object", "required": ["kind", "filename", "sha256", "size"], "properties": {
        "kind": {"type": "string"}, "filename": {"type": "string"}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "size": {"type": "integer", "minimum": 0}}},
      "Fields": {"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}, "description": "theo định nghĩa quy trình của hồ sơ: true/false, YYYY-MM-DD, số nguyên, giá trị liệt kê, văn bản UTF-8"},
      "Note": {"type": "string", "description": "ghi chú, tối đa 16384 byte UTF-8 (một chữ có dấu chiếm 2–3 byte); dài hơn: 400 note_too_long"},
      "OnBehalfOf": {"type": "string", "minLength": 1, "description": "thay mặt người dùng này (người đã ủy quyền cho chủ mã trong config/users.yaml, mục delegates, còn hiệu lực vào ngày thao tác); quyền được xét theo vai trò và cơ quan của người ủy quyền, sự kiện ghi người thao tác là chủ mã và payload.on_behalf_of"},
      "Command": {"type": "object", "additionalProperties": false, "properties": {
        "fields": {"$ref": "#/components/schemas/Fields"},
        "documents": {"type": "array", "items": {"$ref": "#/components/schemas/Document"}},
        "note": {"$ref": "#/components/schemas/Note"}, "ballot": {"type": "string", "enum": ["yes", "no", "abstain"]},
        "expected_version": {"type": "integer", "minimum": 0, "description": "phiên bản hồ sơ người gửi đã thấy; khác phiên bản hiện tại: 409"},
        "on_behalf_of": {"$ref": "#/components/schemas/OnBehalfOf"}}},
      "Create": {"type": "object", "additionalProperties": false, "required": ["workflow", "award"], "properties": {
        "workflow": {"type": "string"}, "award": {"type": "string"},
        "fields": {"$ref": "#/components/schemas/Fields"},
        "documents": {"type": "array", "items": {"$ref": "#/components/schemas/Document"}},
        "note": {"$ref": "#/components/schemas/Note"},
        "on_behalf_of": {"$ref": "#/components/schemas/OnBehalfOf"}}},
      "Outcome": {"type": "object", "properties": {"id": {"type": "integer"}, "version": {"type": "integer"}, "state": {"type": "string"}, "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
      "Event": {"type": "object", "description": "như hoso history --json", "properties": {"seq": {"type": "integer"}, "type": {"type": "string"}, "at": {"type": "string"}, "actor": {"type": "object"}, "action": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}, "holder": {"type": "string"}, "note": {"type": "string"}, "payload": {"type": "object", "description": "ở các sự kiện NotificationDelivered, NotificationFailed, NotificationDeadLettered: payload.delivery gồm notification, channel, to, template, attempt, error, retry_at, và left_out — những người nhận mà máy chủ thư từ chối hẳn trong khi những người khác đã nhận, kèm câu trả lời của máy chủ"}, "on_behalf_of": {"type": "string", "description": "người được thay mặt (chỉ có khi thao tác theo ủy quyền; cũng ở payload)"}, "hash": {"type": "string"}}},
      "Dossier": {"type": "object", "description": "như hoso dossier show --json", "properties": {"id": {"type": "integer"}, "workflow": {"type": "string"}, "award": {"type": "string"}, "state": {"type": "string"}, "holder": {"type": "string"}, "status": {"type": "string"}, "version": {"type": "integer"}, "overdue": {"type": "boolean"}, "fields": {"type": "object"}, "documents": {"type": "array"}, "deadlines": {"type": "array"}, "actions": {"type": "array", "items": {"type": "string"}}}}
    },
    "parameters": {
      "id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}, "description": "số hồ sơ; không phải số nguyên dương: 400 bad_number"}
    },
    "responses": {
      "Error": {"description": "lỗi", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "BadRequest": {"description": "yêu cầu sai: JSON hỏng, sai kiểu, khóa hay tham số không được biết, thiếu khóa, số hay ngày không hợp lệ", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unauthorized": {"description": "thiếu mã, mã không hợp lệ, đã thu hồi, hoặc người dùng không còn hoạt động", "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer realm=\"hoso\""}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Forbidden": {"description": "không có quyền: ngoài phạm vi được xem, sai cơ quan hay vai trò, kiểm tra viên không được ghi, ủy quyền không hợp lệ", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "NotFound": {"description": "không có hồ sơ, quy trình, cơ quan hay đường dẫn này", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Conflict": {"description": "expected_version khác phiên bản hiện tại (subject: phiên bản hiện tại); không có gì được ghi", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "TooLarge": {"description": "phần thân vượt giới hạn của máy chủ (reason body_too_large), hoặc một dòng khai báo phần nội dung (chunked) hay phần đuôi quá dài (reason request_too_large)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unprocessable": {"description": "quy tắc của quy trình từ chối: điều kiện, tài liệu hay trường còn thiếu, trạng thái không cho thao tác này, hồ sơ đã đóng", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unavailable": {"description": "cấu hình đã lưu không đọc được (config_unreadable), nhật ký không ghi được xuống đĩa (log_not_durable), hoặc đã đến giới hạn số kết nối (too_many_connections)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "DiskFull": {"description": "máy chủ hết chỗ ghi (đĩa đầy): không có gì của lệnh được lưu, thử lại sau", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "security": [{"bearer": []}],
  "paths": {
    "/health": {"get": {"security": [], "responses": {"200": {"description": "sẵn sàng: {\"status\": \"ok\"}"}, "503": {"description": "không đọc được cơ sở dữ liệu: {\"status\": \"unavailable\"}"}}}},
    "/openapi.json": {"get": {"security": [], "responses": {"200": {"description": "tài liệu này"}}}},
    "/dossiers": {
      "post": {"summary": "Lập hồ sơ", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Create"}}}},
               "responses": {"201": {"description": "đã lập", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outcome"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}, "413": {"$ref": "#/components/responses/TooLarge"}, "422": {"$ref": "#/components/responses/Unprocessable"}, "503": {"$ref": "#/components/responses/Unavailable"}, "507": {"$ref": "#/components/responses/DiskFull"}}},
      "get": {"summary": "Tìm hồ sơ trong phạm vi được xem", "parameters": [
                {"name": "workflow", "in": "query", "schema": {"type": "string"}}, {"name": "state", "in": "query", "schema": {"type": "string"}},
                {"name": "holder", "in": "query", "schema": {"type": "string"}}, {"name": "award", "in": "query", "schema": {"type": "string"}},
                {"name": "overdue", "in": "query", "schema": {"type": "boolean"}}, {"name": "jurisdiction", "in": "query", "schema": {"type": "string"}, "description": "một cơ quan hay địa bàn; không có: 404 unknown_org"},
                {"name": "q", "in": "query", "schema": {"type": "string"}}, {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1}},
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}],
              "responses": {"200": {"description": "một trang", "content": {"application/json": {"schema": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Dossier"}}, "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"}}}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/dossiers/{id}": {"get": {"summary": "Xem hồ sơ", "parameters": [{"$ref": "#/components/parameters/id"}],
      "responses": {"200": {"description": "hồ sơ", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dossier"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/dossiers/{id}/actions/{action}": {"post": {"summary": "Thao tác trên hồ sơ", "parameters": [{"$ref": "#/components/parameters/id"}, {"name": "action", "in": "path", "required": true, "schema": {"type": "string"}, "description": "một thao tác của quy trình (submit, accept, ...); không có: 400 unknown_action"}],
      "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Command"}}}},
      "responses": {"200": {"description": "đã ghi", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outcome"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}, "413": {"$ref": "#/components/responses/TooLarge"}, "422": {"$ref": "#/components/responses/Unprocessable"}, "503": {"$ref": "#/components/responses/Unavailable"}, "507": {"$ref": "#/components/responses/DiskFull"}}}},
    "/dossiers/{id}/history": {"get": {"summary": "Lịch sử", "parameters": [{"$ref": "#/components/parameters/id"}], "responses": {"200": {"description": "các sự kiện", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/dossiers/{id}/replay": {"get": {"summary": "Dựng lại từ lịch sử", "parameters": [{"$ref": "#/components/parameters/id"}], "responses": {"200": {"description": "kết quả", "content": {"application/json": {"schema": {"type": "object", "properties": {"ok": {"type": "boolean"}, "events": {"type": "integer"}, "failure": {"type": "string"}}}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/inbox": {"get": {"summary": "Hồ sơ đang chờ người dùng", "parameters": [{"name": "on_behalf_of", "in": "query", "schema": {"type": "string", "minLength": 1}, "description": "hồ sơ chờ người đã ủy quyền cho chủ mã; người không có: 400, không ủy quyền cho chủ mã: 403 not_a_delegate"}], "responses": {"200": {"description": "hồ sơ", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Dossier"}}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/calendar/add": {"get": {"summary": "Cộng ngày làm việc", "parameters": [{"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}}, {"name": "days", "in": "query", "required": true, "schema": {"type": "integer", "minimum": 0, "maximum": 10000}}], "responses": {"200": {"description": "hạn: {from, days, due, due_end_utc}"}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/calendar/between": {"get": {"summary": "Số ngày làm việc giữa hai ngày", "parameters": [{"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}}, {"name": "to", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}}], "responses": {"200": {"description": "số ngày: {from, to, working_days}"}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "503": {"$ref": "#/components/responses/Unavailable"}}}},
    "/reports/status": {"get": {"summary": "Tình hình báo cáo năm", "parameters": [{"name": "year", "in": "query", "required": true, "schema": {"type": "integer", "minimum": 2000, "maximum": 2199}}, {"name": "jurisdiction", "in": "query", "schema": {"type": "string"}, "description": "không có: 404 unknown_org"}], "responses": {"200": {"description": "các nghĩa vụ báo cáo"}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}, "503": {"$ref": "#/components/responses/Unavailable"}}}}
  }
})json";
}

}  // namespace hoso::http
