//===- ChatTemplate.cpp - The chat-template subset of Jinja: evaluation ---===//
//
// A tree walk over jinja::Template with Python's semantics where templates
// observe them: truthiness, `and`/`or` returning an operand, negative list
// indices, True == 1. A missing dict key or variable is Jinja's Undefined: it
// renders as "" and is false, but taking an attribute or item of it is an
// error (as in Jinja), which catches templates that expect other variables.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/ChatTemplate.h"

#include "Jinja.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

namespace kvcc::runtime {
namespace {

using jinja::Expr;
using jinja::Node;

constexpr size_t kMaxListSize = 1 << 20;

struct Value {
  enum class K { Undefined, None, Bool, Int, Str, List, Dict } k = K::Undefined;
  bool b = false;
  int64_t i = 0;
  std::string s;
  std::shared_ptr<const std::vector<Value>> list;
  std::shared_ptr<const std::vector<std::pair<std::string, Value>>> dict;

  static Value boolean(bool v) { Value r; r.k = K::Bool; r.b = v; return r; }
  static Value integer(int64_t v) { Value r; r.k = K::Int; r.i = v; return r; }
  static Value str(std::string v) { Value r; r.k = K::Str; r.s = std::move(v); return r; }
  static Value makeList(std::vector<Value> v) {
    Value r;
    r.k = K::List;
    r.list = std::make_shared<const std::vector<Value>>(std::move(v));
    return r;
  }
  static Value makeDict(std::vector<std::pair<std::string, Value>> v) {
    Value r;
    r.k = K::Dict;
    r.dict = std::make_shared<const std::vector<std::pair<std::string, Value>>>(
        std::move(v));
    return r;
  }
};

const char *typeName(const Value &v) {
  switch (v.k) {
  case Value::K::Undefined: return "undefined";
  case Value::K::None: return "none";
  case Value::K::Bool: return "boolean";
  case Value::K::Int: return "integer";
  case Value::K::Str: return "string";
  case Value::K::List: return "list";
  case Value::K::Dict: return "dict";
  }
  return "?";
}

bool truthy(const Value &v) {
  switch (v.k) {
  case Value::K::Undefined: case Value::K::None: return false;
  case Value::K::Bool: return v.b;
  case Value::K::Int: return v.i != 0;
  case Value::K::Str: return !v.s.empty();
  case Value::K::List: return !v.list->empty();
  case Value::K::Dict: return !v.dict->empty();
  }
  return false;
}

bool isNumeric(const Value &v) { return v.k == Value::K::Int || v.k == Value::K::Bool; }
int64_t numeric(const Value &v) { return v.k == Value::K::Bool ? v.b : v.i; }

bool equal(const Value &a, const Value &b) {
  if (isNumeric(a) && isNumeric(b))
    return numeric(a) == numeric(b);
  if (a.k != b.k)
    return false;
  switch (a.k) {
  case Value::K::Str: return a.s == b.s;
  case Value::K::List:
    return a.list->size() == b.list->size() &&
           std::equal(a.list->begin(), a.list->end(), b.list->begin(), equal);
  case Value::K::Dict:
    return a.dict->size() == b.dict->size() &&
           std::equal(a.dict->begin(), a.dict->end(), b.dict->begin(),
                      [](const auto &x, const auto &y) {
                        return x.first == y.first && equal(x.second, y.second);
                      });
  default: return true; // Undefined, None
  }
}

const Value *dictGet(const Value &dict, std::string_view key) {
  for (const auto &[k, v] : *dict.dict)
    if (k == key)
      return &v;
  return nullptr;
}

std::string strip(std::string_view s, bool left, bool right) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
  };
  size_t b = 0, e = s.size();
  while (left && b < e && space(s[b]))
    ++b;
  while (right && e > b && space(s[e - 1]))
    --e;
  return std::string(s.substr(b, e - b));
}

