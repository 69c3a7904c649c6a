//===- BatchGenerator.cpp - Many prompts at once, continuous batching -----===//
//
// Generator::generateBatch: the serving loop paged attention exists for. Each
// step sends every sequence in flight through one kvcc_step: the prompt (or its
// next chunk) of a sequence just admitted, one token of each decoding one. A
// sequence that stops (EOS, max tokens, context full) is released at once and
// its pages go to the next prompt waiting.
//
// Admission reserves a sequence's whole run (prompt + maxTokens, capped at what
// one sequence may hold) against the pool, so a step never runs out of pages
// halfway: the executor would refuse it whole, and a refused step here would
// have to pick a victim to preempt (vLLM's recompute); reserving is simpler and
// costs pages only when most replies stop early.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Runtime/Generator.h"

#include <algorithm>
#include <chrono>

namespace kvcc::runtime {

namespace {
using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// One prompt's progress through the batch.
struct Request {
  const std::vector<int32_t> *prompt = nullptr;
  int64_t seq = 0;
  int64_t prefilled = 0;    ///< prompt tokens already sent
  int64_t reservedPages = 0;
  std::optional<Sampler> sampler;
  std::optional<StreamDecoder> decoder;
  GenerateResult result;
  Clock::time_point admitted, prefillDone;
  bool running = false, done = false;
};
} // namespace

Expected<BatchResult> Generator::generateBatch(Executor &ex, const std::vector<std::vector<int32_t>> &prompts,
                                               const GenerateOptions &o, int64_t maxBatch) const {
  if (maxBatch < 1)
    return Status::error("--max-batch " + std::to_string(maxBatch) + " must be >= 1");
  // Each sequence samples with a copy of this fresh sampler: its own stream,
  // the one generate() would give it.
  Expected<Sampler> sampler = checkOptions(o);
  if (!sampler)
    return sampler.status();
  const int64_t n = static_cast<int64_t>(prompts.size());
  const int64_t blockSize = ex.cache().blockSize;
  const int64_t capacity = ex.sequenceCapacity();
  // Greedy steps return each row's argmax (8 bytes a sequence from a GPU);
  // any other mode samples the logits on the host.
  const bool greedy = sampler->isGreedy();

  std::vector<Request> requests(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    Request &r = requests[static_cast<size_t>(i)];
    if (Status s = checkPrompt(ex, prompts[static_cast<size_t>(i)], i); !s.ok())
      return Status::error("prompt " + std::to_string(i) + ": " + s.message());
    r.prompt = &prompts[static_cast<size_t>(i)];
    r.seq = i;
    r.sampler.emplace(*sampler);
    r.decoder.emplace(tokenizer_, /*skipSpecial=*/true);
    const int64_t p = static_cast<int64_t>(r.prompt->size());
    // The last sampled token is never fed, as in generate().
    const int64_t tokens = std::min(capacity, std::max(p, p + o.maxTokens - 1));
    r.reservedPages = (tokens + blockSize - 1) / blockSize;
    r.result = startResult(ex, *r.prompt);
    if (o.maxTokens == 0) {
      r.result.stats.stopReason = "max_tokens";
      r.done = true;
    }
  }

  // Whatever happens, no sequence outlives this call.
  struct Releaser {
    Executor &ex;
    std::vector<Request> &requests;
    ~Releaser() {
      for (Request &r : requests)
        if (ex.blocks().hasSequence(r.seq))
          (void)ex.release(r.seq);
    }
  } releaser{ex, requests};

  BatchResult out;
  BatchStats &bs = out.stats;
  bs.requests = n;
  bs.pagesTotal = ex.numPages();
  for (const Request &r : requests)
    bs.promptTokens += r.result.stats.promptTokens;

  const auto t0 = Clock::now();
  int64_t nextToAdmit = 0, reserved = 0, inFlight = 0;
  std::vector<StepSequence> batch;
  std::vector<Request *> rows;
  std::vector<float> logits;
  std::vector<int32_t> picks;
  for (;;) {
    // Admit in prompt order while there is room in the batch and the pool.
    while (nextToAdmit < n && inFlight < maxBatch) {
      Request &r = requests[static_cast<size_t>(nextToAdmit)];
      if (r.done) {
        ++nextToAdmit;
        continue;
      }
      // Alone in the pool, a sequence takes what there is (it stops at
      // context_full, as generate() does).
      if (inFlight > 0 && reserved + r.reservedPages > ex.numPages())
        break;
      r.running = true;
      r.admitted = Clock::now();
      reserved += r.reservedPages;
      ++inFlight;
      ++nextToAdmit;
    }
    if (inFlight == 0)
      break;

    batch.clear();
    rows.clear();
    for (Request &r : requests) {
      if (!r.running)
        continue;
      const int64_t p = static_cast<int64_t>(r.prompt->size());
      if (r.prefilled < p) {
        int64_t chunk = o.prefillChunk > 0 ? std::min(o.prefillChunk, p - r.prefilled) : p - r.prefilled;
        batch.push_back({r.seq, std::vector<int32_t>(r.prompt->begin() + r.prefilled,
                                                     r.prompt->begin() + r.prefilled + chunk)});
        r.prefilled += chunk;
        ++r.result.stats.prefillSteps;
      } else {
        batch.push_back({r.seq, {r.result.tokens.back()}});
        ++r.result.stats.decodeSteps;
      }
      rows.push_back(&r);
    }
    Status stepped = greedy ? ex.stepGreedy(batch, picks) : ex.step(batch, logits);
    if (!stepped.ok())
      return Status::error("step " + std::to_string(bs.steps) + " (" + std::to_string(batch.size()) +
                           " sequences): " + stepped.message());
    ++bs.steps;
    bs.rows += static_cast<int64_t>(batch.size());
    bs.maxInFlight = std::max<int64_t>(bs.maxInFlight, static_cast<int64_t>(batch.size()));
    bs.peakPagesUsed = std::max(bs.peakPagesUsed, ex.blocks().usedBlocks());

    const auto now = Clock::now();
    const size_t vocab = static_cast<size_t>(ex.vocabSize());
    for (size_t row = 0; row < rows.size(); ++row) {
      Request &r = *rows[row];
      GenerateStats &st = r.result.stats;
      // Without a cache the step recomputed the whole sequence.
      st.tokensComputed += ex.noKVCache() ? ex.contextLength(r.seq)
                                          : static_cast<int64_t>(batch[row].tokens.size());
      if (r.prefilled < static_cast<int64_t>(r.prompt->size()))
        continue; // a chunk in the middle of the prompt: no token yet
      if (r.result.tokens.empty())
        r.prefillDone = now;
      Expected<int32_t> tok = greedy ? Expected<int32_t>(picks.at(row))
                                     : r.sampler->sample(logits.data() + row * vocab, vocab);
      if (!tok)
        return Status::error("prompt " + std::to_string(r.seq) + ": sampling after " +
                             std::to_string(r.result.tokens.size()) + " generated tokens: " + tok.message());
      r.result.tokens.push_back(*tok);
      if (!o.ignoreEos && std::find(stopTokens_.begin(), stopTokens_.end(), *tok) != stopTokens_.end())
        st.stopReason = "eos";
      else {
        r.result.text += r.decoder->push(*tok);
        if (static_cast<int64_t>(r.result.tokens.size()) >= o.maxTokens)
          st.stopReason = "max_tokens";
        else if (ex.contextLength(r.seq) >= capacity)
          st.stopReason = "context_full";
      }
      if (st.stopReason.empty())
        continue;
      r.result.text += r.decoder->flush();
      st.generatedTokens = static_cast<int64_t>(r.result.tokens.size());
      Expected<std::vector<int64_t>> table = ex.blocks().blockTable(r.seq);
      st.pagesUsed = table ? static_cast<int64_t>(table->size()) : 0;
      st.kvBytesInUse = st.pagesUsed * blockSize * st.kvBytesPerToken;
      st.prefillSeconds = seconds(r.admitted, r.prefillDone);
      st.decodeSeconds = seconds(r.prefillDone, now);
      if (Status s = ex.release(r.seq); !s.ok())
        return s;
      r.running = false;
      r.done = true;
      reserved -= r.reservedPages;
      --inFlight;
      bs.generatedTokens += st.generatedTokens;
    }
  }
  bs.seconds = seconds(t0, Clock::now());
  out.results.reserve(requests.size());
  for (Request &r : requests)
    out.results.push_back(std::move(r.result));
  return out;
}

double BatchStats::tokensPerSecond() const {
  return seconds > 0 ? static_cast<double>(generatedTokens) / seconds : 0;
}

json::Value BatchStats::toJson() const {
  using json::Value;
  auto n = [](double d) { return Value::number(d); };
  return Value::object({
      {"requests", n(requests)},
      {"prompt_tokens", n(promptTokens)},
      {"generated_tokens", n(generatedTokens)},
      {"steps", n(steps)},
      {"rows", n(rows)},
      {"mean_batch", n(steps ? static_cast<double>(rows) / steps : 0)},
      {"max_in_flight", n(maxInFlight)},
      {"peak_pages_used", n(peakPagesUsed)},
      {"pages_total", n(pagesTotal)},
      {"seconds", n(seconds)},
      {"generated_tokens_per_second", n(tokensPerSecond())},
  });
}

std::string BatchStats::summary() const {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "batch: %lld prompts (%lld tokens), %lld tokens generated in %.3f s: %.1f tokens/s; "
                "%lld steps, %.2f sequences a step (at most %lld); KV pages: peak %lld of %lld\n",
                (long long)requests, (long long)promptTokens, (long long)generatedTokens, seconds,
                tokensPerSecond(), (long long)steps, steps ? static_cast<double>(rows) / steps : 0.0,
                (long long)maxInFlight, (long long)peakPagesUsed, (long long)pagesTotal);
  return buf;
}

} // namespace kvcc::runtime
