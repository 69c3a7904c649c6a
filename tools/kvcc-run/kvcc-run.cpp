//===- kvcc-run.cpp - Generate text with a compiled kvcc artifact ---------===//
//
//   kvcc-run DIR --weights MODEL --prompt TEXT [options]
//   kvcc-run DIR --weights MODEL --prompts-file FILE [--max-batch N] [options]
//
// Loads DIR/model.so + DIR/manifest.json (written by `kvcc compile`), binds
// the weights of MODEL (a .gguf file or a Hugging Face directory) and
// streams the generated text to stdout; statistics go to stderr. With
// --prompts-file, every line is a prompt and they run together (continuous
// batching, Generator::generateBatch); each reply is printed when all are done.
//
// Links nothing from LLVM/MLIR. Exit status: 0 success, 1 runtime error
// (nothing is generated), 2 usage error.
//
//===----------------------------------------------------------------------===//
#include "kvcc/Frontend/ModelSource.h"
#include "kvcc/Runtime/Artifact.h"
#include "kvcc/Runtime/CUDA/CudaDriver.h"
#include "kvcc/Runtime/Executor.h"
#include "kvcc/Runtime/Generator.h"
#include "kvcc/Runtime/WeightArena.h"
#include "kvcc/Support/File.h"
#include "kvcc/Support/Json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

using namespace kvcc;
using namespace kvcc::runtime;

