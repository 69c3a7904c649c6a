//===- Unicode.h - UTF-8 and character classes for the tokenizer -*- C++ -*-===//
//
// Private to lib/Runtime. The byte-level BPE pre-tokenizer needs three
// character classes (\p{L}, \p{N}, \s) and an exact UTF-8 decoder that never
// rejects input: invalid bytes are surfaced one at a time so the tokenizer can
// still encode them (byte-level BPE covers every byte).
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_LIB_RUNTIME_UNICODE_H
#define KVCC_LIB_RUNTIME_UNICODE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kvcc::runtime::unicode {

enum class CharClass : uint8_t { Other, Letter, Number, Space };

/// General category L* -> Letter, N* -> Number, White_Space -> Space.
/// Tables follow Unicode 14 (the data Python's unicodedata shipped when the
/// table was generated); what is not in them is Other.
CharClass classify(uint32_t codePoint);

/// One decoded UTF-8 sequence. `valid` is false for a stray continuation byte,
/// an overlong form, a surrogate, a value above U+10FFFF or a truncated
/// sequence; then `length` is 1 so the caller advances past exactly one byte.
struct Decoded {
  uint32_t codePoint;
  uint32_t length;
  bool valid;
};
Decoded decodeUtf8(std::string_view text, size_t pos);

void appendUtf8(std::string &out, uint32_t codePoint);

/// The length of the longest prefix of `bytes` that does not end inside a
/// UTF-8 sequence that could still be completed by more bytes. Bytes that can
/// never become valid are part of the prefix (a stream must not stall on them).
size_t completeUtf8Prefix(std::string_view bytes);

} // namespace kvcc::runtime::unicode

#endif // KVCC_LIB_RUNTIME_UNICODE_H
