//===- TokenizerTest.cpp - Byte-level BPE tokenizer -----------------------===//
//
// The reference pre-token splits were produced by Hugging Face tokenizers
// 0.23 (Rust), an independent implementation, with pre_tokenizers
// ByteLevel(add_prefix_space=False) and Sequence[Digits(individual_digits=
// True), ByteLevel]. The real vocabulary is tested in TokenizerSmolLM2Test.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/Tokenizer.h"
#include "kvcc/Runtime/Sampler.h" // Rng, for random inputs
#include "kvcc/Support/Json.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

using namespace kvcc;
using namespace kvcc::runtime;

namespace {

/// GPT-2's byte -> code point map, spelled out again (independently of the
/// library) to build vocabularies by hand.
std::string byteSymbol(int b) {
  bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
                   (b >= 0xAE && b <= 0xFF);
  int cp = b;
  if (!printable) {
    int n = 0;
    for (int x = 0; x < b; ++x)
      if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) ||
            (x >= 0xAE && x <= 0xFF)))
        ++n;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

/// 256 byte tokens (id = byte), then `extra`.
std::vector<std::string> byteVocab(std::vector<std::string> extra = {}) {
  std::vector<std::string> v;
  for (int b = 0; b < 256; ++b)
    v.push_back(byteSymbol(b));
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

const std::string G = byteSymbol(' '); // "Ġ"

/// A vocabulary where "hello world" merges into two tokens.
Tokenizer tinyTokenizer(PreTokenizer pre = PreTokenizer::Gpt2) {
  std::vector<std::string> extra = {"he",      "ll",      "hell",
                                    "hello",   G + "w",   G + "wo",
                                    "rl",      G + "worl", G + "world",
                                    "<|end|>", "<|user|>"};
  std::vector<int32_t> types(256 + extra.size(), 1);
  types[256 + 9] = 3;  // <|end|>: control
  types[256 + 10] = 4; // <|user|>: user-defined
  Expected<Tokenizer> t = Tokenizer::fromVocab(
      byteVocab(extra),
      {"h e", "l l", "he ll", "hell o", G + " w", G + "w o", "r l",
       G + "wo rl", G + "worl d"},
      types, pre, /*bos=*/265, /*eos=*/265);
  EXPECT_TRUE(t.ok()) << t.message();
  return t.take();
}

TEST(Tokenizer, TinyVocabKnownIds) {
  Tokenizer t = tinyTokenizer();
  EXPECT_EQ(t.encode("hello world", false), (std::vector<int32_t>{259, 264}));
  EXPECT_EQ(t.encode("hello world", true),
            (std::vector<int32_t>{265, 259, 264}));
  // "hellohello" is one pre-token: merges apply within it.
  EXPECT_EQ(t.encode("hellohello", false), (std::vector<int32_t>{259, 259}));
  // Unmerged bytes fall back to byte tokens.
  EXPECT_EQ(t.encode("hex!", false),
            (std::vector<int32_t>{256, 'x', '!'}));
  EXPECT_EQ(t.vocabSize(), 267);
  EXPECT_EQ(t.tokenId(G + "world"), 264);
  EXPECT_EQ(t.tokenId("nope"), -1);
  EXPECT_EQ(t.tokenText(264), G + "world");
  EXPECT_EQ(t.decodeToken(264), " world");
  EXPECT_EQ(t.decode({259, 264}), "hello world");
}

TEST(Tokenizer, MergesApplyByRankThenLeftmost) {
  // "b c" outranks "a b": abc -> a + bc.
  Expected<Tokenizer> t = Tokenizer::fromVocab(
      byteVocab({"bc", "ab", "aa"}), {"b c", "a b", "a a"}, {},
      PreTokenizer::Gpt2, -1, -1);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->encode("abc", false), (std::vector<int32_t>{'a', 256}));
  EXPECT_EQ(t->encode("abd", false), (std::vector<int32_t>{257, 'd'}));
  // Equal ranks resolve leftmost first: aaa -> aa + a.
  EXPECT_EQ(t->encode("aaa", false), (std::vector<int32_t>{258, 'a'}));
  EXPECT_EQ(t->encode("aaaaa", false), (std::vector<int32_t>{258, 258, 'a'}));
}