namespace {

const char *kUsage =
    "usage: kvcc-run DIR --weights MODEL --prompt TEXT [options]\n"
    "       kvcc-run DIR --weights MODEL --prompts-file FILE [--max-batch N] [options]\n"
    "\n"
    "  DIR                   artifact directory (model.so + manifest.json) from `kvcc compile`\n"
    "  --weights MODEL       a .gguf file or a Hugging Face directory of the compiled architecture\n"
    "  --prompt TEXT         the prompt\n"
    "  --prompts-file FILE   one prompt per line (empty lines skipped), generated together: up\n"
    "                        to --max-batch sequences share each step, a finished one's pages go\n"
    "                        to the next prompt; replies print in order, \"=== [i]\" before each\n"
    "                        (i counts the prompts, 0 first; --print-tokens is the format for scripts)\n"
    "  --max-batch N         sequences in flight with --prompts-file (default 8)\n"
    "  --chat                wrap the prompt as one user message with the model's chat template\n"
    "  --max-tokens N        tokens to generate (default 128); stops earlier at EOS\n"
    "  --ignore-eos          do not stop at EOS (fixed-length runs)\n"
    "  --temperature T       0 = greedy (default); > 0 samples\n"
    "  --top-k K             keep the K most likely tokens (0 = all)\n"
    "  --top-p P             nucleus sampling threshold in (0, 1] (default 1)\n"
    "  --seed S              sampling seed (default 0)\n"
    "  --no-kv-cache         recompute the whole sequence at every step (the baseline)\n"
    "  --kv-pages N          pages in the KV-cache pool (default: enough for prompt + max tokens)\n"
    "  --max-context N       size the pool for N tokens (ignored with --kv-pages)\n"
    "  --prefill-chunk N     feed the prompt N tokens per step (default: all at once)\n"
    "  --print-tokens        after the text, print {\"prompt_tokens\":[..],\"tokens\":[..]} as one line\n"
    "                        (with --prompts-file, one such line per prompt, \"index\" first)\n"
    "  --stats-json FILE     write the run's statistics as JSON\n"
    "  --quiet               do not print the generated text (statistics still go to stderr)\n"
    "  --device=cpu|cuda     where to run (must match the artifact's target; default cpu)\n"
    "  --cuda-graphs         (cuda, the default) replay each decode step from a CUDA graph, one per\n"
    "                        batch size (same tokens; 1.6-3x the decode rate on an H100)\n"
    "  --no-cuda-graphs      (cuda) launch every kernel of every step\n"
    "\n"
    "The KV-cache page size is compiled into the artifact (manifest.json cache.block_size);\n"
    "it is not a run-time option.\n";

struct Options {
  std::string dir, weights, statsJson, device = "cpu";
  std::optional<std::string> prompt, promptsFile;
  int64_t maxBatch = 8;
  bool chat = false, noKVCache = false, printTokens = false, quiet = false;
  // Measured on an H100 (docs/performance.md): the same greedy tokens, and
  // 1.6-3.1x the decode rate of launching the ~300 kernels of a step one by one.
  bool cudaGraphs = true;
  int64_t kvPages = 0, maxContext = 0;
  GenerateOptions gen;
};

int usage(const std::string &msg) {
  std::fprintf(stderr, "kvcc-run: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

bool parseInt(const std::string &s, int64_t lo, int64_t hi, int64_t &out) {
  if (s.empty())
    return false;
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno || *end || v < lo || v > hi)
    return false;
  out = v;
  return true;
}

bool parseReal(const std::string &s, double &out) {
  if (s.empty())
    return false;
  errno = 0;
  char *end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno || *end || !std::isfinite(v))
    return false;
  out = v;
  return true;
}

/// Returns 0 when parsed, else the exit status (2) after printing usage.
int parseArgs(int argc, char **argv, Options &o) {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
      positional.push_back(arg);
      continue;
    }
    std::string name = arg, value;
    bool inlineValue = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inlineValue = true;
    }
    auto isFlag = [&](const char *f) { return name == f; };
    if (isFlag("--chat") || isFlag("--no-kv-cache") || isFlag("--print-tokens") || isFlag("--ignore-eos") ||
        isFlag("--quiet") || isFlag("--cuda-graphs") || isFlag("--no-cuda-graphs")) {
      if (inlineValue)
        return usage(name + " takes no value");
      bool &b = isFlag("--chat") ? o.chat : isFlag("--no-kv-cache") ? o.noKVCache
              : isFlag("--print-tokens") ? o.printTokens : isFlag("--quiet") ? o.quiet
              : isFlag("--cuda-graphs") || isFlag("--no-cuda-graphs") ? o.cudaGraphs : o.gen.ignoreEos;
      b = !isFlag("--no-cuda-graphs");
      continue;
    }
    if (isFlag("--page-size") || isFlag("--block-size"))
      return usage(name + " is not an option: the KV-cache page size is compiled into the artifact "
                          "(manifest.json cache.block_size); recompile to change it");
    static const char *const kValued[] = {"--weights",  "--prompt",      "--max-tokens",  "--temperature",
                                          "--top-k",    "--top-p",       "--seed",        "--kv-pages",
                                          "--max-context", "--prefill-chunk", "--stats-json", "--device",
                                          "--prompts-file", "--max-batch"};
    bool known = false;
    for (const char *k : kValued)
      known |= name == k;
    if (!known)
      return usage("unknown option '" + name + "'");
    if (!inlineValue) {
      if (i + 1 >= argc)
        return usage(name + " needs a value");
      value = argv[++i];
    }
    auto bad = [&](const char *what) { return usage(name + " '" + value + "' is not " + what); };
    if (isFlag("--weights"))
      o.weights = value;
    else if (isFlag("--prompt"))
      o.prompt = value;
    else if (isFlag("--prompts-file"))
      o.promptsFile = value;
    else if (isFlag("--max-batch")) {
      if (!parseInt(value, 1, 4096, o.maxBatch))
        return bad("a sequence count (1..4096)");
    }
    else if (isFlag("--stats-json"))
      o.statsJson = value;
    else if (isFlag("--device")) {
      if (value != "cpu" && value != "cuda")
        return bad("a device (cpu or cuda)");
      o.device = value;
    } else if (isFlag("--max-tokens")) {
      if (!parseInt(value, 0, int64_t(1) << 30, o.gen.maxTokens))
        return bad("a token count (0..2^30)");
    } else if (isFlag("--top-k")) {
      if (!parseInt(value, 0, int64_t(1) << 30, o.gen.sampling.topK))
        return bad("a count >= 0");
    } else if (isFlag("--seed")) {
      int64_t seed = 0;
      if (!parseInt(value, 0, INT64_MAX, seed))
        return bad("a non-negative integer");
      o.gen.sampling.seed = static_cast<uint64_t>(seed);
    } else if (isFlag("--kv-pages")) {
      if (!parseInt(value, 1, INT32_MAX, o.kvPages))
        return bad("a page count (1..2^31-1)");
    } else if (isFlag("--max-context")) {
      if (!parseInt(value, 1, int64_t(1) << 30, o.maxContext))
        return bad("a token count >= 1");
    } else if (isFlag("--prefill-chunk")) {
      if (!parseInt(value, 1, int64_t(1) << 30, o.gen.prefillChunk))
        return bad("a token count >= 1");
    } else if (isFlag("--temperature")) {
      if (!parseReal(value, o.gen.sampling.temperature) || o.gen.sampling.temperature < 0)
        return bad("a temperature >= 0");
    } else if (isFlag("--top-p")) {
      if (!parseReal(value, o.gen.sampling.topP) || o.gen.sampling.topP <= 0 || o.gen.sampling.topP > 1)
        return bad("a probability in (0, 1]");
    }
  }
  if (positional.size() != 1)
    return usage(positional.empty() ? "missing the artifact directory DIR"
                                     : "unexpected argument '" + positional[1] + "'");
  o.dir = positional[0];
  if (o.weights.empty())
    return usage("missing --weights MODEL");
  if (o.prompt && o.promptsFile)
    return usage("--prompt and --prompts-file exclude each other");
  if (!o.prompt && !o.promptsFile)
    return usage("missing --prompt TEXT (or --prompts-file FILE)");
  return 0;
}

