// The interactive attention viewer: one self-contained HTML page (inline CSS and JS, no network,
// works from file://) that draws every map of an attention.json payload as a head view (tokens in
// two columns joined by lines whose weight is the attention) and as heatmaps, with pickers for
// the kind (encoder self / decoder self / cross), the layer and the head (one, all, mean).
// The page template lives in src/inspect/viewer/ and is embedded at build time.
#pragma once

#include <cstdint>
#include <string>

namespace attnscope {

// The viewer with `attention_json_payload` (attention_json()'s output, see
// attention_export.h) embedded. The payload is checked to be JSON with source_tokens,
// target_tokens and weights (attnscope::Error otherwise) and escaped, so a token such as
// "</script>" cannot end the script that holds it. `title` is HTML-escaped.
std::string attention_html(const std::string& attention_json_payload, const std::string& title);

// The same viewer for `attnscope serve`: no payload, an input box instead; the page posts
// {"text", "beam"} to /api/translate (same origin) and draws the payload that comes back.
// max_chars and max_beam are shown to the user and checked before sending.
std::string attention_live_html(const std::string& title, int64_t max_chars, int64_t max_beam);

}  // namespace attnscope