TEST(Tokenizer, SpecialAndAddedTokensAreMatchedVerbatim) {
  Tokenizer t = tinyTokenizer();
  std::vector<int32_t> ids = t.encode("<|user|>hello<|end|> world", false);
  EXPECT_EQ(ids, (std::vector<int32_t>{266, 259, 265, 264}));
  EXPECT_TRUE(t.isSpecial(265));
  EXPECT_FALSE(t.isSpecial(266)); // user-defined: matched, not special
  EXPECT_FALSE(t.isSpecial(-1));
  EXPECT_FALSE(t.isSpecial(1 << 30));
  EXPECT_EQ(t.decode(ids), "<|user|>hello<|end|> world");
  EXPECT_EQ(t.decode(ids, /*skipSpecial=*/true), "<|user|>hello world");
  // Not parsed: the text of a special is ordinary text.
  std::vector<int32_t> plain = t.encode("<|end|>", false, /*parseSpecial=*/false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 265), 0);
  EXPECT_EQ(t.decode(plain), "<|end|>");
  // A partial special is ordinary text.
  EXPECT_EQ(t.decode(t.encode("<|en", false)), "<|en");
}

TEST(Tokenizer, LongestVerbatimMatchWins) {
  std::vector<std::string> vocab = byteVocab({"<a>", "<a><b>"});
  std::vector<int32_t> types(vocab.size(), 1);
  types[256] = types[257] = 3;
  Expected<Tokenizer> t =
      Tokenizer::fromVocab(vocab, {}, types, PreTokenizer::Gpt2, -1, -1);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->encode("<a><b><a>", false), (std::vector<int32_t>{257, 256}));
}

TEST(Tokenizer, InvalidIdsAreSkippedInDecode) {
  Tokenizer t = tinyTokenizer();
  EXPECT_EQ(t.decode({-5, 259, 1 << 30, 264, 267}), "hello world");
  EXPECT_EQ(t.decodeToken(-1), "");
  EXPECT_EQ(t.decodeToken(267), "");
  EXPECT_EQ(t.tokenText(-1), "");
}

TEST(Tokenizer, RoundTripsArbitraryBytes) {
  // Including invalid UTF-8, NUL and lone continuation bytes.
  for (PreTokenizer pre : {PreTokenizer::Gpt2, PreTokenizer::SmolLM}) {
    Tokenizer t = tinyTokenizer(pre);
    Rng rng(77);
    for (int trial = 0; trial < 500; ++trial) {
      std::string s(rng.next() % 40, '\0');
      for (char &c : s)
        c = static_cast<char>(rng.next() % 4 == 0 ? "hel wo\n1'"[rng.next() % 9]
                                                  : rng.next() & 0xFF);
      ASSERT_EQ(t.decode(t.encode(s, false)), s);
    }
  }
}

struct PreTokenCase {
  const char *text;
  std::vector<std::string> gpt2, smollm;
};

