// How a JSON problem reads in an error message, wherever JSON is parsed (config.json, the
// safetensors header, trainer.json, metrics, attention payloads, the server's requests).
#pragma once

#include <exception>
#include <string>

namespace attnscope {

// nlohmann::json's message without its "[json.exception.parse_error.101] " prefix, e.g.
// "parse error at line 3, column 18: syntax error while parsing object key - …": the user needs
// the line and the reason, not the library's error number. Other exceptions' what() unchanged.
std::string json_error_text(const std::exception& e);

}  // namespace attnscope
