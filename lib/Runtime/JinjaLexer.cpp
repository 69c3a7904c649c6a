//===- JinjaLexer.cpp - The chat-template subset of Jinja: lexer ----------===//
//
// Cuts the source into text and tags and tokenizes each tag. The whitespace
// rules are applied here, where the neighbouring text is at hand: {%- -%},
// and trim_blocks / lstrip_blocks, which Hugging Face turns on when it
// renders chat templates.
//
//===----------------------------------------------------------------------===//
#include "Jinja.h"

#include <algorithm>

namespace kvcc::runtime::jinja {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
public:
  explicit Lexer(std::string_view src) : src_(src) {}

  Status run(std::vector<Item> &items) {
    enum class Trim { None, Newline, All } pending = Trim::None;
    size_t pos = 0;
    while (pos <= src_.size()) {
      size_t open = findTag(pos);
      std::string text(src_.substr(pos, open - pos));
      if (pending == Trim::All) {
        text.erase(0, std::find_if(text.begin(), text.end(),
                                   [](char c) { return !isSpace(c); }) -
                          text.begin());
      } else if (pending == Trim::Newline) { // trim_blocks
        if (text.compare(0, 1, "\n") == 0)
          text.erase(0, 1);
        else if (text.compare(0, 2, "\r\n") == 0)
          text.erase(0, 2);
      }
      pending = Trim::None;
      if (open == src_.size()) {
        pushText(items, std::move(text), pos);
        return Status::success();
      }
      char kind = src_[open + 1];
      size_t p = open + 2;
      bool trimBefore = p < src_.size() && src_[p] == '-';
      if (trimBefore) {
        ++p;
        while (!text.empty() && isSpace(text.back()))
          text.pop_back();
      } else if (kind != '{') {
        lstripBlock(text, pos, open);
      }
      pushText(items, std::move(text), pos);

      if (kind == '#') {
        size_t close = src_.find("#}", p);
        if (close == std::string_view::npos)
          return error("unterminated comment", open);
        pending = close > p && src_[close - 1] == '-' ? Trim::All
                                                      : Trim::Newline;
        pos = close + 2;
        continue;
      }
      Item item{kind == '{' ? Item::K::Output : Item::K::Block, {}, {}, open};
      bool trimAfter = false;
      if (Status s = lexTag(open, p, kind == '{' ? "}}" : "%}", item.toks,
                            trimAfter);
          !s.ok())
        return s;
      if (item.toks.empty())
        return error(kind == '{' ? "empty expression" : "empty tag", open);
      pending = trimAfter                    ? Trim::All
                : item.k == Item::K::Block ? Trim::Newline
                                           : Trim::None;
      items.push_back(std::move(item));
      pos = p;
    }
    return Status::success();
  }

private:
  size_t findTag(size_t pos) const {
    for (size_t i = src_.find('{', pos); i != std::string_view::npos;
         i = src_.find('{', i + 1))
      if (i + 1 < src_.size() &&
          (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
        return i;
    return src_.size();
  }

  static void pushText(std::vector<Item> &items, std::string text,
                       size_t offset) {
    if (!text.empty())
      items.push_back({Item::K::Text, std::move(text), {}, offset});
  }

  /// lstrip_blocks: spaces and tabs between the start of a line and a block
  /// or comment tag are dropped. Only whitespace of this text counts (a tag
  /// earlier on the same line means the tag does not start the line).
  void lstripBlock(std::string &text, size_t textStart, size_t open) const {
    size_t k = open;
    while (k > textStart && (src_[k - 1] == ' ' || src_[k - 1] == '\t'))
      --k;
    if (!(k == 0 || src_[k - 1] == '\n'))
      return;
    text.resize(text.size() - std::min(text.size(), open - k));
  }

  Status lexTag(size_t open, size_t &pos, std::string_view close,
                std::vector<Tok> &toks, bool &trimAfter) {
    while (true) {
      while (pos < src_.size() && isSpace(src_[pos]))
        ++pos;
      if (pos >= src_.size())
        return error("unterminated tag", open);
      if (src_[pos] == '-' && src_.substr(pos + 1, 2) == close) {
        trimAfter = true;
        pos += 3;
        return Status::success();
      }
      if (src_.substr(pos, 2) == close) {
        pos += 2;
        return Status::success();
      }
      size_t start = pos;
      char c = src_[pos];
      if (isIdentStart(c)) {
        while (pos < src_.size() && (isIdentStart(src_[pos]) || isDigit(src_[pos])))
          ++pos;
        toks.push_back({Tok::K::Name, std::string(src_.substr(start, pos - start)),
                        0, start});
      } else if (isDigit(c)) {
        int64_t v = 0;
        for (; pos < src_.size() && isDigit(src_[pos]); ++pos) {
          if (v > (INT64_MAX - 9) / 10)
            return error("integer literal too large", start);
          v = v * 10 + (src_[pos] - '0');
        }
        if (pos < src_.size() && src_[pos] == '.')
          return error("unsupported float literal", start);
        toks.push_back({Tok::K::Int, std::string(src_.substr(start, pos - start)),
                        v, start});
      } else if (c == '\'' || c == '"') {
        std::string s;
        if (Status st = lexString(pos, s); !st.ok())
          return st;
        toks.push_back({Tok::K::Str, std::move(s), 0, start});
      } else {
        static const char *const kOps[] = {"==", "!=", "<=", ">=", "(", ")",
                                           "[",  "]",  ".",  ",",  "|", "+",
                                           "-",  "~",  "<",  ">",  "=",  ":"};
        const char *op = nullptr;
        for (const char *candidate : kOps)
          if (src_.substr(pos, std::char_traits<char>::length(candidate)) ==
              candidate) {
            op = candidate;
            break;
          }
        if (!op)
          return error(std::string("unsupported character '") + c + "'", pos);
        pos += std::char_traits<char>::length(op);
        toks.push_back({Tok::K::Op, op, 0, start});
      }
    }
  }

  /// Python string literal rules for the escapes templates use; an unknown
  /// escape keeps its backslash, as Python does.
  Status lexString(size_t &pos, std::string &out) {
    size_t start = pos;
    char quote = src_[pos++];
    while (pos < src_.size() && src_[pos] != quote) {
      char c = src_[pos++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos >= src_.size())
        break;
      char e = src_[pos++];
      switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '\\': case '\'': case '"': out += e; break;
      default: out += '\\'; out += e; break;
      }
    }
    if (pos >= src_.size())
      return error("unterminated string literal", start);
    ++pos; // closing quote
    return Status::success();
  }

  std::string_view src_;
};


} // namespace

Status error(const std::string &what, size_t offset) {
  return Status::error("chat template: " + what + " at offset " +
                       std::to_string(offset));
}

Status lexTemplate(std::string_view src, std::vector<Item> &items) {
  return Lexer(src).run(items);
}

} // namespace kvcc::runtime::jinja