const PreTokenCase kPreTokenCases[] = {
    {"Hello world",
     {"Hello", " world"},
     {"Hello", " world"}},
    {"  leading",
     {" ", " leading"},
     {" ", " leading"}},
    {"trailing  ",
     {"trailing", "  "},
     {"trailing", "  "}},
    {"a  b",
     {"a", " ", " b"},
     {"a", " ", " b"}},
    {"a \012 b",
     {"a", " \012", " b"},
     {"a", " \012", " b"}},
    {"it's I'LL we've they'd 'm",
     {"it", "'s", " I", "'", "LL", " we", "'ve", " they", "'d", " '", "m"},
     {"it", "'s", " I", "'", "LL", " we", "'ve", " they", "'d", " '", "m"}},
    {"x\012\012y",
     {"x", "\012", "\012", "y"},
     {"x", "\012", "\012", "y"}},
    {"123 4567 89",
     {"123", " 4567", " 89"},
     {"1", "2", "3", " ", "4", "5", "6", "7", " ", "8", "9"}},
    {"\303\274ber stra\303\237e",
     {"\303\274ber", " stra\303\237e"},
     {"\303\274ber", " stra\303\237e"}},
    {"\346\227\245\346\234\254\350\252\236\343\201\256\343\203\206\343\202\255\343\202\271\343\203\210",
     {"\346\227\245\346\234\254\350\252\236\343\201\256\343\203\206\343\202\255\343\202\271\343\203\210"},
     {"\346\227\245\346\234\254\350\252\236\343\201\256\343\203\206\343\202\255\343\202\271\343\203\210"}},
    {"emoji \360\237\230\200\360\237\230\200 ok",
     {"emoji", " \360\237\230\200\360\237\230\200", " ok"},
     {"emoji", " \360\237\230\200\360\237\230\200", " ok"}},
    {"tab\011sep",
     {"tab", "\011", "sep"},
     {"tab", "\011", "sep"}},
    {"mixed\015\012 line",
     {"mixed", "\015\012", " line"},
     {"mixed", "\015\012", " line"}},
    {"!!! \077\077 ...",
     {"!!!", " \077\077", " ..."},
     {"!!!", " \077\077", " ..."}},
    {" ' s",
     {" '", " s"},
     {" '", " s"}},
    {"a\331\243\331\244\302\262b",
     {"a", "\331\243\331\244\302\262", "b"},
     {"a", "\331\243", "\331\244", "\302\262", "b"}},
    {"   ",
     {"   "},
     {"   "}},
    {"\012",
     {"\012"},
     {"\012"}},
    {"",
     {},
     {}},
    {"ab'",
     {"ab", "'"},
     {"ab", "'"}},
    {"''s",
     {"''", "s"},
     {"''", "s"}},
    {"x  1",
     {"x", " ", " 1"},
     {"x", "  ", "1"}},
    {"na\303\257ve caf\303\251",
     {"na\303\257ve", " caf\303\251"},
     {"na\303\257ve", " caf\303\251"}},
    {"\320\237\321\200\320\270\320\262\320\265\321\202 \320\274\320\270\321\200",
     {"\320\237\321\200\320\270\320\262\320\265\321\202", " \320\274\320\270\321\200"},
     {"\320\237\321\200\320\270\320\262\320\265\321\202", " \320\274\320\270\321\200"}},
    {"\316\273x. x + 1",
     {"\316\273x", ".", " x", " +", " 1"},
     {"\316\273x", ".", " x", " +", " ", "1"}},
    {"def f(x):\012    return x**2\012",
     {"def", " f", "(", "x", "):", "\012   ", " return", " x", "**", "2", "\012"},
     {"def", " f", "(", "x", "):", "\012   ", " return", " x", "**", "2", "\012"}},
    {"\012  _\302\240l v! \012\360\237\230\200\346\234\254Z ",
     {"\012 ", " _", "\302\240", "l", " v", "!", " ", "\012", "\360\237\230\200", "\346\234\254Z", " "},
     {"\012 ", " _", "\302\240", "l", " v", "!", " ", "\012", "\360\237\230\200", "\346\234\254Z", " "}},
    {"\302\240",
     {"\302\240"},
     {"\302\240"}},
    {"\346\234\254",
     {"\346\234\254"},
     {"\346\234\254"}},
    {"r'r\302\262\011 \015!\012\343\200\200 s'-Z vt_\302\262 ",
     {"r", "'", "r", "\302\262", "\011 ", "\015", "!", "\012\343\200\200", " s", "'-", "Z", " vt", "_", "\302\262", " "},
     {"r", "'", "r", "\302\262", "\011 ", "\015", "!", "\012\343\200\200", " s", "'-", "Z", " vt", "_", "\302\262", " "}},
    {"v sl \303\251\342\200\203t e\303\237'\343\200\200\346\234\254\303\251Ze_a\302\262",
     {"v", " sl", " \303\251", "\342\200\203", "t", " e\303\237", "'", "\343\200\200", "\346\234\254\303\251Ze", "_", "a", "\302\262"},
     {"v", " sl", " \303\251", "\342\200\203", "t", " e\303\237", "'", "\343\200\200", "\346\234\254\303\251Ze", "_", "a", "\302\262"}},
    {"v s  \346\227\245\011!'v1\015  l'\015",
     {"v", " s", " ", " \346\227\245", "\011", "!'", "v", "1", "\015 ", " l", "'", "\015"},
     {"v", " s", " ", " \346\227\245", "\011", "!'", "v", "1", "\015 ", " l", "'", "\015"}},
    {"ta\011",
     {"ta", "\011"},
     {"ta", "\011"}},
    {"_",
     {"_"},
     {"_"}},
    {"\360\237\230\200\012s\011v\303\237\302\262 \331\243\303\251v\302\240",
     {"\360\237\230\200", "\012", "s", "\011", "v\303\237", "\302\262", " \331\243", "\303\251v", "\302\240"},
     {"\360\237\230\200", "\012", "s", "\011", "v\303\237", "\302\262", " ", "\331\243", "\303\251v", "\302\240"}},
    {"\015\303\251",
     {"\015", "\303\251"},
     {"\015", "\303\251"}},
    {"\303\237\343\200\200\011\360\237\230\200\342\200\203",
     {"\303\237", "\343\200\200", "\011", "\360\237\230\200", "\342\200\203"},
     {"\303\237", "\343\200\200", "\011", "\360\237\230\200", "\342\200\203"}},
    {" l1\360\237\230\200\346\234\254'\346\227\245l\342\200\203\302\262' \302\240_'",
     {" l", "1", "\360\237\230\200", "\346\234\254", "'", "\346\227\245l", "\342\200\203", "\302\262", "'", " ", "\302\240", "_'"},
     {" l", "1", "\360\237\230\200", "\346\234\254", "'", "\346\227\245l", "\342\200\203", "\302\262", "'", " ", "\302\240", "_'"}},
    {"-\015\302\262.\360\237\230\200s\342\200\203\302\262\303\237\303\251\012\360\237\230\200\015\331\243\331\243\360\237\230\200\012s\012\342\200\203",
     {"-", "\015", "\302\262", ".\360\237\230\200", "s", "\342\200\203", "\302\262", "\303\237\303\251", "\012", "\360\237\230\200", "\015", "\331\243\331\243", "\360\237\230\200", "\012", "s", "\012\342\200\203"},
     {"-", "\015", "\302\262", ".\360\237\230\200", "s", "\342\200\203", "\302\262", "\303\237\303\251", "\012", "\360\237\230\200", "\015", "\331\243", "\331\243", "\360\237\230\200", "\012", "s", "\012\342\200\203"}},
    {"1\342\200\203\342\200\203v\303\251ea\346\234\254\012!!\302\240\015l_\303\251",
     {"1", "\342\200\203", "\342\200\203", "v\303\251ea\346\234\254", "\012", "!!", "\302\240", "\015", "l", "_", "\303\251"},
     {"1", "\342\200\203", "\342\200\203", "v\303\251ea\346\234\254", "\012", "!!", "\302\240", "\015", "l", "_", "\303\251"}},
    {"\343\200\200\342\200\203.\346\227\245\302\240",
     {"\343\200\200", "\342\200\203", ".", "\346\227\245", "\302\240"},
     {"\343\200\200", "\342\200\203", ".", "\346\227\245", "\302\240"}},
    {".  1a -\303\237\302\240 Zs\342\200\203 \302\240",
     {".", " ", " 1", "a", " -", "\303\237", "\302\240", " Zs", "\342\200\203 \302\240"},
     {".", "  ", "1", "a", " -", "\303\237", "\302\240", " Zs", "\342\200\203 \302\240"}},
    {"\346\227\245\303\237\302\262 l\303\251\343\200\200 !\331\243a\0121a!--\302\262sZ\342\200\203\302\240\346\234\254",
     {"\346\227\245\303\237", "\302\262", " l\303\251", "\343\200\200", " !", "\331\243", "a", "\012", "1", "a", "!--", "\302\262", "sZ", "\342\200\203", "\302\240", "\346\234\254"},
     {"\346\227\245\303\237", "\302\262", " l\303\251", "\343\200\200", " !", "\331\243", "a", "\012", "1", "a", "!--", "\302\262", "sZ", "\342\200\203", "\302\240", "\346\234\254"}},
    {"s-!\331\243\015la",
     {"s", "-!", "\331\243", "\015", "la"},
     {"s", "-!", "\331\243", "\015", "la"}},
    {" \342\200\203\346\234\254t\011'_\360\237\230\200t'",
     {" ", "\342\200\203", "\346\234\254t", "\011", "'_\360\237\230\200", "t", "'"},
     {" ", "\342\200\203", "\346\234\254t", "\011", "'_\360\237\230\200", "t", "'"}},
    {"\011\011 r\015_\011\342\200\203t !",
     {"\011\011", " r", "\015", "_", "\011", "\342\200\203", "t", " !"},
     {"\011\011", " r", "\015", "_", "\011", "\342\200\203", "t", " !"}},
    {"\015 vv e \360\237\230\200\302\240\011_",
     {"\015", " vv", " e", " \360\237\230\200", "\302\240", "\011", "_"},
     {"\015", " vv", " e", " \360\237\230\200", "\302\240", "\011", "_"}},
    {" \331\2431.\346\227\245a\342\200\203",
     {" \331\2431", ".", "\346\227\245a", "\342\200\203"},
     {" ", "\331\243", "1", ".", "\346\227\245a", "\342\200\203"}},
    {"1_\343\200\200_\303\251te_\303\237\331\243\346\227\245vl\343\200\200\011\342\200\203t \360\237\230\200\303\251\303\251\331\243",
     {"1", "_", "\343\200\200", "_", "\303\251te", "_", "\303\237", "\331\243", "\346\227\245vl", "\343\200\200\011", "\342\200\203", "t", " \360\237\230\200", "\303\251\303\251", "\331\243"},
     {"1", "_", "\343\200\200", "_", "\303\251te", "_", "\303\237", "\331\243", "\346\227\245vl", "\343\200\200\011", "\342\200\203", "t", " \360\237\230\200", "\303\251\303\251", "\331\243"}},
    {"\343\200\200l\303\251s\012!1\303\251a\303\237!\342\200\203l",
     {"\343\200\200", "l\303\251s", "\012", "!", "1", "\303\251a\303\237", "!", "\342\200\203", "l"},
     {"\343\200\200", "l\303\251s", "\012", "!", "1", "\303\251a\303\237", "!", "\342\200\203", "l"}},
    {" \346\234\254-\342\200\203\302\262Z\360\237\230\200'\0151\303\237  ",
     {" \346\234\254", "-", "\342\200\203", "\302\262", "Z", "\360\237\230\200'", "\015", "1", "\303\237", "  "},
     {" \346\234\254", "-", "\342\200\203", "\302\262", "Z", "\360\237\230\200'", "\015", "1", "\303\237", "  "}},
    {"1\303\237\331\243\342\200\203v\342\200\203'\0151e'\015\303\237l\346\234\254e",
     {"1", "\303\237", "\331\243", "\342\200\203", "v", "\342\200\203", "'", "\015", "1", "e", "'", "\015", "\303\237l\346\234\254e"},
     {"1", "\303\237", "\331\243", "\342\200\203", "v", "\342\200\203", "'", "\015", "1", "e", "'", "\015", "\303\237l\346\234\254e"}},
    {"\346\234\254a\015s_l\302\262\302\240v'v \302\240\302\240.\302\262v\302\240\012 ",
     {"\346\234\254a", "\015", "s", "_", "l", "\302\262", "\302\240", "v", "'", "v", " \302\240", "\302\240", ".", "\302\262", "v", "\302\240\012 "},
     {"\346\234\254a", "\015", "s", "_", "l", "\302\262", "\302\240", "v", "'", "v", " \302\240", "\302\240", ".", "\302\262", "v", "\302\240\012 "}},
    {"\302\240' _\011---l\346\227\245\346\234\254\360\237\230\200",
     {"\302\240", "'", " _", "\011", "---", "l\346\227\245\346\234\254", "\360\237\230\200"},
     {"\302\240", "'", " _", "\011", "---", "l\346\227\245\346\234\254", "\360\237\230\200"}},
    {"\303\237vvl\346\227\245l\303\237las",
     {"\303\237vvl\346\227\245l\303\237las"},
     {"\303\237vvl\346\227\245l\303\237las"}},
    {"\303\251 t!ra\346\227\245s\346\227\245_\346\227\245\302\262\303\251 \360\237\230\200sllt\012\342\200\203Z\303\251\346\234\254",
     {"\303\251", " t", "!", "ra\346\227\245s\346\227\245", "_", "\346\227\245", "\302\262", "\303\251", " \360\237\230\200", "sllt", "\012", "\342\200\203", "Z\303\251\346\234\254"},
     {"\303\251", " t", "!", "ra\346\227\245s\346\227\245", "_", "\346\227\245", "\302\262", "\303\251", " \360\237\230\200", "sllt", "\012", "\342\200\203", "Z\303\251\346\234\254"}},
    {"\343\200\200 1 v",
     {"\343\200\200", " 1", " v"},
     {"\343\200\200 ", "1", " v"}},
    {"av",
     {"av"},
     {"av"}},
    {"\346\227\245s\346\234\254\331\243_",
     {"\346\227\245s\346\234\254", "\331\243", "_"},
     {"\346\227\245s\346\234\254", "\331\243", "_"}},
    {"_ \343\200\200\360\237\230\200\303\237\303\251!'_lZ\346\234\254s e_\302\240",
     {"_", " ", "\343\200\200", "\360\237\230\200", "\303\237\303\251", "!'_", "lZ\346\234\254s", " e", "_", "\302\240"},
     {"_", " ", "\343\200\200", "\360\237\230\200", "\303\237\303\251", "!'_", "lZ\346\234\254s", " e", "_", "\302\240"}},
    {"v",
     {"v"},
     {"v"}},
    {"\346\227\245\343\200\200lZ\015''vv\011-trr \011t\342\200\203Z",
     {"\346\227\245", "\343\200\200", "lZ", "\015", "''", "vv", "\011", "-", "trr", " ", "\011", "t", "\342\200\203", "Z"},
     {"\346\227\245", "\343\200\200", "lZ", "\015", "''", "vv", "\011", "-", "trr", " ", "\011", "t", "\342\200\203", "Z"}},
    {"\015_s\360\237\230\200s!\360\237\230\2001\343\200\200\342\200\203\346\227\245\011!tltrr\343\200\200\302\262 \346\234\254 ",
     {"\015", "_", "s", "\360\237\230\200", "s", "!\360\237\230\200", "1", "\343\200\200", "\342\200\203", "\346\227\245", "\011", "!", "tltrr", "\343\200\200", "\302\262", " \346\234\254", " "},
     {"\015", "_", "s", "\360\237\230\200", "s", "!\360\237\230\200", "1", "\343\200\200", "\342\200\203", "\346\227\245", "\011", "!", "tltrr", "\343\200\200", "\302\262", " \346\234\254", " "}},
    {"\360\237\230\200\342\200\203v\331\243- rr \346\227\245Zr",
     {"\360\237\230\200", "\342\200\203", "v", "\331\243", "-", " rr", " \346\227\245Zr"},
     {"\360\237\230\200", "\342\200\203", "v", "\331\243", "-", " rr", " \346\227\245Zr"}},
    {"\346\234\254s!\360\237\230\2001l'",
     {"\346\234\254s", "!\360\237\230\200", "1", "l", "'"},
     {"\346\234\254s", "!\360\237\230\200", "1", "l", "'"}},
    {" \302\262",
     {" \302\262"},
     {" ", "\302\262"}},
};

