// Draws a compiled definition: Mermaid state diagram, Graphviz dot, or JSON. Pure.
#pragma once
#include <string>

#include "engine/definition.hpp"

namespace hoso {

std::string to_mermaid(const Definition& def);
std::string to_dot(const Definition& def);
// {name, title, hash, states:[{id,title,initial,terminal,holder,vote?}],
// transitions:[{action,kind,from,to,roles,at,when}]}
std::string to_json(const Definition& def);

}  // namespace hoso