std::string changeCase(std::string s, bool upper) {
  for (char &c : s) // ASCII only: templates apply it to role names.
    if (upper && c >= 'a' && c <= 'z')
      c = static_cast<char>(c - 'a' + 'A');
    else if (!upper && c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return s;
}

class Evaluator {
public:
  explicit Evaluator(std::vector<std::pair<std::string, Value>> globals) {
    scopes_.push_back(std::move(globals));
  }

  Status exec(const jinja::Body &body) {
    for (const auto &node : body)
      if (Status s = execNode(*node); !s.ok())
        return s;
    return Status::success();
  }

  std::string takeOutput() { return std::move(out_); }

private:
  Status error(const std::string &what, size_t offset) const {
    return Status::error("chat template: " + what + " at offset " +
                         std::to_string(offset));
  }

  /// Charges evaluation work: one step per node plus one per 64 bytes of
  /// string a node produces, so big strings cannot buy unbounded time.
  Status step(size_t offset, size_t bytes = 0) {
    steps_ += 1 + static_cast<int64_t>(bytes / 64);
    if (steps_ > jinja::kMaxSteps)
      return error("evaluation exceeds " + std::to_string(jinja::kMaxSteps) +
                       " steps",
                   offset);
    return Status::success();
  }

  Status emit(std::string_view text, size_t offset) {
    if (out_.size() + text.size() > jinja::kMaxOutputBytes)
      return error("output exceeds " + std::to_string(jinja::kMaxOutputBytes) +
                       " bytes",
                   offset);
    out_ += text;
    return Status::success();
  }

  Expected<std::string> render(const Value &v, size_t offset) const {
    switch (v.k) {
    case Value::K::Undefined: return std::string();
    case Value::K::None: return std::string("None");
    case Value::K::Bool: return std::string(v.b ? "True" : "False");
    case Value::K::Int: return std::to_string(v.i);
    case Value::K::Str: return v.s;
    default: return error(std::string("cannot render a ") + typeName(v), offset);
    }
  }

  Status execNode(const Node &n) {
    if (Status s = step(n.offset); !s.ok())
      return s;
    switch (n.kind) {
    case Node::Kind::Text:
      return emit(n.text, n.offset);
    case Node::Kind::Output: {
      Expected<Value> v = eval(*n.expr);
      if (!v)
        return v.status();
      Expected<std::string> text = render(*v, n.expr->offset);
      if (!text)
        return text.status();
      return emit(*text, n.offset);
    }
    case Node::Kind::If:
      for (size_t c = 0; c < n.conds.size(); ++c) {
        Expected<Value> cond = eval(*n.conds[c]);
        if (!cond)
          return cond.status();
        if (truthy(*cond))
          return exec(n.bodies[c]);
      }
      return n.bodies.size() > n.conds.size() ? exec(n.bodies.back())
                                              : Status::success();
    case Node::Kind::For:
      return execFor(n);
    case Node::Kind::Set: {
      Expected<Value> v = eval(*n.expr);
      if (!v)
        return v.status();
      assign(n.text, v.take());
      return Status::success();
    }
    }
    return Status::success();
  }

  Status execFor(const Node &n) {
    Expected<Value> iterable = eval(*n.expr);
    if (!iterable)
      return iterable.status();
    // Hold the list itself (values are immutable and shared), not a copy.
    std::shared_ptr<const std::vector<Value>> list = iterable->list;
    if (iterable->k == Value::K::Dict) {
      std::vector<Value> keys;
      for (const auto &member : *iterable->dict)
        keys.push_back(Value::str(member.first));
      list = std::make_shared<const std::vector<Value>>(std::move(keys));
    } else if (iterable->k != Value::K::List &&
               iterable->k != Value::K::Undefined) { // undefined: empty
      return error(std::string("cannot iterate over a ") + typeName(*iterable),
                   n.expr->offset);
    }
    if (!list || list->empty())
      return n.bodies.size() > 1 ? exec(n.bodies[1]) : Status::success();
    const std::vector<Value> &items = *list;
    int64_t length = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < length; ++i) {
      Value loop = Value::makeDict({
          {"index0", Value::integer(i)},
          {"index", Value::integer(i + 1)},
          {"revindex0", Value::integer(length - 1 - i)},
          {"revindex", Value::integer(length - i)},
          {"first", Value::boolean(i == 0)},
          {"last", Value::boolean(i == length - 1)},
          {"length", Value::integer(length)},
      });
      // Variables set inside the body stay inside it, as in Jinja.
      if (Status s = step(n.offset, items[i].s.size()); !s.ok())
        return s;
      scopes_.push_back({{n.text, items[i]}, {"loop", std::move(loop)}});
      Status s = exec(n.bodies[0]);
      scopes_.pop_back();
      if (!s.ok())
        return s;
    }
    return Status::success();
  }

  void assign(const std::string &name, Value v) {
    for (auto &[k, old] : scopes_.back())
      if (k == name) {
        old = std::move(v);
        return;
      }
    scopes_.back().emplace_back(name, std::move(v));
  }

  Value lookup(const std::string &name) const {
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope)
      for (const auto &[k, v] : *scope)
        if (k == name)
          return v;
    return Value();
  }

  Expected<Value> eval(const Expr &e) {
    if (Status s = step(e.offset); !s.ok())
      return s;
    Expected<Value> v = evalNode(e);
    if (v && v->k == Value::K::Str) {
      if (v->s.size() > jinja::kMaxOutputBytes)
        return error("string exceeds " +
                         std::to_string(jinja::kMaxOutputBytes) + " bytes",
                     e.offset);
      if (Status s = step(e.offset, v->s.size()); !s.ok())
        return s;
    }
    if (v && v->k == Value::K::List && v->list->size() > kMaxListSize)
      return error("list exceeds " + std::to_string(kMaxListSize) + " items",
                   e.offset);
    return v;
  }

  Expected<Value> evalNode(const Expr &e) {
    switch (e.kind) {
    case Expr::Kind::Str: return Value::str(e.text);
    case Expr::Kind::Int: return Value::integer(e.number);
    case Expr::Kind::Bool: return Value::boolean(e.number != 0);
    case Expr::Kind::None: { Value v; v.k = Value::K::None; return v; }
    case Expr::Kind::Name: return lookup(e.text);
    case Expr::Kind::List: {
      std::vector<Value> items;
      if (Status s = evalArgs(e, items); !s.ok())
        return s;
      return Value::makeList(std::move(items));
    }
    case Expr::Kind::Not: {
      Expected<Value> v = eval(*e.args[0]);
      if (!v)
        return v;
      return Value::boolean(!truthy(*v));
    }
    case Expr::Kind::Neg: {
      Expected<Value> v = eval(*e.args[0]);
      if (!v)
        return v;
      if (!isNumeric(*v) || numeric(*v) == std::numeric_limits<int64_t>::min())
        return error(std::string("cannot negate a ") + typeName(*v), e.offset);
      return Value::integer(-numeric(*v));
    }
    case Expr::Kind::Cond: {
      Expected<Value> cond = eval(*e.args[1]);
      if (!cond)
        return cond;
      if (truthy(*cond))
        return eval(*e.args[0]);
      return e.args.size() > 2 ? eval(*e.args[2]) : Value();
    }
    case Expr::Kind::Attr:
    case Expr::Kind::Index:
      return evalAccess(e);
    case Expr::Kind::Binary:
      return evalBinary(e);
    case Expr::Kind::Filter:
    case Expr::Kind::Test:
    case Expr::Kind::Call:
      return evalFunction(e);
    }
    return error("unknown expression", e.offset);
  }

  Status evalArgs(const Expr &e, std::vector<Value> &out) {
    for (const auto &arg : e.args) {
      Expected<Value> v = eval(*arg);
      if (!v)
        return v.status();
      out.push_back(v.take());
    }
    return Status::success();
  }

  Expected<Value> evalAccess(const Expr &e) {
    Expected<Value> base = eval(*e.args[0]);
    if (!base)
      return base;
    Value key = Value::str(e.text);
    if (e.kind == Expr::Kind::Index) {
      Expected<Value> k = eval(*e.args[1]);
      if (!k)
        return k;
      key = k.take();
    }
    auto describe = [&] {
      Expected<std::string> k = render(key, e.offset);
      return k ? "'" + *k + "'" : std::string("a ") + typeName(key);
    };
    if (base->k == Value::K::Undefined)
      return error("undefined value has no " +
                       std::string(e.kind == Expr::Kind::Attr ? "attribute "
                                                              : "item ") +
                       describe(),
                   e.offset);
    if (base->k == Value::K::Dict && key.k == Value::K::Str) {
      const Value *v = dictGet(*base, key.s);
      return v ? *v : Value();
    }
    if ((base->k == Value::K::List || base->k == Value::K::Str) &&
        isNumeric(key)) {
      int64_t size = base->k == Value::K::List
                         ? static_cast<int64_t>(base->list->size())
                         : static_cast<int64_t>(base->s.size());
      int64_t i = numeric(key);
      if (i < 0)
        i += size;
      if (i < 0 || i >= size)
        return Value(); // Jinja: out of range is undefined
      if (base->k == Value::K::List)
        return (*base->list)[i];
      return Value::str(std::string(1, base->s[i]));
    }
    return Value();
  }

  Expected<Value> evalBinary(const Expr &e) {
    const std::string &op = e.text;
    Expected<Value> lhs = eval(*e.args[0]);
    if (!lhs)
      return lhs;
    // and/or short-circuit and yield an operand (Python semantics).
    if (op == "and")
      return truthy(*lhs) ? eval(*e.args[1]) : lhs;
    if (op == "or")
      return truthy(*lhs) ? lhs : eval(*e.args[1]);
    Expected<Value> rhs = eval(*e.args[1]);
    if (!rhs)
      return rhs;
    const Value &a = *lhs, &b = *rhs;
    if (op == "==" || op == "!=")
      return Value::boolean(equal(a, b) == (op == "=="));
    if (op == "~") {
      Expected<std::string> x = render(a, e.offset), y = render(b, e.offset);
      if (!x)
        return x.status();
      if (!y)
        return y.status();
      return Value::str(*x + *y);
    }
    if (op == "in") {
      if (a.k == Value::K::Str && b.k == Value::K::Str)
        // memmem is linear (two-way); std::string::find can be quadratic.
        return Value::boolean(a.s.empty() || memmem(b.s.data(), b.s.size(),
                                                    a.s.data(),
                                                    a.s.size()) != nullptr);
      if (b.k == Value::K::List)
        return Value::boolean(std::any_of(
            b.list->begin(), b.list->end(),
            [&](const Value &x) { return equal(a, x); }));
      if (b.k == Value::K::Dict && a.k == Value::K::Str)
        return Value::boolean(dictGet(b, a.s) != nullptr);
    } else if (isNumeric(a) && isNumeric(b)) {
      int64_t x = numeric(a), y = numeric(b), r;
      if (op == "+" && !__builtin_add_overflow(x, y, &r))
        return Value::integer(r);
      if (op == "-" && !__builtin_sub_overflow(x, y, &r))
        return Value::integer(r);
      if (op == "<") return Value::boolean(x < y);
      if (op == ">") return Value::boolean(x > y);
      if (op == "<=") return Value::boolean(x <= y);
      if (op == ">=") return Value::boolean(x >= y);
    } else if (a.k == Value::K::Str && b.k == Value::K::Str) {
      if (op == "+") return Value::str(a.s + b.s);
      if (op == "<") return Value::boolean(a.s < b.s);
      if (op == ">") return Value::boolean(a.s > b.s);
      if (op == "<=") return Value::boolean(a.s <= b.s);
      if (op == ">=") return Value::boolean(a.s >= b.s);
    } else if (a.k == Value::K::List && b.k == Value::K::List && op == "+") {
      std::vector<Value> joined = *a.list;
      joined.insert(joined.end(), b.list->begin(), b.list->end());
      return Value::makeList(std::move(joined));
    }
    return error("cannot apply '" + op + "' to a " + typeName(a) + " and a " +
                     typeName(b),
                 e.offset);
  }

  Expected<Value> evalFunction(const Expr &e) {
    bool hasSubject = e.kind != Expr::Kind::Call || e.number == 1;
    std::vector<Value> args;
    if (Status s = evalArgs(e, args); !s.ok())
      return s;
    const std::string &name = e.text;
    size_t extra = args.size() - (hasSubject ? 1 : 0);
    if (e.kind == Expr::Kind::Test && extra == 0) {
      const Value &x = args[0];
      bool r;
      if (name == "defined") r = x.k != Value::K::Undefined;
      else if (name == "undefined") r = x.k == Value::K::Undefined;
      else if (name == "none") r = x.k == Value::K::None;
      else if (name == "string") r = x.k == Value::K::Str;
      else if (name == "number" || name == "integer") r = x.k == Value::K::Int;
      else if (name == "boolean") r = x.k == Value::K::Bool;
      else return error("unsupported test '" + name + "'", e.offset);
      return Value::boolean(r != (e.number == 1));
    }
    if (e.kind == Expr::Kind::Call && !hasSubject) {
      if (name == "raise_exception" && args.size() == 1) {
        Expected<std::string> msg = render(args[0], e.offset);
        return error("raise_exception(" + (msg ? *msg : std::string()) + ")",
                     e.offset);
      }
      return error("unsupported function '" + name + "'", e.offset);
    }
    // Filters and string methods, both applied to args[0].
    const Value &x = args[0];
    bool filter = e.kind == Expr::Kind::Filter;
    if (filter && name == "default" && extra <= 1)
      return x.k != Value::K::Undefined ? x : extra ? args[1] : Value::str("");
    if (filter && name == "length" && extra == 0) {
      if (x.k == Value::K::List)
        return Value::integer(static_cast<int64_t>(x.list->size()));
      if (x.k == Value::K::Dict)
        return Value::integer(static_cast<int64_t>(x.dict->size()));
      if (x.k == Value::K::Str) // characters, as Python counts them
        return Value::integer(std::count_if(x.s.begin(), x.s.end(), [](char c) {
          return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        }));
    }
    if (x.k == Value::K::Str && extra == 0) {
      if (name == (filter ? "trim" : "strip")) return Value::str(strip(x.s, true, true));
      if (!filter && name == "lstrip") return Value::str(strip(x.s, true, false));
      if (!filter && name == "rstrip") return Value::str(strip(x.s, false, true));
      if (name == "upper") return Value::str(changeCase(x.s, true));
      if (name == "lower") return Value::str(changeCase(x.s, false));
    }
    if (!filter && x.k == Value::K::Str && extra == 1 &&
        args[1].k == Value::K::Str) {
      if (name == "startswith")
        return Value::boolean(x.s.compare(0, args[1].s.size(), args[1].s) == 0);
      if (name == "endswith")
        return Value::boolean(x.s.size() >= args[1].s.size() &&
                              x.s.compare(x.s.size() - args[1].s.size(),
                                          args[1].s.size(), args[1].s) == 0);
    }
    return error(std::string("unsupported ") + (filter ? "filter '" : "method '") +
                     name + "' on a " + typeName(x) + " with " +
                     std::to_string(extra) + " arguments",
                 e.offset);
  }

  std::vector<std::vector<std::pair<std::string, Value>>> scopes_;
  std::string out_;
  int64_t steps_ = 0;
};

} // namespace

