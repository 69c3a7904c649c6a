//===- Tokenizer.cpp - Byte-level BPE tokenizer ---------------------------===//
//
// Merges are keyed by the ids of their two parts, so BPE runs on integers:
// each pre-token starts as one symbol per byte, and a min-heap of adjacent
// pairs ordered by (rank, position) applies the best merge first, leftmost on
// ties, as Hugging Face's BPE does. Stale heap entries are detected on pop.
// That keeps a long pre-token (a run of 10k spaces) at O(n log n).
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/Tokenizer.h"

#include "Unicode.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <limits>
#include <queue>

namespace kvcc::runtime {
namespace {

/// GPT-2's reversible byte -> code point map: printable Latin-1 bytes map to
/// themselves, the 68 others to U+0100.. in byte order (space -> 'Ġ' U+0120).
struct ByteAlphabet {
  uint32_t toCodePoint[256];
  int16_t toByte[512]; // -1: not in the alphabet
  ByteAlphabet() {
    std::fill(std::begin(toByte), std::end(toByte), int16_t(-1));
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
                       (b >= 0xAE && b <= 0xFF);
      toCodePoint[b] = printable ? b : next++;
      toByte[toCodePoint[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet &byteAlphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

/// A token's byte-level spelling back to raw bytes. Characters outside the
/// alphabet pass through as their own UTF-8 (Hugging Face's ByteLevel decoder
/// does the same), so no vocabulary string is rejected here.
std::string decodeByteLevel(const std::string &token) {
  const ByteAlphabet &alphabet = byteAlphabet();
  std::string out;
  out.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    unicode::Decoded d = unicode::decodeUtf8(token, pos);
    if (d.valid && d.codePoint < 512 && alphabet.toByte[d.codePoint] >= 0)
      out += static_cast<char>(alphabet.toByte[d.codePoint]);
    else
      out.append(token, pos, d.length);
    pos += d.length;
  }
  return out;
}

/// Quotes a (possibly hostile, possibly huge) vocabulary string for a message.
std::string quote(std::string_view s) {
  constexpr size_t kMax = 48;
  std::string out = "'";
  out.append(s.substr(0, kMax));
  if (s.size() > kMax)
    out += "...";
  return out + "'";
}

uint64_t pairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
         static_cast<uint32_t>(right);
}

} // namespace

Expected<Tokenizer> Tokenizer::fromVocab(std::vector<std::string> tokens,
                                         std::vector<std::string> merges,
                                         std::vector<int32_t> tokenTypes,
                                         PreTokenizer pre, int64_t bos,
                                         int64_t eos) {
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string &m = merges[rank];
    // Byte-level tokens never contain a space (it is spelled 'Ġ'), so the
    // space separates the two parts unambiguously.
    size_t space = m.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == m.size() ||
        m.find(' ', space + 1) != std::string::npos)
      return Status::error("tokenizer: merge " + std::to_string(rank) + " " +
                           quote(m) + " is not two tokens separated by a space");
    pairs.emplace_back(m.substr(0, space), m.substr(space + 1));
  }
  merges.clear();
  return fromMergePairs(std::move(tokens), pairs, std::move(tokenTypes), pre,
                        bos, eos);
}

Expected<Tokenizer> Tokenizer::fromMergePairs(
    std::vector<std::string> tokens,
    const std::vector<std::pair<std::string, std::string>> &merges,
    std::vector<int32_t> tokenTypes, PreTokenizer pre, int64_t bos,
    int64_t eos) {
  if (tokens.empty())
    return Status::error("tokenizer: the vocabulary is empty");
  if (tokens.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return Status::error("tokenizer: vocabulary of " +
                         std::to_string(tokens.size()) +
                         " tokens does not fit 32-bit ids");
  if (!tokenTypes.empty() && tokenTypes.size() != tokens.size())
    return Status::error("tokenizer: " + std::to_string(tokenTypes.size()) +
                         " token types for " + std::to_string(tokens.size()) +
                         " tokens");
  int64_t n = static_cast<int64_t>(tokens.size());
  if (bos < -1 || bos >= n)
    return Status::error("tokenizer: bos id " + std::to_string(bos) +
                         " is outside the vocabulary of " + std::to_string(n));
  if (eos < -1 || eos >= n)
    return Status::error("tokenizer: eos id " + std::to_string(eos) +
                         " is outside the vocabulary of " + std::to_string(n));

  Tokenizer t;
  t.pre_ = pre;
  t.bos_ = bos;
  t.eos_ = eos;
  t.special_.assign(tokens.size(), 0);
  t.bytes_.resize(tokens.size());
  t.ids_.reserve(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    int32_t id = static_cast<int32_t>(i);
    int32_t type = tokenTypes.empty() ? 1 : tokenTypes[i];
    if (type < 0 || type > 6)
      return Status::error("tokenizer: token " + std::to_string(i) + " " +
                           quote(tokens[i]) + " has unknown type " +
                           std::to_string(type));
    // The first spelling wins when a vocabulary repeats one (a later copy is
    // unreachable by encode, but still decodes).
    if (!tokens[i].empty())
      t.ids_.emplace(tokens[i], id);
    bool verbatim = type == int32_t(TokenType::Control) ||
                    type == int32_t(TokenType::UserDefined);
    t.special_[i] = type == int32_t(TokenType::Control);
    // Added tokens are stored as their text, not in the byte alphabet.
    t.bytes_[i] = verbatim ? tokens[i] : decodeByteLevel(tokens[i]);
    if (verbatim && !tokens[i].empty()) {
      auto first = static_cast<unsigned char>(tokens[i][0]);
      t.verbatim_[first].push_back({tokens[i], id});
    }
  }
  for (auto &bucket : t.verbatim_)
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const Verbatim &a, const Verbatim &b) {
                       return a.text.size() > b.text.size();
                     });