int fail(const std::string &msg) {
  std::fprintf(stderr, "kvcc-run: %s\n", msg.c_str());
  return 1;
}

/// manifest.json's "target", or "" when it cannot be read (Artifact::open
/// then reports why).
std::string manifestTarget(const std::string &dir) {
  Expected<json::Value> doc = json::parseFile(dir + "/manifest.json");
  if (!doc || !doc->get("target") || !doc->get("target")->isString())
    return "";
  return doc->get("target")->asString();
}

/// The prompt's token ids, or with --prompts-file those of every non-empty
/// line (a bad line is named by its number).
Expected<std::vector<std::vector<int32_t>>> encodePrompts(const Options &o, const Generator &gen) {
  std::vector<std::vector<int32_t>> out;
  if (!o.promptsFile) {
    Expected<std::vector<int32_t>> ids = gen.encodePrompt(*o.prompt, o.chat);
    if (!ids)
      return ids.status();
    out.push_back(ids.take());
    return out;
  }
  Expected<std::string> text = readFile(*o.promptsFile);
  if (!text)
    return text.status();
  size_t lineNo = 0;
  for (size_t at = 0; at < text->size();) {
    size_t end = text->find('\n', at);
    if (end == std::string::npos)
      end = text->size();
    std::string line = text->substr(at, end - at);
    at = end + 1;
    ++lineNo;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    Expected<std::vector<int32_t>> ids = gen.encodePrompt(line, o.chat);
    if (!ids)
      return Status::error(*o.promptsFile + ":" + std::to_string(lineNo) + ": " + ids.message());
    out.push_back(ids.take());
  }
  if (out.empty())
    return Status::error(*o.promptsFile + ": no prompts (every line is empty)");
  return out;
}

std::string idList(const std::vector<int32_t> &ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i)
    s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

Status writeStats(const std::string &path, json::Value doc) {
  std::string text = json::write(doc) + "\n";
  std::FILE *f = std::fopen(path.c_str(), "w");
  if (!f)
    return Status::error(path + ": cannot write statistics: " + std::strerror(errno));
  bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !written)
    return Status::error(path + ": cannot write statistics: " + std::strerror(errno));
  return Status::success();
}

/// The weights, the pool and (on a GPU) the CUDA graphs, on stderr.
void reportExecutor(const Options &o, const Executor &ex, const WeightArena &weights) {
  std::fprintf(stderr, "weights: %lld bytes (%s); kv pool: %lld bytes (%s)\n", (long long)weights.bytes(),
               abi::dtypeName(weights.dtype()), (long long)ex.poolBytes(), abi::dtypeName(ex.cache().dtype));
  const CudaGraphStats &graphs = ex.cudaGraphStats();
  if (!o.cudaGraphs || !ex.onDevice())
    return;
  if (graphs.disabledBecause.empty())
    std::fprintf(stderr, "cuda graphs: %lld captured, %lld decode steps replayed, %lld steps launch by launch\n",
                 (long long)graphs.captured, (long long)graphs.replayed, (long long)graphs.eagerSteps);
  else
    std::fprintf(stderr, "cuda graphs: given up (%s); every step ran launch by launch\n",
                 graphs.disabledBecause.c_str());
}

