// A logical dump of every table of an SQLite file (schema and rows, in key order), to check that a
// refused command left the database exactly as it was.
#pragma once
#include <sqlite3.h>

#include <string>
#include <vector>

namespace hoso::testing {

inline std::string dump_database(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "<cannot open>";
  }
  std::string out;
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT name, sql FROM sqlite_master ORDER BY type, name", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const auto* name = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    const auto* sql = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    out += std::string(name ? name : "") + ": " + (sql ? sql : "") + "\n";
    if (sql && std::string(sql).rfind("CREATE TABLE", 0) == 0) tables.emplace_back(name);
  }
  sqlite3_finalize(st);
  for (const auto& t : tables) {
    // Table names come from sqlite_master of our own file, quoted as identifiers.
    const std::string q = "SELECT * FROM \"" + t + "\" ORDER BY 1";
    if (sqlite3_prepare_v2(db, q.c_str(), -1, &st, nullptr) != SQLITE_OK) continue;
    const int cols = sqlite3_column_count(st);
    while (sqlite3_step(st) == SQLITE_ROW) {
      out += t + "|";
      for (int i = 0; i < cols; ++i) {
        const auto* v = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
        out += (v ? v : "NULL");
        out += "|";
      }
      out += "\n";
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

}  // namespace hoso::testing
