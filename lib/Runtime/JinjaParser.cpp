//===- JinjaParser.cpp - The chat-template subset of Jinja: parser --------===//
//
// Recursive descent over the lexer's items builds the tree. Recursion is
// bounded by kMaxNesting in both block structure and expressions, so a
// crafted template cannot overflow the stack.
//
//===----------------------------------------------------------------------===//
#include "Jinja.h"

#include <algorithm>
#include <initializer_list>

namespace kvcc::runtime::jinja {
namespace {

class Parser {
public:
  explicit Parser(std::vector<Item> items) : items_(std::move(items)) {}

  Expected<std::shared_ptr<const Template>> run() {
    auto t = std::make_shared<Template>();
    if (Status s = parseBody(t->body, {}, 0); !s.ok())
      return s;
    return std::shared_ptr<const Template>(std::move(t));
  }

private:
  using ExprPtr = std::unique_ptr<Expr>;

  // --- Block structure --------------------------------------------------===//

  /// Parses nodes until a block tag whose keyword is in `ends` (left
  /// unconsumed for the caller) or, with no `ends`, the end of the source.
  Status parseBody(Body &body, std::initializer_list<const char *> ends,
                   size_t opener) {
    if (++depth_ > kMaxNesting)
      return error("blocks nested deeper than " + std::to_string(kMaxNesting),
                   opener);
    while (i_ < items_.size()) {
      Item &item = items_[i_];
      if (item.k == Item::K::Text) {
        auto n = node(Node::Kind::Text, item.offset);
        n->text = std::move(item.text);
        body.push_back(std::move(n));
        ++i_;
        continue;
      }
      beginTag(item);
      if (item.k == Item::K::Output) {
        auto n = node(Node::Kind::Output, item.offset);
        Expected<ExprPtr> e = fullExpr();
        if (!e)
          return e.status();
        n->expr = e.take();
        body.push_back(std::move(n));
        ++i_;
        continue;
      }
      const Tok &kw = (*toks_)[0];
      if (kw.k != Tok::K::Name)
        return error("a tag must start with a keyword", kw.offset);
      for (const char *end : ends)
        if (kw.text == end) {
          --depth_;
          return Status::success();
        }
      ++t_;
      ++i_;
      Status s = Status::success();
      if (kw.text == "if")
        s = parseIf(body, item.offset);
      else if (kw.text == "for")
        s = parseFor(body, item.offset);
      else if (kw.text == "set")
        s = parseSet(body, item.offset);
      else if (kw.text.rfind("end", 0) == 0 || kw.text == "elif" ||
               kw.text == "else")
        s = error("unexpected '" + kw.text + "'", kw.offset);
      else
        s = error("unsupported tag '" + kw.text + "'", kw.offset);
      if (!s.ok())
        return s;
    }
    if (ends.size() != 0)
      return error(std::string("missing '") + *(ends.end() - 1) +
                       "' for the tag",
                   opener);
    --depth_;
    return Status::success();
  }

  /// At a block tag that parseBody stopped on: its keyword, consumed.
  const std::string &takeKeyword() {
    beginTag(items_[i_]);
    ++i_;
    return (*toks_)[t_++].text;
  }

  Status parseIf(Body &body, size_t offset) {
    auto n = node(Node::Kind::If, offset);
    while (true) {
      // Jinja parses the condition without a conditional expression:
      // `{% if a if b else c %}` is a syntax error there too.
      Expected<ExprPtr> cond = parseOr();
      if (!cond)
        return cond.status();
      if (Status s = expectEnd(); !s.ok())
        return s;
      n->conds.push_back(cond.take());
      Expected<std::string> kw =
          parseBranch(*n, {"elif", "else", "endif"}, offset);
      if (!kw)
        return kw.status();
      if (*kw != "elif")
        return finishBlock(body, std::move(n), *kw, "endif");
    }
  }

