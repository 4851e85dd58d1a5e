// The `hoso` command line. Exit codes are part of the contract (README):
//   0 ok · 1 internal error · 2 usage or invalid input · 3 not found · 4 not permitted
//   5 refused by a rule · 6 version conflict · 7 invalid definition or config · 8 verification failed
#pragma once
#include <iosfwd>

namespace hoso::cli {

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace hoso::cli
