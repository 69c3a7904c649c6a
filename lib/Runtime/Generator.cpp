//===- Generator.cpp - Text in, text out, over an Executor ----------------===//
//
// The decode loop feeds back only the tokens it needs next: n generated
// tokens after a prompt of p cost p + n - 1 tokens of cache (the last sampled
// token is never fed), which is what the context checks below count.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/Generator.h"

#include "kvcc/Frontend/GGUF.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace kvcc::runtime {
namespace {

using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

Expected<Tokenizer> tokenizerFromGGUF(const GGUFFile &f) {
  const std::string &path = f.path();
  Expected<std::string> model = f.tokenizerModel();
  if (!model)
    return model.status();
  if (*model != "gpt2")
    return Status::error(path + ": tokenizer.ggml.model '" + *model +
                         "' is not supported (kvcc runs byte-level BPE tokenizers: 'gpt2')");
  PreTokenizer pre = PreTokenizer::Gpt2;
  if (f.has("tokenizer.ggml.pre")) {
    Expected<std::string> p = f.getString("tokenizer.ggml.pre");
    if (!p)
      return p.status();
    // Other pre-tokenizers (llama-bpe, qwen2, ...) split text with other
    // regexes; tokenizing them as gpt2 would silently change the prompt.
    if (*p == "smollm")
      pre = PreTokenizer::SmolLM;
    else if (*p != "gpt2" && *p != "default")
      return Status::error(path + ": tokenizer.ggml.pre '" + *p +
                           "' is not supported (supported: gpt2, default, smollm)");
  }
  Expected<std::vector<std::string>> tokens = f.tokenizerTokens();
  if (!tokens)
    return tokens.status();
  Expected<std::vector<std::string>> merges = f.tokenizerMerges();
  if (!merges)
    return merges.status();
  std::vector<int32_t> types;
  if (f.has("tokenizer.ggml.token_type")) {
    Expected<std::vector<int64_t>> t = f.tokenizerTokenTypes();
    if (!t)
      return t.status();
    for (size_t i = 0; i < t->size(); ++i) {
      int64_t v = (*t)[i];
      if (v < INT32_MIN || v > INT32_MAX)
        return Status::error(path + ": tokenizer.ggml.token_type[" + std::to_string(i) + "] is " +
                             std::to_string(v));
      types.push_back(static_cast<int32_t>(v));
    }
  }
  int64_t bos = -1, eos = -1;
  if (f.has("tokenizer.ggml.bos_token_id")) {
    Expected<int64_t> b = f.bosTokenId();
    if (!b)
      return b.status();
    bos = *b;
  }
  if (f.has("tokenizer.ggml.eos_token_id")) {
    Expected<int64_t> e = f.eosTokenId();
    if (!e)
      return e.status();
    eos = *e;
  }
  Expected<Tokenizer> tok = Tokenizer::fromVocab(tokens.take(), merges.take(), std::move(types), pre, bos, eos);
  if (!tok)
    return Status::error(path + ": " + tok.message());
  return tok;
}

} // namespace

Expected<Tokenizer> loadTokenizer(const ModelSource &source) {
  if (const GGUFFile *g = source.gguf())
    return tokenizerFromGGUF(*g);
  if (source.tokenizerJsonPath().empty())
    return Status::error(source.path() + ": no tokenizer.json next to the model");
  return Tokenizer::fromTokenizerJson(source.tokenizerJsonPath());
}

Expected<Generator> Generator::create(const ModelSource &source) {
  Expected<Tokenizer> tok = loadTokenizer(source);
  if (!tok)
    return tok.status();
  bool addBos = false;
  if (const GGUFFile *g = source.gguf(); g && g->has("tokenizer.ggml.add_bos_token")) {
    Expected<bool> b = g->getBool("tokenizer.ggml.add_bos_token");
    if (!b)
      return b.status();
    addBos = *b;
  }
  // The tokenizer's EOS and the model's (config.json / GGUF) both end a
  // reply: instruct models often differ in which one they emit.
  std::vector<int32_t> stops;
  for (int64_t id : {tok->eos(), source.spec().eosToken})
    if (id >= 0 && std::find(stops.begin(), stops.end(), id) == stops.end())
      stops.push_back(static_cast<int32_t>(id));
  if (addBos && tok->bos() < 0)
    return Status::error(source.path() + ": tokenizer.ggml.add_bos_token is true but there is no BOS token");
  return Generator(tok.take(), source.chatTemplate(), source.path(), addBos, std::move(stops));
}