TEST(Tokenizer, PreTokenizerMatchesHuggingFace) {
  for (const PreTokenCase &c : kPreTokenCases) {
    for (PreTokenizer pre : {PreTokenizer::Gpt2, PreTokenizer::SmolLM}) {
      std::vector<std::string_view> pieces;
      preTokenize(c.text, pre, pieces);
      std::vector<std::string> got(pieces.begin(), pieces.end());
      EXPECT_EQ(got, pre == PreTokenizer::Gpt2 ? c.gpt2 : c.smollm)
          << "text '" << c.text << "' "
          << (pre == PreTokenizer::Gpt2 ? "gpt2" : "smollm");
    }
  }
}

TEST(Tokenizer, StreamDecoderHoldsIncompleteUtf8) {
  Tokenizer t = tinyTokenizer();
  std::string text = "h\xC3\xA9 \xF0\x9F\x98\x80!<|end|>"; // hé 😀!
  std::vector<int32_t> ids = t.encode(text, false);
  StreamDecoder stream(t);
  std::string joined;
  for (int32_t id : ids) {
    std::string piece = stream.push(id);
    // Every emitted piece is complete UTF-8 on its own.
    if (!piece.empty()) {
      unsigned char last = static_cast<unsigned char>(piece.back());
      EXPECT_TRUE(last < 0x80 || (last & 0xC0) == 0x80) << piece;
    }
    joined += piece;
    if (id == 0xF0)
      EXPECT_EQ(piece, ""); // the emoji's first byte is held back
  }
  joined += stream.flush();
  EXPECT_EQ(joined, text);
  // A truncated sequence comes out on flush; a stray continuation byte is
  // never held.
  StreamDecoder s2(t);
  EXPECT_EQ(s2.push(0xE6), "");
  EXPECT_EQ(s2.flush(), "\xE6");
  EXPECT_EQ(s2.push(0x80), "\x80");
  StreamDecoder skipping(t, /*skipSpecial=*/true);
  EXPECT_EQ(skipping.push(265), "");
}

