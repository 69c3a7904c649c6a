//===- Tokenizer.h - Byte-level BPE tokenizer -------------------*- C++ -*-===//
//
// The GPT-2 family tokenizer that GGUF calls "gpt2" and Hugging Face calls a
// BPE model with a ByteLevel pre-tokenizer. It is built from plain data
// (tokens, merges, token types) so it does not depend on a file format: the
// GGUF reader hands over its arrays, and fromTokenizerJson reads tokenizer.json.
//
// encode: added/special tokens are matched verbatim first; the rest is split
// into pre-tokens (optionally digits one by one, then the GPT-2 regex), each
// pre-token's bytes are mapped to the GPT-2 byte alphabet and merged by rank.
// When the vocabulary has a symbol for every byte, decode(encode(x)) == x for
// any byte string x; bytes without one are dropped (as Hugging Face does
// without an unk token; SmolLM2 lacks 21 rare bytes such as 0x04 and 0xFF).
//
//===----------------------------------------------------------------------===//
#ifndef KVCC_RUNTIME_TOKENIZER_H
#define KVCC_RUNTIME_TOKENIZER_H

#include "kvcc/Support/Error.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kvcc::runtime {

/// How text is cut into pre-tokens before BPE.
enum class PreTokenizer {
  /// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Gpt2,
  /// llama.cpp pre "smollm" (HF: Sequence[Digits(individual), ByteLevel]):
  /// every \p{N} character is its own pre-token, then the GPT-2 regex.
  SmolLM,
};

/// GGUF token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,     ///< special: matched verbatim, isSpecial
  UserDefined = 4, ///< added: matched verbatim, not special
  Unused = 5,
  Byte = 6,
};

/// Appends the pre-tokens of `text` to `pieces`, in order; they cover `text`
/// exactly (an invalid UTF-8 byte counts as one punctuation character). The
/// hand-written equivalent of the regex above (std::regex has no \p{..}).
void preTokenize(std::string_view text, PreTokenizer pre,
                 std::vector<std::string_view> &pieces);

class Tokenizer {
public:
  /// `merges` are "left right" in rank order (first = merged first);
  /// `tokenTypes` is empty (all normal) or one GGUF type per token;
  /// `bos`/`eos` are token ids or -1 for none. Errors name the offending
  /// index and value: a merge that is not two tokens, a merge whose parts or
  /// result are not in the vocabulary, a bad type, an out-of-range bos/eos.
  static Expected<Tokenizer> fromVocab(std::vector<std::string> tokens,
                                       std::vector<std::string> merges,
                                       std::vector<int32_t> tokenTypes,
                                       PreTokenizer pre, int64_t bos,
                                       int64_t eos);

  /// A Hugging Face tokenizer.json (model.type "BPE"; pre_tokenizer ByteLevel
  /// or Sequence[Digits(individual_digits), ByteLevel]; normalizer null).
  /// added_tokens are matched verbatim; those with "special": true are special.
  /// bos/eos come from a tokenizer_config.json next to the file when there is
  /// one (bos_token / eos_token), else they are -1.
  static Expected<Tokenizer> fromTokenizerJson(const std::string &path);

  /// Token ids for `text`. Added/special tokens in the text become their ids
  /// when `parseSpecial` (a rendered chat template needs that); otherwise
  /// their text is tokenized like any other. Never fails.
  std::vector<int32_t> encode(std::string_view text, bool addBos,
                              bool parseSpecial = true) const;

  /// The bytes of the tokens, concatenated. Ids outside [0, vocabSize()) are
  /// skipped (they cannot come from this tokenizer; a sampler bug must not
  /// crash a server). Special tokens render as their text unless skipSpecial.
  std::string decode(const std::vector<int32_t> &ids,
                     bool skipSpecial = false) const;

  /// The raw bytes of one token (possibly a partial UTF-8 sequence); empty for
  /// an invalid id.
  const std::string &decodeToken(int32_t id) const;

  /// The id of a token given its vocabulary spelling (byte-level alphabet for
  /// normal tokens, e.g. "Ġworld"; verbatim text for added tokens), or -1.
  int32_t tokenId(std::string_view token) const;
  /// The vocabulary spelling of a token; empty for an invalid id.
  const std::string &tokenText(int32_t id) const;

  int64_t vocabSize() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t bos() const { return bos_; }
  int64_t eos() const { return eos_; }
  bool isSpecial(int32_t id) const;
  PreTokenizer preTokenizer() const { return pre_; }

private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  struct Verbatim {
    std::string text;
    int32_t id;
  };

  Tokenizer() = default;
  /// fromVocab after the merges are split (tokenizer.json may give pairs).
  static Expected<Tokenizer>
  fromMergePairs(std::vector<std::string> tokens,
                 const std::vector<std::pair<std::string, std::string>> &merges,
                 std::vector<int32_t> tokenTypes, PreTokenizer pre, int64_t bos,
                 int64_t eos);
  void encodeChunk(std::string_view chunk, std::vector<int32_t> &out) const;
  void encodePiece(std::string_view piece, std::vector<int32_t> &out) const;

  std::vector<std::string> tokens_;
  std::vector<std::string> bytes_; // decoded bytes of each token
  std::vector<uint8_t> special_;   // 1 when the token is special (control)
  std::unordered_map<std::string, int32_t> ids_;
  std::unordered_map<uint64_t, Merge> merges_; // (left << 32 | right) -> merge
  int32_t byteIds_[256] = {}; // -1: the byte has no symbol
  // Verbatim tokens bucketed by first byte, longest first, so a 10k-character
  // prompt costs one bucket probe per byte.
  std::vector<Verbatim> verbatim_[256];
  PreTokenizer pre_ = PreTokenizer::Gpt2;
  int64_t bos_ = -1, eos_ = -1;
};

/// Turns a stream of token ids into text that never ends inside a UTF-8
/// sequence: bytes of an unfinished character are held back until the next
/// token completes it (or flush). Concatenating every push() and flush()
/// equals tokenizer.decode(all ids).
class StreamDecoder {
public:
  explicit StreamDecoder(const Tokenizer &tokenizer, bool skipSpecial = false)
      : tokenizer_(&tokenizer), skipSpecial_(skipSpecial) {}
  /// The text that became complete with this token (often empty or one char).
  std::string push(int32_t id);
  /// Whatever is held back, complete or not (end of generation).
  std::string flush();

private:
  const Tokenizer *tokenizer_;
  bool skipSpecial_;
  std::string pending_;
};

} // namespace kvcc::runtime

#endif // KVCC_RUNTIME_TOKENIZER_H