Expected<std::vector<int32_t>> Generator::encodePrompt(const std::string &prompt, bool chat) const {
  std::string text = prompt;
  bool addBos = addBos_;
  if (chat) {
    if (!chatTemplate_)
      return Status::error(modelPath_ + ": --chat needs a chat template, and this model has none");
    Expected<ChatTemplate> t = ChatTemplate::parse(*chatTemplate_);
    if (!t)
      return Status::error(modelPath_ + ": chat template: " + t.message());
    auto spelled = [&](int64_t id) { return id >= 0 ? tokenizer_.tokenText(static_cast<int32_t>(id)) : ""; };
    Expected<std::string> r = t->render({ChatMessage{"user", prompt}}, /*addGenerationPrompt=*/true,
                                        spelled(tokenizer_.bos()), spelled(tokenizer_.eos()));
    if (!r)
      return Status::error(modelPath_ + ": chat template: " + r.message());
    text = r.take();
    // Templates that want a BOS write it themselves.
    addBos = false;
  }
  std::vector<int32_t> ids = tokenizer_.encode(text, addBos, /*parseSpecial=*/true);
  if (ids.empty())
    return Status::error("the prompt is empty (no tokens to start from)");
  return ids;
}

Expected<Sampler> Generator::checkOptions(const GenerateOptions &o) {
  if (o.maxTokens < 0)
    return Status::error("--max-tokens " + std::to_string(o.maxTokens) + " must be >= 0");
  if (o.prefillChunk < 0)
    return Status::error("--prefill-chunk " + std::to_string(o.prefillChunk) + " must be >= 0");
  return Sampler::create(o.sampling);
}

GenerateResult Generator::startResult(const Executor &ex, const std::vector<int32_t> &prompt) {
  GenerateResult res;
  res.promptIds = prompt;
  GenerateStats &st = res.stats;
  st.promptTokens = static_cast<int64_t>(prompt.size());
  st.noKVCache = ex.noKVCache();
  st.pagesTotal = ex.numPages();
  st.blockSize = ex.cache().blockSize;
  st.kvBytesPerToken = ex.kvBytesPerToken();
  return res;
}

Status Generator::checkPrompt(const Executor &ex, const std::vector<int32_t> &prompt, int64_t seq) const {
  if (prompt.empty())
    return Status::error("the prompt is empty (no tokens to start from)");
  if (ex.contextLength(seq) != 0 || ex.blocks().hasSequence(seq))
    return Status::error("generator: sequence " + std::to_string(seq) + " is already running");
  const int64_t p = static_cast<int64_t>(prompt.size());
  const int64_t capacity = ex.sequenceCapacity();
  const int64_t vocab = ex.vocabSize();
  if (p > ex.modelContext())
    return Status::error("the prompt has " + std::to_string(p) + " tokens, longer than the model's context of " +
                         std::to_string(ex.modelContext()));
  if (p > capacity)
    return Status::error("the prompt has " + std::to_string(p) + " tokens but the KV cache holds " +
                         std::to_string(capacity) + " (" + std::to_string(ex.numPages()) + " pages of " +
                         std::to_string(ex.cache().blockSize) + "); raise --kv-pages or --max-context");
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= vocab)
      return Status::error("prompt token " + std::to_string(i) + " is " + std::to_string(prompt[i]) +
                           ", outside the model's vocabulary of " + std::to_string(vocab));
  return Status::success();
}