  Status parseFor(Body &body, size_t offset) {
    auto n = node(Node::Kind::For, offset);
    if (!peekKind(Tok::K::Name))
      return error("expected a loop variable", here());
    n->text = (*toks_)[t_++].text;
    if (peekOp(","))
      return error("unsupported loop over several variables", here());
    if (!acceptName("in"))
      return error("expected 'in'", here());
    // No conditional expression here: `for x in xs if c` filters in Jinja,
    // which this subset rejects instead of misreading as `xs if c`.
    Expected<ExprPtr> iterable = parseOr();
    if (!iterable)
      return iterable.status();
    n->expr = iterable.take();
    if (peekName("if") || peekName("recursive"))
      return error("unsupported for-loop '" + (*toks_)[t_].text + "'", here());
    if (Status s = expectEnd(); !s.ok())
      return s;
    Expected<std::string> kw = parseBranch(*n, {"else", "endfor"}, offset);
    if (!kw)
      return kw.status();
    return finishBlock(body, std::move(n), *kw, "endfor");
  }

  /// Adds a body to `n`, parsed up to one of `ends`; returns that keyword,
  /// consumed.
  Expected<std::string> parseBranch(Node &n,
                                    std::initializer_list<const char *> ends,
                                    size_t offset) {
    n.bodies.emplace_back();
    if (Status s = parseBody(n.bodies.back(), ends, offset); !s.ok())
      return s;
    return std::string(takeKeyword());
  }

  /// After the last branch of an if/for stopped at `kw`: an optional
  /// {% else %} body, then the `end` tag; `n` joins `body`.
  Status finishBlock(Body &body, std::unique_ptr<Node> n, const std::string &kw,
                     const char *end) {
    if (kw == "else") {
      if (Status s = expectEnd(); !s.ok())
        return s;
      Expected<std::string> last = parseBranch(*n, {end}, n->offset);
      if (!last)
        return last.status();
    }
    if (Status s = expectEnd(); !s.ok())
      return s;
    body.push_back(std::move(n));
    return Status::success();
  }

  Status parseSet(Body &body, size_t offset) {
    auto n = node(Node::Kind::Set, offset);
    if (!peekKind(Tok::K::Name))
      return error("expected a variable name after 'set'", here());
    n->text = (*toks_)[t_++].text;
    if (peekOp("."))
      return error("unsupported attribute assignment (namespace)", here());
    if (!acceptOp("="))
      return error("unsupported block 'set' (expected '=')", here());
    Expected<ExprPtr> e = fullExpr();
    if (!e)
      return e.status();
    n->expr = e.take();
    body.push_back(std::move(n));
    return Status::success();
  }

  // --- Expressions ------------------------------------------------------===//

  /// An expression that must use up the rest of the tag.
  Expected<ExprPtr> fullExpr() {
    Expected<ExprPtr> e = parseExpr();
    if (!e)
      return e;
    if (Status s = expectEnd(); !s.ok())
      return s;
    return e;
  }

  Expected<ExprPtr> parseExpr() {
    Guard guard(*this);
    if (depth_ > kMaxNesting)
      return error("expression nested too deeply", here());
    Expected<ExprPtr> value = parseOr();
    if (!value || !peekName("if"))
      return value;
    auto e = expr(Expr::Kind::Cond, (*toks_)[t_++].offset);
    if (Status s = adopt(*e, value.take()); !s.ok())
      return s;
    Expected<ExprPtr> cond = parseOr();
    if (!cond)
      return cond;
    if (Status s = adopt(*e, cond.take()); !s.ok())
      return s;
    if (acceptName("else")) {
      Expected<ExprPtr> other = parseExpr();
      if (!other)
        return other;
      if (Status s = adopt(*e, other.take()); !s.ok())
        return s;
    }
    return ExprPtr(std::move(e));
  }

  Expected<ExprPtr> parseOr() {
    return parseLeftAssoc({"or"}, &Parser::parseAnd);
  }
  Expected<ExprPtr> parseAnd() {
    return parseLeftAssoc({"and"}, &Parser::parseNot);
  }

