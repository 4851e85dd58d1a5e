// The OpenAPI 3 document of the HTTP API (adapters/http/api.cpp), served at /openapi.json.
#include "adapters/http/api.hpp"

namespace hoso::http {

const char* openapi_json() {
  return R"json({
  "openapi": "3.0.3",
  "info": {"title": "hoso", "version": "1.0",
           "description": "Hồ sơ đề nghị khen thưởng — phong trào Toàn dân bảo vệ an ninh Tổ quốc. Mọi đường dẫn trừ /health và /openapi.json cần Authorization: Bearer <mã> (hoso users token NGƯỜI_DÙNG). Mọi đường dẫn GET cũng nhận HEAD (chỉ trả phần đầu); một đường dẫn có thật gọi bằng phương thức khác được trả 405, tiêu đề Allow liệt kê các phương thức nó nhận. Những gì hoso init thay đổi (cơ quan, người dùng, quy trình, lịch làm việc, mẫu thông báo) có hiệu lực từ yêu cầu kế tiếp, không cần khởi động lại máy chủ; nếu cấu hình đã lưu không đọc được, các yêu cầu cần mã được trả 503 (reason config_unreadable) cho đến khi sửa xong. Nếu không ghi được nhật ký xuống đĩa, các yêu cầu đang chờ được trả 503 (reason log_not_durable: không biết lệnh đã được lưu hay chưa) và máy chủ dừng lại."},
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "schemas": {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string", "enum": ["internal", "invalid_input", "not_found", "not_permitted", "refused", "version_conflict", "invalid_definition", "verify_failed"]},
        "message": {"type": "string", "description": "tiếng Việt"}, "reason": {"type": "string"}, "subject": {"type": "string"}}}}},
      "Document": {"type": "object", "required": ["kind", "filename", "sha256", "size"], "properties": {
        "kind": {"type": "string"}, "filename": {"type": "string"}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}, "size": {"type": "integer", "minimum": 0}}},
      "Command": {"type": "object", "additionalProperties": false, "properties": {
        "fields": {"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}},
        "documents": {"type": "array", "items": {"$ref": "#/components/schemas/Document"}},
        "note": {"type": "string", "maxLength": 16384}, "ballot": {"type": "string", "enum": ["yes", "no", "abstain"]},
        "expected_version": {"type": "integer", "minimum": 0},
        "on_behalf_of": {"type": "string", "minLength": 1, "description": "thay mặt người dùng này (người đã ủy quyền cho chủ mã trong config/users.yaml, mục delegates, còn hiệu lực vào ngày thao tác); quyền được xét theo vai trò và cơ quan của người ủy quyền, sự kiện ghi người thao tác là chủ mã và payload.on_behalf_of"}}},
      "Create": {"allOf": [{"$ref": "#/components/schemas/Command"}], "required": ["workflow", "award"], "properties": {"workflow": {"type": "string"}, "award": {"type": "string"}}},
      "Outcome": {"type": "object", "properties": {"id": {"type": "integer"}, "version": {"type": "integer"}, "state": {"type": "string"}, "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
      "Event": {"type": "object", "description": "như hoso history --json", "properties": {"seq": {"type": "integer"}, "type": {"type": "string"}, "at": {"type": "string"}, "actor": {"type": "object"}, "action": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}, "holder": {"type": "string"}, "note": {"type": "string"}, "payload": {"type": "object"}, "on_behalf_of": {"type": "string", "description": "người được thay mặt (chỉ có khi thao tác theo ủy quyền; cũng ở payload)"}, "hash": {"type": "string"}}},
      "Dossier": {"type": "object", "description": "như hoso dossier show --json", "properties": {"id": {"type": "integer"}, "workflow": {"type": "string"}, "award": {"type": "string"}, "state": {"type": "string"}, "holder": {"type": "string"}, "status": {"type": "string"}, "version": {"type": "integer"}, "overdue": {"type": "boolean"}, "fields": {"type": "object"}, "documents": {"type": "array"}, "deadlines": {"type": "array"}, "actions": {"type": "array", "items": {"type": "string"}}}}
    },
    "responses": {
      "Error": {"description": "lỗi", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "security": [{"bearer": []}],
  "paths": {
    "/health": {"get": {"security": [], "responses": {"200": {"description": "sẵn sàng"}}}},
    "/openapi.json": {"get": {"security": [], "responses": {"200": {"description": "tài liệu này"}}}},
    "/dossiers": {
      "post": {"summary": "Lập hồ sơ", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Create"}}}},
               "responses": {"201": {"description": "đã lập", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outcome"}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}, "507": {"description": "máy chủ hết chỗ ghi (đĩa đầy): không có gì của lệnh được lưu, thử lại sau", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}},
      "get": {"summary": "Tìm hồ sơ trong phạm vi được xem", "parameters": [
                {"name": "workflow", "in": "query", "schema": {"type": "string"}}, {"name": "state", "in": "query", "schema": {"type": "string"}},
                {"name": "holder", "in": "query", "schema": {"type": "string"}}, {"name": "award", "in": "query", "schema": {"type": "string"}},
                {"name": "overdue", "in": "query", "schema": {"type": "boolean"}}, {"name": "jurisdiction", "in": "query", "schema": {"type": "string"}},
                {"name": "q", "in": "query", "schema": {"type": "string"}}, {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
              "responses": {"200": {"description": "một trang", "content": {"application/json": {"schema": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Dossier"}}, "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"}}}}}}, "400": {"$ref": "#/components/responses/Error"}}}},
    "/dossiers/{id}": {"get": {"summary": "Xem hồ sơ", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
      "responses": {"200": {"description": "hồ sơ", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Dossier"}}}}, "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/dossiers/{id}/actions/{action}": {"post": {"summary": "Thao tác trên hồ sơ", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}, {"name": "action", "in": "path", "required": true, "schema": {"type": "string"}}],
      "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Command"}}}},
      "responses": {"200": {"description": "đã ghi", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Outcome"}}}}, "403": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}, "507": {"description": "máy chủ hết chỗ ghi (đĩa đầy): không có gì của lệnh được lưu, thử lại sau", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
    "/dossiers/{id}/history": {"get": {"summary": "Lịch sử", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}], "responses": {"200": {"description": "các sự kiện", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}}}}}},
    "/dossiers/{id}/replay": {"get": {"summary": "Dựng lại từ lịch sử", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}], "responses": {"200": {"description": "kết quả", "content": {"application/json": {"schema": {"type": "object", "properties": {"ok": {"type": "boolean"}, "events": {"type": "integer"}, "failure": {"type": "string"}}}}}}}}},
    "/inbox": {"get": {"summary": "Hồ sơ đang chờ người dùng", "parameters": [{"name": "on_behalf_of", "in": "query", "schema": {"type": "string", "minLength": 1}, "description": "hồ sơ chờ người đã ủy quyền cho chủ mã"}], "responses": {"200": {"description": "hồ sơ", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Dossier"}}}}}}}},
    "/calendar/add": {"get": {"summary": "Cộng ngày làm việc", "parameters": [{"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}}, {"name": "days", "in": "query", "required": true, "schema": {"type": "integer"}}], "responses": {"200": {"description": "hạn"}}}},
    "/calendar/between": {"get": {"summary": "Số ngày làm việc giữa hai ngày", "parameters": [{"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}}, {"name": "to", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}}], "responses": {"200": {"description": "số ngày"}}}},
    "/reports/status": {"get": {"summary": "Tình hình báo cáo năm", "parameters": [{"name": "year", "in": "query", "required": true, "schema": {"type": "integer"}}, {"name": "jurisdiction", "in": "query", "schema": {"type": "string"}}], "responses": {"200": {"description": "các nghĩa vụ báo cáo"}}}}
  }
})json";
}

}  // namespace hoso::http
