//===- TokenizerJson.cpp - Tokenizer from a Hugging Face tokenizer.json ---===//
//
// Only the byte-level BPE shape is accepted; every other model, normalizer or
// pre-tokenizer is refused by name rather than tokenized differently from the
// model's training (which would fail silently, as bad generations).
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/Tokenizer.h"

#include "kvcc/Support/File.h"
#include "kvcc/Support/Json.h"

#include <cstdio>

namespace kvcc::runtime {
namespace {

using json::Value;

Expected<Value> readJson(const std::string &path) {
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.status();
  return json::parse(*text, path);
}

/// The "type" member of an object, or a description of what stands there.
std::string typeOf(const Value *v) {
  if (!v)
    return "(missing)";
  if (v->isNull())
    return "null";
  if (!v->isObject())
    return std::string("a ") + json::kindName(v->kind());
  const Value *type = v->get("type");
  return type && type->isString() ? "'" + type->asString() + "'"
                                  : "(an object without a string type)";
}

bool isFlag(const Value &obj, std::string_view key, bool fallback) {
  const Value *v = obj.get(key);
  return v && v->isBool() ? v->asBool() : fallback;
}

Status checkByteLevel(const Value &v, const std::string &where) {
  if (isFlag(v, "add_prefix_space", false))
    return Status::error(where + ": ByteLevel add_prefix_space=true is not "
                                 "supported");
  if (!isFlag(v, "use_regex", true))
    return Status::error(where + ": ByteLevel use_regex=false is not supported");
  return Status::success();
}

Expected<PreTokenizer> readPreTokenizer(const Value &root,
                                        const std::string &file) {
  const Value *pre = root.get("pre_tokenizer");
  std::string where = file + ": pre_tokenizer";
  std::string type = typeOf(pre);
  if (type == "'ByteLevel'") {
    if (Status s = checkByteLevel(*pre, where); !s.ok())
      return s;
    return PreTokenizer::Gpt2;
  }
  if (type == "'Sequence'") {
    const Value *list = pre->get("pretokenizers");
    if (list && list->isArray() && list->asArray().size() == 2 &&
        typeOf(&list->asArray()[0]) == "'Digits'" &&
        isFlag(list->asArray()[0], "individual_digits", false) &&
        typeOf(&list->asArray()[1]) == "'ByteLevel'") {
      if (Status s = checkByteLevel(list->asArray()[1], where); !s.ok())
        return s;
      return PreTokenizer::SmolLM;
    }
    return Status::error(where + ": this Sequence is not supported (expected "
                                 "[Digits(individual_digits), ByteLevel])");
  }
  return Status::error(where + " " + type + " is not supported (expected "
                               "ByteLevel or Sequence[Digits, ByteLevel])");
}

/// Places `text` at `id`; two different spellings for one id are an error.
Status place(std::vector<std::string> &tokens, std::vector<bool> &filled,
             int64_t id, const std::string &text, const std::string &where) {
  if (id < 0 || id >= static_cast<int64_t>(tokens.size()))
    return Status::error(where + ": id " + std::to_string(id) +
                         " is outside [0, " + std::to_string(tokens.size()) +
                         ") (ids must be dense)");
  if (filled[id] && tokens[id] != text)
    return Status::error(where + ": id " + std::to_string(id) + " is both '" +
                         tokens[id] + "' and '" + text + "'");
  tokens[id] = text;
  filled[id] = true;
  return Status::success();
}

/// bos_token / eos_token of tokenizer_config.json: a string, an AddedToken
/// object with "content", null, or absent. -1 when there is none.
Expected<int64_t> configToken(const Value &config, const char *key,
                              const Tokenizer &t, const std::string &file) {
  const Value *v = config.get(key);
  if (!v || v->isNull())
    return int64_t(-1);
  const Value *content = v->isObject() ? v->get("content") : v;
  if (!content || !content->isString())
    return Status::error(file + ": " + key + " is neither a string nor an "
                         "object with a string 'content'");
  int32_t id = t.tokenId(content->asString());
  if (id < 0)
    return Status::error(file + ": " + key + " '" + content->asString() +
                         "' is not in the vocabulary");
  return int64_t(id);
}

} // namespace

Expected<Tokenizer> Tokenizer::fromTokenizerJson(const std::string &path) {
  Expected<Value> parsed = readJson(path);
  if (!parsed)
    return parsed.status();
  const Value &root = *parsed;
  if (!root.isObject())
    return Status::error(path + ": the top level is not an object");

  const Value *model = root.get("model");
  if (typeOf(model) != "'BPE'")
    return Status::error(path + ": model.type " + typeOf(model) +
                         " is not supported (expected 'BPE')");
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const Value *v = model->get(key);
    if (v && v->isString() && !v->asString().empty())
      return Status::error(path + ": model." + key + " '" + v->asString() +
                           "' is not supported");
  }
  if (const Value *n = root.get("normalizer"); n && !n->isNull())
    return Status::error(path + ": normalizer " + typeOf(n) +
                         " is not supported (expected null)");
  Expected<PreTokenizer> pre = readPreTokenizer(root, path);
  if (!pre)
    return pre.status();

