#include <iostream>

#include "adapters/cli/cli.hpp"

int main(int argc, char** argv) { return hoso::cli::run(argc, argv, std::cout, std::cerr); }
