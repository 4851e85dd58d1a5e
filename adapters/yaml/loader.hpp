// YAML adapter: reads config/orgs.yaml, config/users.yaml, config/awards.yaml and workflows/*.yaml
// (format: workflows/FORMAT.md) into the engine's *Spec structs, with a source location on every
// value. Parsing works on text, because definitions are recompiled from the source text stored in
// the database; read_text_file is the file-system edge.
//
// Every function here reports problems as diagnostics ("file:line:col: error: message", 1-based
// line and column, columns counted in bytes like yaml-cpp) and never throws. An output parameter
// is meaningful only when no diagnostic was returned.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "engine/definition.hpp"
#include "engine/directory.hpp"
#include "engine/result.hpp"

namespace hoso::yaml {

// Reads a whole file. kNotFound when it does not exist; kInvalidInput when it is not a regular
// file, is larger than 16 MiB, or is not UTF-8 (the message names the file, the line and column of
// the first bad byte and its byte offset); kInternal on an I/O error.
Result<std::string> read_text_file(const std::string& path);

// An org or a user as written, with the location of each value (for check_directory).
struct OrgSource {
  Str key, name, kind, parent;  // parent: empty (line 0) when absent
  SourceLoc loc;                // the entry
};
// One entry of a user's `delegates`: who may act for them, from and until which day, why.
struct DelegationSource {
  Str user, from, until, reason;  // reason: empty (line 0) when absent
  SourceLoc loc;                  // the entry
};
struct UserSource {
  Str key, name, email, org;
  std::vector<Str> roles;
  bool active = true;  // `active: false`: kept for history, may no longer act or read
  std::vector<DelegationSource> delegates;
  SourceLoc loc;
};
OrgSpec to_spec(const OrgSource& o);
UserSpec to_spec(const UserSource& u);

// Shape only (keys, node types, required keys). Entries that are malformed are left out of `out`.
// When `located` is given it receives the same entries with their locations, in the same order.
std::vector<Diagnostic> parse_orgs(std::string_view text, const std::string& file, std::vector<OrgSpec>& out,
                                   std::vector<OrgSource>* located = nullptr);
std::vector<Diagnostic> parse_users(std::string_view text, const std::string& file,
                                    std::vector<UserSpec>& out, std::vector<UserSource>* located = nullptr);

// Location-aware validation of the org tree and the users together: ids (empty, charset,
// duplicates), empty names, unknown kinds, unknown parents, no or several roots, a non-central
// root, parent cycles, agencies not directly under their level node (FORMAT.md), users of unknown
// orgs, unknown or repeated roles, users without roles, invalid email shape, delegates (unknown user, the
// user themself, a date that is not YYYY-MM-DD, from after until, the same delegate for overlapping
// periods). Every problem found
// is reported, not just the first. When this returns nothing, Directory::build succeeds.
std::vector<Diagnostic> check_directory(const std::vector<OrgSource>& orgs,
                                        const std::vector<UserSource>& users);

// parse_orgs + parse_users + check_directory (the check runs only when both files parse).
std::vector<Diagnostic> load_directory(std::string_view orgs_text, const std::string& orgs_file,
                                       std::string_view users_text, const std::string& users_file,
                                       std::vector<OrgSpec>& orgs, std::vector<UserSpec>& users);

// config/awards.yaml. Shape only; check_catalogue (engine) validates the content.
std::vector<Diagnostic> parse_catalogue(std::string_view text, const std::string& file, CatalogueSpec& out);

// workflows/*.yaml. Shape only; compile_definition (engine) validates the content.
// Optional keys that have an engine default are filled in when absent, located at the entry that
// omits them: transition `at` → "holder"; vote `denominator` → "members", `quorum_percent` → 0,
// `close_role` → "clerk"; holder `within` → "" located at the holder. Other absent optional
// strings are empty with line 0.
// Clauses take `id`, `expr`, `message` and an optional `applies_if` (a precondition expression).
// A clause's `expr` (and `applies_if`) is located at the first character of the expression text (after the
// opening quote of a quoted scalar; on the first content line of a block scalar), so that a column reported
// by the expression compiler maps to `expr.loc.col + column - 1`.
std::vector<Diagnostic> parse_workflow(std::string_view text, const std::string& file, WorkflowSpec& out);

}  // namespace hoso::yaml
