#include "inspect/html_viewer.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/error.h"
#include "core/escape.h"
#include "core/json_error.h"
#include "inspect/viewer_assets.h"  // generated from src/inspect/viewer/ (see CMakeLists.txt)

namespace attnscope {

namespace {

// Replaces each {{NAME}} of the template by vars[NAME], in one pass over the template only (so
// text that is substituted in is never scanned for markers). Unknown markers stay as they are.
std::string fill_template(std::string_view tpl, const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t reserve = tpl.size();
  for (const auto& [name, value] : vars) reserve += value.size();
  out.reserve(reserve);
  size_t pos = 0;
  while (pos < tpl.size()) {
    const size_t open = tpl.find("{{", pos);
    if (open == std::string_view::npos) break;
    const size_t close = tpl.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    const auto it = vars.find(std::string(tpl.substr(open + 2, close - open - 2)));
    if (it == vars.end()) {
      out.append(tpl.substr(pos, open + 2 - pos));
      pos = open + 2;
      continue;
    }
    out.append(tpl.substr(pos, open - pos));
    out += it->second;
    pos = close + 2;
  }
  out.append(tpl.substr(pos));
  return out;
}

std::string page(const std::string& title, const std::string& payload, const std::string& config) {
  ATTN_CHECK(viewer_assets::kViewerJs.find("</script") == std::string_view::npos &&
                 viewer_assets::kViewerCss.find("</style") == std::string_view::npos,
             "the viewer's embedded script or style closes its own element");
  return fill_template(viewer_assets::kViewerHtml, {{"TITLE", escape_html(title)},
                                                    {"CSS", std::string(viewer_assets::kViewerCss)},
                                                    {"JS", std::string(viewer_assets::kViewerJs)},
                                                    {"PAYLOAD", payload},
                                                    {"CONFIG", escape_json_for_script(config)}});
}

}  // namespace

std::string attention_html(const std::string& attention_json_payload, const std::string& title) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(attention_json_payload);
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("the attention payload is not valid JSON: {}", json_error_text(e)));
  }
  ATTN_CHECK(j.is_object(), "the attention payload is not a JSON object");
  for (const char* key : {"source_tokens", "target_tokens", "weights"})
    ATTN_CHECK(j.contains(key), "the attention payload has no \"{}\" (is it an attention.json?)",
               key);
  ATTN_CHECK(j["weights"].is_object(), "the attention payload's \"weights\" is not an object");
  const nlohmann::json config = {{"mode", "static"}};
  return page(title, escape_json_for_script(attention_json_payload), config.dump());
}

std::string attention_live_html(const std::string& title, int64_t max_chars, int64_t max_beam) {
  const nlohmann::json config = {
      {"mode", "live"}, {"max_chars", max_chars}, {"max_beam", max_beam}};
  return page(title, "null", config.dump());
}

}  // namespace attnscope
