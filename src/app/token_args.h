// Token ids given on the command line ("5 6 7"), padded into a batch.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"

namespace attnscope::app {

// Parses each string as whitespace-separated integer ids and pads the rows with pad_id to the
// longest. `what` names the option in error messages ("--src").
TokenBatch parse_token_rows(const std::vector<std::string>& rows, int32_t pad_id,
                            const std::string& what);

}  // namespace attnscope::app