TEST(Tokenizer, FromVocabErrorsNameTheProblem) {
  struct Bad {
    std::vector<std::string> tokens, merges;
    std::vector<int32_t> types;
    int64_t bos;
    const char *message;
  };
  std::vector<Bad> cases = {
      {{}, {}, {}, -1, "vocabulary is empty"},
      {byteVocab({"ab"}), {"ab"}, {}, -1,
       "merge 0 'ab' is not two tokens separated by a space"},
      {byteVocab({"ab"}), {"a  b"}, {}, -1, "merge 0"},
      {byteVocab({"ab"}), {"a b", "q zz"}, {}, -1,
       "merge 1 'q zz': 'zz' is not in the vocabulary"},
      {byteVocab(), {"a b"}, {}, -1,
       "merge 0 'a b': the merged token 'ab' is not in the vocabulary"},
      {byteVocab(), {}, {1, 1}, -1, "2 token types for 256 tokens"},
      {byteVocab(), {}, std::vector<int32_t>(256, 9), -1,
       "token 0 '\xC4\x80' has unknown type 9"},
      {byteVocab(), {}, {}, 256, "bos id 256 is outside the vocabulary"},
  };
  for (const Bad &b : cases) {
    Expected<Tokenizer> t = Tokenizer::fromVocab(
        b.tokens, b.merges, b.types, PreTokenizer::Gpt2, b.bos, -1);
    ASSERT_FALSE(t.ok()) << b.message;
    EXPECT_NE(t.message().find(b.message), std::string::npos) << t.message();
  }
}