  /// `not` binds looser than comparisons: `not a == b` is `not (a == b)`.
  Expected<ExprPtr> parseNot() {
    if (!peekName("not"))
      return parseCompare();
    Guard guard(*this);
    if (depth_ > kMaxNesting)
      return error("expression nested too deeply", here());
    auto e = expr(Expr::Kind::Not, (*toks_)[t_++].offset);
    Expected<ExprPtr> operand = parseNot();
    if (!operand)
      return operand;
    if (Status s = adopt(*e, operand.take()); !s.ok())
      return s;
    return ExprPtr(std::move(e));
  }

  Expected<ExprPtr> parseCompare() {
    return parseLeftAssoc({"==", "!=", "<", ">", "<=", ">=", "in", "not"},
                          &Parser::parseAdd);
  }
  Expected<ExprPtr> parseAdd() {
    return parseLeftAssoc({"+", "-", "~"}, &Parser::parseUnary);
  }

  /// operand (op operand)*, left-associative. "not" among `ops` means
  /// `not in`, built as not(a in b).
  Expected<ExprPtr>
  parseLeftAssoc(std::initializer_list<const char *> ops,
                 Expected<ExprPtr> (Parser::*operand)()) {
    Expected<ExprPtr> first = (this->*operand)();
    if (!first)
      return first;
    ExprPtr left = first.take();
    while (t_ < toks_->size()) {
      const Tok &tok = (*toks_)[t_];
      if (tok.k == Tok::K::Str || tok.k == Tok::K::Int ||
          std::find_if(ops.begin(), ops.end(), [&](const char *op) {
            return tok.text == op;
          }) == ops.end())
        break;
      bool notIn = tok.text == "not";
      if (notIn && !(t_ + 1 < toks_->size() && (*toks_)[t_ + 1].text == "in"))
        break;
      t_ += notIn ? 2 : 1;
      Expected<ExprPtr> rhs = (this->*operand)();
      if (!rhs)
        return rhs;
      auto e = expr(Expr::Kind::Binary, tok.offset);
      e->text = notIn ? "in" : tok.text;
      if (Status s = adopt(*e, std::move(left)); !s.ok())
        return s;
      if (Status s = adopt(*e, rhs.take()); !s.ok())
        return s;
      left = std::move(e);
      if (notIn) {
        auto negated = expr(Expr::Kind::Not, left->offset);
        if (Status s = adopt(*negated, std::move(left)); !s.ok())
          return s;
        left = std::move(negated);
      }
    }
    return ExprPtr(std::move(left));
  }

  Expected<ExprPtr> parseUnary() {
    if (!peekOp("-"))
      return parsePostfix();
    Guard guard(*this);
    if (depth_ > kMaxNesting)
      return error("expression nested too deeply", here());
    auto e = expr(Expr::Kind::Neg, (*toks_)[t_++].offset);
    Expected<ExprPtr> operand = parseUnary();
    if (!operand)
      return operand;
    if (Status s = adopt(*e, operand.take()); !s.ok())
      return s;
    return ExprPtr(std::move(e));
  }