/// The same for --stats-json.
void addExecutorMembers(const Executor &ex, const WeightArena &weights,
                        std::vector<std::pair<std::string, json::Value>> &members) {
  members.emplace_back("weights_bytes", json::Value::number(static_cast<double>(weights.bytes())));
  members.emplace_back("weights_dtype", json::Value::string(abi::dtypeName(weights.dtype())));
  members.emplace_back("kv_pool_bytes", json::Value::number(static_cast<double>(ex.poolBytes())));
  members.emplace_back("kv_cache_dtype", json::Value::string(abi::dtypeName(ex.cache().dtype)));
  if (!ex.onDevice())
    return;
  const CudaGraphStats &graphs = ex.cudaGraphStats();
  members.emplace_back(
      "cuda_graphs",
      json::Value::object({{"enabled", json::Value::boolean(graphs.enabled)},
                           {"captured", json::Value::number(static_cast<double>(graphs.captured))},
                           {"replayed", json::Value::number(static_cast<double>(graphs.replayed))},
                           {"eager_steps", json::Value::number(static_cast<double>(graphs.eagerSteps))},
                           {"disabled_because", json::Value::string(graphs.disabledBecause)}}));
}

/// --prompts-file: every prompt through Generator::generateBatch, the replies
/// in prompt order once all are done.
int runBatch(const Options &o, const Generator &gen, Executor &ex, const WeightArena &weights,
             const std::vector<std::vector<int32_t>> &prompts) {
  Expected<BatchResult> batch = gen.generateBatch(ex, prompts, o.gen, o.maxBatch);
  if (!batch)
    return fail(batch.message());
  std::vector<json::Value> perPrompt;
  for (size_t i = 0; i < batch->results.size(); ++i) {
    const GenerateResult &r = batch->results[i];
    if (!o.quiet) {
      std::printf("=== [%zu] ", i);
      std::fwrite(r.text.data(), 1, r.text.size(), stdout);
      std::fputc('\n', stdout);
    }
    if (o.printTokens)
      std::printf("{\"index\":%zu,\"prompt_tokens\":%s,\"tokens\":%s}\n", i, idList(r.promptIds).c_str(),
                  idList(r.tokens).c_str());
    perPrompt.push_back(r.stats.toJson());
  }
  std::fflush(stdout);
  const BatchStats &st = batch->stats;
  std::fprintf(stderr, "\n%s", st.summary().c_str());
  reportExecutor(o, ex, weights);
  if (!o.statsJson.empty()) {
    std::vector<std::pair<std::string, json::Value>> members = st.toJson().asObject();
    addExecutorMembers(ex, weights, members);
    members.emplace_back("per_prompt", json::Value::array(std::move(perPrompt)));
    if (Status s = writeStats(o.statsJson, json::Value::object(std::move(members))); !s.ok())
      return fail(s.message());
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  if (int rc = parseArgs(argc, argv, o))
    return rc;

  // --device=cuda: a cpu artifact is refused for what it is wherever this
  // runs; otherwise the device is opened before anything heavy is loaded, so
  // a machine without a GPU says so cleanly ("no CUDA driver (...)", "no CUDA
  // device").
  const std::string target = manifestTarget(o.dir);
  if (o.device == "cuda" && target == "cpu")
    return fail("--device=cuda: this artifact targets cpu (compile it with --target=cuda)");
  if (o.device == "cpu" && target == "cuda")
    return fail("--device=cpu: this artifact targets cuda (run it with --device=cuda, or compile it with "
                "--target=cpu)");
  if (o.device == "cuda") {
    Expected<cuda::CudaDevice> device = cuda::CudaDevice::open(0);
    if (!device)
      return fail(device.message());
    std::fprintf(stderr, "kvcc-run: CUDA device %s\n", device->info().describe().c_str());
  }

  Expected<std::unique_ptr<Artifact>> artifact = Artifact::open(o.dir);
  if (!artifact)
    return fail(artifact.message());
  const Manifest &man = (*artifact)->manifest();
  if (o.device != man.target)
    return fail("--device=" + o.device + ": this artifact targets " + man.target);

  Expected<std::unique_ptr<ModelSource>> source = ModelSource::open(o.weights);
  if (!source)
    return fail(source.message());
  // The cheap checks first: a wrong model or an oversized prompt is refused
  // before seconds go into converting weights.
  if (Status s = checkSpecMatches((*source)->spec(), man.spec, o.weights); !s.ok())
    return fail(s.message());
  Expected<Generator> gen = Generator::create(**source);
  if (!gen)
    return fail(gen.message());
  Expected<std::vector<std::vector<int32_t>>> prompts = encodePrompts(o, *gen);
  if (!prompts)
    return fail(prompts.message());
  // The longest prompt sizes the pool and meets the checks.
  const std::vector<int32_t> *prompt = &*std::max_element(
      prompts->begin(), prompts->end(), [](const auto &x, const auto &y) { return x.size() < y.size(); });
  const int64_t p = static_cast<int64_t>(prompt->size());
  if (p > man.spec.maxContext)
    return fail("the prompt has " + std::to_string(p) + " tokens, longer than the model's context of " +
                std::to_string(man.spec.maxContext));
  if (o.kvPages > 0 && p > o.kvPages * man.cache.blockSize)
    return fail("the prompt has " + std::to_string(p) + " tokens but --kv-pages " + std::to_string(o.kvPages) +
                " holds " + std::to_string(o.kvPages * man.cache.blockSize) + " (pages of " +
                std::to_string(man.cache.blockSize) + " tokens)");
  if (o.kvPages == 0 && o.maxContext > 0 && p > o.maxContext)
    return fail("the prompt has " + std::to_string(p) + " tokens, longer than --max-context " +
                std::to_string(o.maxContext));

  Expected<WeightArena> weights = WeightArena::load(**artifact, **source);
  if (!weights)
    return fail(weights.message());

  ExecutorOptions eo;
  eo.maxBatch = o.promptsFile ? std::min<int64_t>(o.maxBatch, static_cast<int64_t>(prompts->size())) : 1;
  eo.kvPages = o.kvPages;
  eo.noKVCache = o.noKVCache;
  eo.maxContext = o.maxContext;
  eo.cudaGraphs = o.cudaGraphs;
  if (eo.kvPages == 0 && eo.maxContext == 0)
    // Exactly what this run can use: the last sampled token is never fed.
    eo.maxContext = std::min<int64_t>(man.spec.maxContext, std::max<int64_t>(p, p + o.gen.maxTokens - 1));
  eo.maxContext = std::min<int64_t>(eo.maxContext, man.spec.maxContext);
  Expected<std::unique_ptr<Executor>> ex = Executor::create(**artifact, *weights, eo);
  if (!ex)
    return fail(ex.message());

  if (o.promptsFile)
    return runBatch(o, *gen, **ex, *weights, *prompts);
  Expected<GenerateResult> res = gen->generate(**ex, *prompt, o.gen, o.quiet ? nullptr : stdout);
  if (!res)
    return fail(res.message());
  if (o.printTokens) {
    bool needNewline = !o.quiet && !res->text.empty() && res->text.back() != '\n';
    std::printf("%s{\"prompt_tokens\":%s,\"tokens\":%s}\n", needNewline ? "\n" : "", idList(res->promptIds).c_str(),
                idList(res->tokens).c_str());
  } else if (!o.quiet) {
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);

  const GenerateStats &st = res->stats;
  std::fprintf(stderr, "\n%s", st.summary().c_str());
  reportExecutor(o, **ex, *weights);
  if (!o.statsJson.empty()) {
    std::vector<std::pair<std::string, json::Value>> members = st.toJson().asObject();
    addExecutorMembers(**ex, *weights, members);
    if (Status s = writeStats(o.statsJson, json::Value::object(std::move(members))); !s.ok())
      return fail(s.message());
  }
  return 0;
}
