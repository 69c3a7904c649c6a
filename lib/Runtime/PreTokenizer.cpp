//===- PreTokenizer.cpp - GPT-2 style pre-tokenization --------------------===//
//
// The GPT-2 regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// and the digit split of "smollm", without std::regex (no \p{..}, slow). The
// regex is matched by hand over a decoded copy of the text (code point
// class + byte offset per character), so each alternative is a simple scan and
// the whole split is linear in the text length.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/Tokenizer.h"

#include "Unicode.h"

#include <cstdint>

namespace kvcc::runtime {
namespace {

using unicode::CharClass;

struct Chars {
  std::vector<uint32_t> cp;
  std::vector<CharClass> cls;
  std::vector<size_t> offset; // byte offset of each char, plus the end
};

Chars decode(std::string_view text) {
  Chars c;
  c.cp.reserve(text.size());
  c.cls.reserve(text.size());
  c.offset.reserve(text.size() + 1);
  size_t pos = 0;
  while (pos < text.size()) {
    unicode::Decoded d = unicode::decodeUtf8(text, pos);
    c.cp.push_back(d.valid ? d.codePoint : 0xFFFFFFFFu);
    c.cls.push_back(d.valid ? unicode::classify(d.codePoint)
                            : CharClass::Other);
    c.offset.push_back(pos);
    pos += d.length;
  }
  c.offset.push_back(text.size());
  return c;
}

/// The length in characters of the GPT-2 regex match at `pos`, where `end`
/// is the end of the text as the regex sees it. Always at least 1: every
/// character is a letter, a number, whitespace or matched by [^\s\p{L}\p{N}].
size_t matchGpt2(const Chars &c, size_t pos, size_t end) {
  uint32_t c0 = c.cp[pos];
  // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive, as in GPT-2).
  if (c0 == '\'' && pos + 1 < end) {
    uint32_t c1 = c.cp[pos + 1];
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
      return 2;
    if (pos + 2 < end) {
      uint32_t c2 = c.cp[pos + 2];
      if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') ||
          (c1 == 'l' && c2 == 'l'))
        return 3;
    }
  }
  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: one optional ASCII space,
  // then a run of one class.
  size_t j = pos + (c0 == ' ' ? 1 : 0);
  if (j < end && c.cls[j] != CharClass::Space) {
    CharClass run = c.cls[j];
    size_t k = j;
    while (k < end && c.cls[k] == run)
      ++k;
    return k - pos;
  }
  // `\s+(?!\S)|\s+`: a whitespace run that reaches the end is taken whole;
  // one followed by a non-space gives up its last character (which then
  // prefixes the next word), unless it is a single character.
  size_t k = pos;
  while (k < end && c.cls[k] == CharClass::Space)
    ++k;
  if (k == pos)
    return 1; // Unreachable: c0 is whitespace here. Progress regardless.
  if (k == end || k - pos == 1)
    return k - pos;
  return k - pos - 1;
}

void splitGpt2(std::string_view text, const Chars &c, size_t begin,
               size_t end, std::vector<std::string_view> &pieces) {
  size_t pos = begin;
  while (pos < end) {
    size_t len = matchGpt2(c, pos, end);
    pieces.push_back(
        text.substr(c.offset[pos], c.offset[pos + len] - c.offset[pos]));
    pos += len;
  }
}

} // namespace

void preTokenize(std::string_view text, PreTokenizer pre,
                 std::vector<std::string_view> &pieces) {
  Chars c = decode(text);
  size_t n = c.cp.size();
  if (pre == PreTokenizer::Gpt2) {
    splitGpt2(text, c, 0, n, pieces);
    return;
  }
  // SmolLM: each number character alone; the spans between them go through
  // the GPT-2 regex as separate texts (so `\s+(?!\S)` sees their end as the
  // end of the text, as llama.cpp and Hugging Face's Sequence do).
  size_t spanStart = 0;
  for (size_t i = 0; i < n; ++i) {
    if (c.cls[i] != CharClass::Number)
      continue;
    splitGpt2(text, c, spanStart, i, pieces);
    pieces.push_back(text.substr(c.offset[i], c.offset[i + 1] - c.offset[i]));
    spanStart = i + 1;
  }
  splitGpt2(text, c, spanStart, n, pieces);
}

} // namespace kvcc::runtime