  Expected<ExprPtr> parsePostfix() {
    Expected<ExprPtr> primary = parsePrimary();
    if (!primary)
      return primary;
    ExprPtr e = primary.take();
    while (t_ < toks_->size()) {
      size_t offset = (*toks_)[t_].offset;
      if (acceptOp(".")) {
        if (!peekKind(Tok::K::Name))
          return error("expected an attribute name after '.'", here());
        std::string name = (*toks_)[t_++].text;
        // x.name(...) is a method call; x.name an attribute.
        auto access = expr(peekOp("(") ? Expr::Kind::Call : Expr::Kind::Attr,
                           offset);
        access->text = std::move(name);
        access->number = access->kind == Expr::Kind::Call;
        if (Status s = adopt(*access, std::move(e)); !s.ok())
          return s;
        if (access->kind == Expr::Kind::Call)
          if (Status s = parseArgs(*access); !s.ok())
            return s;
        e = std::move(access);
      } else if (acceptOp("[")) {
        auto index = expr(Expr::Kind::Index, offset);
        if (Status s = adopt(*index, std::move(e)); !s.ok())
          return s;
        if (peekOp(":"))
          return error("unsupported slice", here());
        Expected<ExprPtr> key = parseExpr();
        if (!key)
          return key;
        if (Status s = adopt(*index, key.take()); !s.ok())
          return s;
        if (peekOp(":"))
          return error("unsupported slice", here());
        if (!acceptOp("]"))
          return error("expected ']'", here());
        e = std::move(index);
      } else if (acceptOp("|")) {
        if (!peekKind(Tok::K::Name))
          return error("expected a filter name after '|'", here());
        auto filter = expr(Expr::Kind::Filter, offset);
        filter->text = (*toks_)[t_++].text;
        if (Status s = adopt(*filter, std::move(e)); !s.ok())
          return s;
        if (peekOp("("))
          if (Status s = parseArgs(*filter); !s.ok())
            return s;
        e = std::move(filter);
      } else if (acceptName("is")) {
        auto test = expr(Expr::Kind::Test, offset);
        test->number = acceptName("not") ? 1 : 0;
        if (!peekKind(Tok::K::Name))
          return error("expected a test name after 'is'", here());
        test->text = (*toks_)[t_++].text;
        if (Status s = adopt(*test, std::move(e)); !s.ok())
          return s;
        e = std::move(test);
      } else if (peekOp("(")) {
        if (e->kind != Expr::Kind::Name)
          return error("unsupported call of an expression", here());
        auto call = expr(Expr::Kind::Call, e->offset);
        call->text = e->text;
        if (Status s = parseArgs(*call); !s.ok())
          return s;
        e = std::move(call);
      } else {
        break;
      }
    }
    return ExprPtr(std::move(e));
  }

  /// `(a, b, ...)` appended to e.args; keyword arguments are rejected.
  Status parseArgs(Expr &e) {
    acceptOp("(");
    while (!acceptOp(")")) {
      if (peekKind(Tok::K::Name) && t_ + 1 < toks_->size() &&
          (*toks_)[t_ + 1].text == "=" && (*toks_)[t_ + 1].k == Tok::K::Op)
        return error("unsupported keyword argument", here());
      Expected<ExprPtr> arg = parseExpr();
      if (!arg)
        return arg.status();
      if (Status s = adopt(e, arg.take()); !s.ok())
        return s;
      if (!acceptOp(",") && !peekOp(")"))
        return error("expected ',' or ')'", here());
    }
    return Status::success();
  }

  Expected<ExprPtr> parsePrimary() {
    if (t_ >= toks_->size())
      return error("expected an expression", here());
    const Tok &tok = (*toks_)[t_++];
    switch (tok.k) {
    case Tok::K::Str: {
      auto e = expr(Expr::Kind::Str, tok.offset);
      e->text = tok.text;
      // Adjacent literals concatenate, as in Python.
      while (peekKind(Tok::K::Str))
        e->text += (*toks_)[t_++].text;
      return ExprPtr(std::move(e));
    }
    case Tok::K::Int: {
      auto e = expr(Expr::Kind::Int, tok.offset);
      e->number = tok.number;
      return ExprPtr(std::move(e));
    }
    case Tok::K::Name: {
      const std::string &n = tok.text;
      if (n == "true" || n == "True" || n == "false" || n == "False") {
        auto e = expr(Expr::Kind::Bool, tok.offset);
        e->number = n[0] == 't' || n[0] == 'T';
        return ExprPtr(std::move(e));
      }
      if (n == "none" || n == "None")
        return ExprPtr(expr(Expr::Kind::None, tok.offset));
      if (n == "not" || n == "and" || n == "or" || n == "in" || n == "is" ||
          n == "if" || n == "else")
        return error("unexpected '" + n + "'", tok.offset);
      auto e = expr(Expr::Kind::Name, tok.offset);
      e->text = n;
      return ExprPtr(std::move(e));
    }
    case Tok::K::Op:
      if (tok.text == "(") {
        Expected<ExprPtr> inner = parseExpr();
        if (!inner)
          return inner;
        if (!acceptOp(")"))
          return error("expected ')'", here());
        return inner;
      }
      if (tok.text == "[") {
        auto list = expr(Expr::Kind::List, tok.offset);
        while (!acceptOp("]")) {
          Expected<ExprPtr> element = parseExpr();
          if (!element)
            return element;
          if (Status s = adopt(*list, element.take()); !s.ok())
            return s;
          if (!acceptOp(",") && !peekOp("]"))
            return error("expected ',' or ']'", here());
        }
        return ExprPtr(std::move(list));
      }
      return error("unexpected '" + tok.text + "'", tok.offset);
    }
    return error("unexpected token", tok.offset);
  }