TEST(Tokenizer, LongInputsStayLinear) {
  // A 10k-character prompt and a 10k-space run (one pre-token): these would
  // take seconds with a quadratic merge loop; here they must just work.
  Tokenizer t = tinyTokenizer();
  std::string prompt;
  while (prompt.size() < 10000)
    prompt += "hello world, 12345 h\xC3\xA9llo\n\n";
  EXPECT_EQ(t.decode(t.encode(prompt, false)), prompt);
  std::string spaces(10000, ' ');
  EXPECT_EQ(t.decode(t.encode(spaces, false)), spaces);
}

//===----------------------------------------------------------------------===//
// tokenizer.json
//===----------------------------------------------------------------------===//

class TokenizerJson : public testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kvcc-tokenizer-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::remove((dir_ + "/tokenizer.json").c_str());
    std::remove((dir_ + "/tokenizer_config.json").c_str());
    rmdir(dir_.c_str());
  }
  std::string write(const std::string &name, const std::string &text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  /// A tokenizer.json for the tiny vocabulary, with `model`, `pre` and
  /// `added` spliced in as JSON text.
  std::string tiny(const std::string &merges, const std::string &pre,
                   const std::string &type = "\"BPE\"",
                   const std::string &normalizer = "null") {
    std::vector<std::pair<std::string, json::Value>> vocab;
    std::vector<std::string> tokens = byteVocab({"he", "ll", "hell", "hello"});
    for (size_t i = 0; i < tokens.size(); ++i)
      vocab.emplace_back(tokens[i], json::Value::number(double(i)));
    return "{\"version\": \"1.0\", \"normalizer\": " + normalizer +
           ", \"pre_tokenizer\": " + pre +
           ", \"added_tokens\": [{\"id\": 260, \"content\": \"<|im_end|>\", "
           "\"special\": true}, {\"id\": 261, \"content\": \"<tool>\", "
           "\"special\": false}], \"model\": {\"type\": " +
           type + ", \"vocab\": " + json::write(json::Value::object(vocab), 0) +
           ", \"merges\": " + merges + "}}";
  }
  std::string dir_;
};