Expected<ChatTemplate> ChatTemplate::parse(std::string_view source) {
  Expected<std::shared_ptr<const jinja::Template>> t =
      jinja::parseTemplate(source);
  if (!t)
    return t.status();
  return ChatTemplate(t.take());
}

Expected<std::string>
ChatTemplate::render(const std::vector<ChatMessage> &messages,
                     bool addGenerationPrompt, std::string_view bosToken,
                     std::string_view eosToken) const {
  std::vector<Value> list;
  list.reserve(messages.size());
  for (const ChatMessage &m : messages)
    list.push_back(Value::makeDict(
        {{"role", Value::str(m.role)}, {"content", Value::str(m.content)}}));
  Evaluator evaluator({
      {"messages", Value::makeList(std::move(list))},
      {"add_generation_prompt", Value::boolean(addGenerationPrompt)},
      {"bos_token", Value::str(std::string(bosToken))},
      {"eos_token", Value::str(std::string(eosToken))},
  });
  if (Status s = evaluator.exec(template_->body); !s.ok())
    return s;
  return evaluator.takeOutput();
}

Expected<std::string> renderChatTemplate(std::string_view source,
                                         const std::vector<ChatMessage> &messages,
                                         bool addGenerationPrompt,
                                         std::string_view bosToken,
                                         std::string_view eosToken) {
  Expected<ChatTemplate> t = ChatTemplate::parse(source);
  if (!t)
    return t.status();
  return t->render(messages, addGenerationPrompt, bosToken, eosToken);
}

} // namespace kvcc::runtime
