#include "dist/binary_id.h"

#include <elf.h>
#include <fmt/format.h>
#include <link.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "core/fingerprint.h"

namespace attnscope {

namespace {

// The main program's NT_GNU_BUILD_ID note, as hex; empty when it has none.
std::string gnu_build_id() {
  std::string id;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) -> int {
        // The first object is the executable itself.
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
          const unsigned char* end = p + ph.p_memsz;
          while (p + sizeof(ElfW(Nhdr)) <= end) {
            ElfW(Nhdr) note;
            std::memcpy(&note, p, sizeof note);
            const unsigned char* name = p + sizeof note;
            const unsigned char* desc = name + ((note.n_namesz + 3u) & ~3u);
            const unsigned char* next = desc + ((note.n_descsz + 3u) & ~3u);
            if (next > end) break;
            if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
                std::memcmp(name, "GNU", 4) == 0) {
              auto& s = *static_cast<std::string*>(out);
              for (uint32_t k = 0; k < note.n_descsz; ++k) s += fmt::format("{:02x}", desc[k]);
              return 1;
            }
            p = next;
          }
        }
        return 1;  // only the executable
      },
      &id);
  return id;
}

}  // namespace

std::string binary_identity() {
  const std::string id = gnu_build_id();
  if (!id.empty()) return "build id " + id;
  std::ifstream in("/proc/self/exe", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return "fingerprint " + Fingerprint().add(bytes).hex() + " of the executable";
}

}  // namespace attnscope