Expected<GenerateResult> Generator::generate(Executor &ex, const std::vector<int32_t> &prompt,
                                             const GenerateOptions &o, std::FILE *out, int64_t seq) const {
  // Everything that can be refused is refused here, before the first step.
  Expected<Sampler> sampler = checkOptions(o);
  if (!sampler)
    return sampler.status();
  if (Status s = checkPrompt(ex, prompt, seq); !s.ok())
    return s;
  const int64_t p = static_cast<int64_t>(prompt.size());
  const int64_t capacity = ex.sequenceCapacity();

  GenerateResult res = startResult(ex, prompt);
  GenerateStats &st = res.stats;
  const int64_t computedBefore = ex.tokensComputed();
  if (o.maxTokens == 0) {
    st.stopReason = "max_tokens";
    return res;
  }

  // From here on the sequence exists; release it whatever happens.
  struct Releaser {
    Executor &ex;
    int64_t seq;
    ~Releaser() {
      if (ex.blocks().hasSequence(seq))
        (void)ex.release(seq);
    }
  } releaser{ex, seq};

  // Greedy decoding takes the model's own argmax (on the GPU, 8 bytes come
  // back instead of the vocabulary's logits); any other mode samples the
  // logits on the host.
  const bool greedy = sampler->isGreedy();
  std::vector<float> logits;
  std::vector<int32_t> picks;
  auto runStep = [&](StepSequence s) {
    return greedy ? ex.stepGreedy({std::move(s)}, picks) : ex.step({std::move(s)}, logits);
  };
  auto nextToken = [&]() -> Expected<int32_t> {
    if (greedy)
      return picks.at(0);
    return sampler->sample(logits.data(), logits.size());
  };
  auto t0 = Clock::now();
  int64_t chunk = o.prefillChunk > 0 ? o.prefillChunk : p;
  for (int64_t start = 0; start < p; start += chunk) {
    int64_t n = std::min(chunk, p - start);
    StepSequence s{seq, std::vector<int32_t>(prompt.begin() + start, prompt.begin() + start + n)};
    if (Status e = runStep(std::move(s)); !e.ok())
      return e;
    ++st.prefillSteps;
  }
  auto t1 = Clock::now();
  st.prefillSeconds = seconds(t0, t1);

  StreamDecoder decoder(tokenizer_, /*skipSpecial=*/true);
  auto emit = [&](const std::string &text) {
    res.text += text;
    if (out && !text.empty()) {
      std::fwrite(text.data(), 1, text.size(), out);
      std::fflush(out);
    }
  };
  for (;;) {
    Expected<int32_t> tok = nextToken();
    if (!tok)
      return Status::error("sampling after " + std::to_string(res.tokens.size()) + " generated tokens: " +
                           tok.message());
    res.tokens.push_back(*tok);
    bool stop = !o.ignoreEos && std::find(stopTokens_.begin(), stopTokens_.end(), *tok) != stopTokens_.end();
    if (stop) {
      st.stopReason = "eos";
      break;
    }
    emit(decoder.push(*tok));
    if (static_cast<int64_t>(res.tokens.size()) >= o.maxTokens) {
      st.stopReason = "max_tokens";
      break;
    }
    // Feeding this token needs one more slot of context.
    if (ex.contextLength(seq) >= capacity) {
      st.stopReason = "context_full";
      break;
    }
    if (Status e = runStep(StepSequence{seq, {*tok}}); !e.ok())
      return e;
    ++st.decodeSteps;
  }
  emit(decoder.flush());
  st.decodeSeconds = seconds(t1, Clock::now());
  st.generatedTokens = static_cast<int64_t>(res.tokens.size());
  st.pagesUsed = ex.blocks().usedBlocks();
  st.kvBytesInUse = ex.blocks().bytesInUse(st.kvBytesPerToken);
  st.tokensComputed = ex.tokensComputed() - computedBefore;
  return res;
}

double GenerateStats::prefillTokensPerSecond() const {
  return prefillSeconds > 0 ? static_cast<double>(promptTokens) / prefillSeconds : 0;
}
double GenerateStats::decodeTokensPerSecond() const {
  return decodeSeconds > 0 ? static_cast<double>(decodeSteps) / decodeSeconds : 0;
}

json::Value GenerateStats::toJson() const {
  using json::Value;
  auto n = [](double d) { return Value::number(d); };
  return Value::object({
      {"prompt_tokens", n(promptTokens)},
      {"generated_tokens", n(generatedTokens)},
      {"prefill_steps", n(prefillSteps)},
      {"decode_steps", n(decodeSteps)},
      {"prefill_seconds", n(prefillSeconds)},
      {"decode_seconds", n(decodeSeconds)},
      {"prefill_tokens_per_second", n(prefillTokensPerSecond())},
      {"decode_tokens_per_second", n(decodeTokensPerSecond())},
      {"kv_bytes_per_token", n(kvBytesPerToken)},
      {"kv_bytes_in_use", n(kvBytesInUse)},
      {"pages_used", n(pagesUsed)},
      {"pages_total", n(pagesTotal)},
      {"block_size", n(blockSize)},
      {"tokens_computed", n(tokensComputed)},
      {"kv_cache", Value::boolean(!noKVCache)},
      {"stop_reason", Value::string(stopReason)},
  });
}

std::string GenerateStats::summary() const {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "prompt: %lld tokens, prefill %.1f tokens/s (%lld steps, %.3f s)\n"
                "generated: %lld tokens, decode %.1f tokens/s (%lld steps, %.3f s), stop: %s\n"
                "kv cache: %s, %lld bytes/token, %lld bytes in use, %lld of %lld pages of %lld tokens, "
                "%lld tokens computed\n",
                (long long)promptTokens, prefillTokensPerSecond(), (long long)prefillSteps, prefillSeconds,
                (long long)generatedTokens, decodeTokensPerSecond(), (long long)decodeSteps, decodeSeconds,
                stopReason.c_str(), noKVCache ? "off (full recomputation)" : "on", (long long)kvBytesPerToken,
                (long long)kvBytesInUse, (long long)pagesUsed, (long long)pagesTotal, (long long)blockSize,
                (long long)tokensComputed);
  return buf;
}

} // namespace kvcc::runtime