const char *const kByteLevel =
    "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}";
const char *const kSmolPre =
    "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Digits\", "
    "\"individual_digits\": true}, {\"type\": \"ByteLevel\", "
    "\"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}]}";

TEST_F(TokenizerJson, LoadsBothMergeFormatsAndAddedTokens) {
  for (const char *merges : {"[\"h e\", \"l l\", \"he ll\", \"hell o\"]",
                             "[[\"h\", \"e\"], [\"l\", \"l\"], [\"he\", "
                             "\"ll\"], [\"hell\", \"o\"]]"}) {
    std::string path = write("tokenizer.json", tiny(merges, kSmolPre));
    Expected<Tokenizer> t = Tokenizer::fromTokenizerJson(path);
    ASSERT_TRUE(t.ok()) << t.message();
    EXPECT_EQ(t->vocabSize(), 262);
    EXPECT_EQ(t->preTokenizer(), PreTokenizer::SmolLM);
    EXPECT_EQ(t->encode("hello<|im_end|><tool>12", false),
              (std::vector<int32_t>{259, 260, 261, '1', '2'}));
    EXPECT_TRUE(t->isSpecial(260));
    EXPECT_FALSE(t->isSpecial(261));
    EXPECT_EQ(t->bos(), -1);
    EXPECT_EQ(t->eos(), -1);
  }
}