  const Value *vocab = model->get("vocab");
  if (!vocab || !vocab->isObject())
    return Status::error(path + ": model.vocab is missing or not an object");
  const Value *added = root.get("added_tokens");
  if (added && !added->isNull() && !added->isArray())
    return Status::error(path + ": added_tokens is not an array");
  size_t numAdded = added && added->isArray() ? added->asArray().size() : 0;

  // Ids must be dense: bounding them by the number of entries also bounds
  // memory against a hostile id like 2^40.
  size_t size = vocab->asObject().size() + numAdded;
  std::vector<std::string> tokens(size);
  std::vector<bool> filled(size, false);
  std::vector<int32_t> types(size, int32_t(TokenType::Normal));
  for (const auto &[token, idValue] : vocab->asObject()) {
    std::string where = path + ": model.vocab['" + token + "']";
    Expected<int64_t> id = json::toInt(idValue, where);
    if (!id)
      return id.status();
    if (Status s = place(tokens, filled, *id, token, where); !s.ok())
      return s;
  }
  for (size_t i = 0; i < numAdded; ++i) {
    const Value &entry = added->asArray()[i];
    std::string where = path + ": added_tokens[" + std::to_string(i) + "]";
    if (!entry.isObject())
      return Status::error(where + " is not an object");
    Expected<int64_t> id = entry.getInt("id");
    if (!id)
      return Status::error(where + ": " + id.message());
    Expected<std::string> content = entry.getString("content");
    if (!content)
      return Status::error(where + ": " + content.message());
    if (Status s = place(tokens, filled, *id, *content, where); !s.ok())
      return s;
    // lstrip/rstrip/single_word/normalized are ignored: chat models set them
    // false, and matching stays verbatim.
    types[*id] = isFlag(entry, "special", false) ? int32_t(TokenType::Control)
                                                 : int32_t(TokenType::UserDefined);
  }
  // Trailing room that nobody claimed (added tokens that repeat vocab
  // entries) is dropped; a hole inside the range stays an unused empty token.
  while (!filled.empty() && !filled.back()) {
    filled.pop_back();
    tokens.pop_back();
    types.pop_back();
  }
  for (size_t id = 0; id < filled.size(); ++id)
    if (!filled[id])
      types[id] = int32_t(TokenType::Unused);

  const Value *merges = model->get("merges");
  if (!merges || !merges->isArray())
    return Status::error(path + ": model.merges is missing or not an array");
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(merges->asArray().size());
  for (size_t i = 0; i < merges->asArray().size(); ++i) {
    const Value &m = merges->asArray()[i];
    std::string where = path + ": model.merges[" + std::to_string(i) + "]";
    if (m.isString()) { // "left right"
      const std::string &s = m.asString();
      size_t space = s.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == s.size() ||
          s.find(' ', space + 1) != std::string::npos)
        return Status::error(where + " '" + s +
                             "' is not two tokens separated by a space");
      pairs.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.isArray() && m.asArray().size() == 2 &&
               m.asArray()[0].isString() && m.asArray()[1].isString()) {
      pairs.emplace_back(m.asArray()[0].asString(), m.asArray()[1].asString());
    } else {
      return Status::error(where + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }

  Expected<Tokenizer> t = fromMergePairs(std::move(tokens), pairs,
                                         std::move(types), *pre, -1, -1);
  if (!t)
    return Status::error(path + ": " + t.message());

  // bos/eos live in tokenizer_config.json beside tokenizer.json.
  size_t slash = path.find_last_of('/');
  std::string config =
      (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) +
      "tokenizer_config.json";
  if (std::FILE *f = std::fopen(config.c_str(), "rb")) {
    std::fclose(f);
    Expected<Value> configJson = readJson(config);
    if (!configJson)
      return configJson.status();
    Expected<int64_t> bos = configToken(*configJson, "bos_token", *t, config);
    if (!bos)
      return bos.status();
    Expected<int64_t> eos = configToken(*configJson, "eos_token", *t, config);
    if (!eos)
      return eos.status();
    t->bos_ = *bos;
    t->eos_ = *eos;
  }
  return t;
}

} // namespace kvcc::runtime