  // Real vocabularies lack some bytes (SmolLM2 has no symbol for 0x04, 0xFF,
  // ...); encode drops those bytes, as Hugging Face's BPE does without an
  // unk token.
  const ByteAlphabet &alphabet = byteAlphabet();
  for (int b = 0; b < 256; ++b) {
    std::string symbol;
    unicode::appendUtf8(symbol, alphabet.toCodePoint[b]);
    auto it = t.ids_.find(symbol);
    t.byteIds_[b] = it == t.ids_.end() ? -1 : it->second;
  }

  if (merges.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return Status::error("tokenizer: " + std::to_string(merges.size()) +
                         " merges do not fit 32-bit ranks");
  t.merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto &[left, right] = merges[rank];
    std::string where = "tokenizer: merge " + std::to_string(rank) + " " +
                        quote(left + " " + right);
    auto l = t.ids_.find(left), r = t.ids_.find(right),
         res = t.ids_.find(left + right);
    if (l == t.ids_.end())
      return Status::error(where + ": " + quote(left) +
                           " is not in the vocabulary");
    if (r == t.ids_.end())
      return Status::error(where + ": " + quote(right) +
                           " is not in the vocabulary");
    if (res == t.ids_.end())
      return Status::error(where + ": the merged token " +
                           quote(left + right) + " is not in the vocabulary");
    // A repeated pair keeps its first (best) rank.
    t.merges_.emplace(pairKey(l->second, r->second),
                      Merge{static_cast<int32_t>(rank), res->second});
  }
  t.tokens_ = std::move(tokens);
  return t;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool addBos,
                                       bool parseSpecial) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (addBos && bos_ >= 0)
    out.push_back(static_cast<int32_t>(bos_));
  if (!parseSpecial) {
    encodeChunk(text, out);
    return out;
  }
  // Leftmost-longest match of the verbatim tokens; the text between them is
  // ordinary text.
  size_t chunkStart = 0, pos = 0;
  while (pos < text.size()) {
    const auto &bucket = verbatim_[static_cast<unsigned char>(text[pos])];
    const Verbatim *hit = nullptr;
    for (const Verbatim &v : bucket) {
      if (text.compare(pos, v.text.size(), v.text) == 0) {
        hit = &v;
        break;
      }
    }
    if (!hit) {
      ++pos;
      continue;
    }
    encodeChunk(text.substr(chunkStart, pos - chunkStart), out);
    out.push_back(hit->id);
    pos += hit->text.size();
    chunkStart = pos;
  }
  encodeChunk(text.substr(chunkStart), out);
  return out;
}

void Tokenizer::encodeChunk(std::string_view chunk,
                            std::vector<int32_t> &out) const {
  if (chunk.empty())
    return;
  std::vector<std::string_view> pieces;
  preTokenize(chunk, pre_, pieces);
  for (std::string_view piece : pieces)
    encodePiece(piece, out);
}

void Tokenizer::encodePiece(std::string_view piece,
                            std::vector<int32_t> &out) const {
  // Symbols form a linked list over positions; a merged-away symbol has id
  // -1. A symbol's id only grows into longer tokens, so a heap entry whose
  // recorded ids no longer match is stale. Bytes without a symbol are left
  // out, so their neighbours may merge (Hugging Face does the same).
  std::vector<int32_t> id;
  id.reserve(piece.size());
  for (char c : piece)
    if (int32_t b = byteIds_[static_cast<unsigned char>(c)]; b >= 0)
      id.push_back(b);
  size_t n = id.size();
  if (n <= 1) {
    out.insert(out.end(), id.begin(), id.end());
    return;
  }
  std::vector<int32_t> next(n), prev(n);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Candidate {
    int32_t rank, left, right, leftId, rightId;
    bool operator>(const Candidate &o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>,
                      std::greater<Candidate>>
      heap;
  auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0)
      return;
    auto it = merges_.find(pairKey(id[left], id[right]));
    if (it != merges_.end())
      heap.push({it->second.rank, left, right, id[left], id[right]});
  };
  for (size_t i = 0; i + 1 < n; ++i)
    consider(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    if (id[c.left] != c.leftId || id[c.right] != c.rightId ||
        next[c.left] != c.right)
      continue;
    id[c.left] = merges_.find(pairKey(c.leftId, c.rightId))->second.result;
    id[c.right] = -1;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0)
      prev[next[c.right]] = c.left;
    consider(prev[c.left], c.left);
    consider(c.left, next[c.left]);
  }
  for (int32_t i = 0; i >= 0; i = next[i])
    out.push_back(id[i]);
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids,
                              bool skipSpecial) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocabSize() || (skipSpecial && special_[id]))
      continue;
    out += bytes_[id];
  }
  return out;
}

const std::string &Tokenizer::decodeToken(int32_t id) const {
  static const std::string empty;
  return id >= 0 && id < vocabSize() ? bytes_[id] : empty;
}

const std::string &Tokenizer::tokenText(int32_t id) const {
  static const std::string empty;
  return id >= 0 && id < vocabSize() ? tokens_[id] : empty;
}

int32_t Tokenizer::tokenId(std::string_view token) const {
  auto it = ids_.find(std::string(token));
  return it == ids_.end() ? -1 : it->second;
}

bool Tokenizer::isSpecial(int32_t id) const {
  return id >= 0 && id < vocabSize() && special_[id];
}

std::string StreamDecoder::push(int32_t id) {
  if (skipSpecial_ && tokenizer_->isSpecial(id))
    return {};
  pending_ += tokenizer_->decodeToken(id);
  size_t ready = unicode::completeUtf8Prefix(pending_);
  std::string out = pending_.substr(0, ready);
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

} // namespace kvcc::runtime