TEST_F(TokenizerJson, ReadsBosAndEosFromTokenizerConfig) {
  std::string path = write("tokenizer.json", tiny("[]", kByteLevel));
  write("tokenizer_config.json",
        "{\"bos_token\": {\"content\": \"hello\"}, \"eos_token\": "
        "\"<|im_end|>\", \"chat_template\": \"x\"}");
  Expected<Tokenizer> t = Tokenizer::fromTokenizerJson(path);
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->preTokenizer(), PreTokenizer::Gpt2);
  EXPECT_EQ(t->bos(), 259);
  EXPECT_EQ(t->eos(), 260);
  write("tokenizer_config.json", "{\"eos_token\": \"<missing>\"}");
  Expected<Tokenizer> bad = Tokenizer::fromTokenizerJson(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("eos_token '<missing>' is not in the vocabulary"),
            std::string::npos)
      << bad.message();
}

TEST_F(TokenizerJson, ErrorsNameTheField) {
  struct Bad {
    std::string text;
    const char *message;
  };
  std::vector<Bad> cases = {
      {"{\"model\": ", "tokenizer.json:1:"},
      {"[]", "top level is not an object"},
      {tiny("[]", kByteLevel, "\"WordPiece\""),
       "model.type 'WordPiece' is not supported"},
      {"{\"model\": {}}", "model.type (an object without a string type)"},
      {tiny("[\"h e\", 7]", kByteLevel),
       "model.merges[1] is neither \"a b\" nor [\"a\", \"b\"]"},
      {tiny("[\"he\"]", kByteLevel),
       "model.merges[0] 'he' is not two tokens separated by a space"},
      {tiny("[[\"h\", \"q\"], [\"x\", \"y\"]]", kByteLevel),
       "merge 0 'h q': the merged token 'hq' is not in the vocabulary"},
      {tiny("{}", kByteLevel), "model.merges is missing or not an array"},
      {tiny("[]", "{\"type\": \"Metaspace\"}"),
       "pre_tokenizer 'Metaspace' is not supported"},
      {tiny("[]", "null"), "pre_tokenizer null is not supported"},
      {tiny("[]", "{\"type\": \"ByteLevel\", \"add_prefix_space\": true}"),
       "add_prefix_space=true is not supported"},
      {tiny("[]", kByteLevel, "\"BPE\"", "{\"type\": \"NFC\"}"),
       "normalizer 'NFC' is not supported"},
      {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1e12}, \"merges\": "
       "[]}, \"pre_tokenizer\": " +
           std::string(kByteLevel) + "}",
       "model.vocab['a']: id 1000000000000 is outside [0, 1)"},
      {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, "
       "\"merges\": []}, \"pre_tokenizer\": " +
           std::string(kByteLevel) + "}",
       "model.vocab['b']: id 0 is both 'a' and 'b'"},
      {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0.5}, \"merges\": "
       "[]}, \"pre_tokenizer\": " +
           std::string(kByteLevel) + "}",
       "model.vocab['a']"},
  };
  for (const Bad &b : cases) {
    std::string path = write("tokenizer.json", b.text);
    Expected<Tokenizer> t = Tokenizer::fromTokenizerJson(path);
    ASSERT_FALSE(t.ok()) << b.message;
    EXPECT_NE(t.message().find(b.message), std::string::npos) << t.message();
    EXPECT_NE(t.message().find("tokenizer.json"), std::string::npos)
        << t.message();
  }
  EXPECT_FALSE(Tokenizer::fromTokenizerJson(dir_ + "/absent.json").ok());
}

} // namespace