  // --- Helpers ----------------------------------------------------------===//

  struct Guard {
    explicit Guard(Parser &p) : p(p) { ++p.depth_; }
    ~Guard() { --p.depth_; }
    Parser &p;
  };

  void beginTag(const Item &item) {
    toks_ = &item.toks;
    t_ = 0;
    tagOffset_ = item.offset;
  }
  size_t here() const {
    return t_ < toks_->size() ? (*toks_)[t_].offset : tagOffset_;
  }
  bool peekKind(Tok::K k) const { return t_ < toks_->size() && (*toks_)[t_].k == k; }
  bool peekOp(const char *op) const {
    return peekKind(Tok::K::Op) && (*toks_)[t_].text == op;
  }
  bool peekName(const char *name) const {
    return peekKind(Tok::K::Name) && (*toks_)[t_].text == name;
  }
  bool acceptOp(const char *op) { return peekOp(op) ? (++t_, true) : false; }
  bool acceptName(const char *n) { return peekName(n) ? (++t_, true) : false; }
  Status expectEnd() const {
    if (t_ < toks_->size())
      return error("unexpected '" + (*toks_)[t_].text + "'", here());
    return Status::success();
  }
  static std::unique_ptr<Node> node(Node::Kind k, size_t offset) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->offset = offset;
    return n;
  }
  /// Appends `child` to `parent`'s arguments. Evaluating and destroying the
  /// tree recurse once per level, and chains (a.b.c, a[0][0], x|f|g,
  /// a + b + c, ...) are built by loops that kMaxNesting does not count, so
  /// every node's height is bounded here, before the tree can grow past it.
  Status adopt(Expr &parent, ExprPtr child) {
    if (child->height >= kMaxExprHeight)
      return error("expression more than " + std::to_string(kMaxExprHeight) +
                       " levels deep",
                   child->offset);
    parent.height = std::max(parent.height, child->height + 1);
    parent.args.push_back(std::move(child));
    return Status::success();
  }

  static std::unique_ptr<Expr> expr(Expr::Kind k, size_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->offset = offset;
    return e;
  }

  std::vector<Item> items_;
  size_t i_ = 0;
  int depth_ = 0;
  const std::vector<Tok> *toks_ = nullptr;
  size_t t_ = 0;
  size_t tagOffset_ = 0;
};


} // namespace

Expected<std::shared_ptr<const Template>> parseTemplate(std::string_view src) {
  if (src.size() > kMaxSourceBytes)
    return Status::error("chat template: " + std::to_string(src.size()) +
                         " bytes exceed the limit of " +
                         std::to_string(kMaxSourceBytes));
  // Jinja drops one newline at the very end (keep_trailing_newline=False).
  if (src.size() >= 2 && src.substr(src.size() - 2) == "\r\n")
    src.remove_suffix(2);
  else if (!src.empty() && (src.back() == '\n' || src.back() == '\r'))
    src.remove_suffix(1);
  std::vector<Item> items;
  if (Status s = lexTemplate(src, items); !s.ok())
    return s;
  return Parser(std::move(items)).run();
}

} // namespace kvcc::runtime::jinja
