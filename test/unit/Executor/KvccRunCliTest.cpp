//===- KvccRunCliTest.cpp - The kvcc-run command line ---------------------===//
//
// kvcc-run as a process, on artifacts and models written by TestModel.h:
// cached and recomputed runs print the same tokens, --stats-json and --chat,
// usage and runtime errors.
//
//===----------------------------------------------------------------------===//
#include "TestModel.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <utility>
#include <vector>

using namespace kvcc;
using namespace kvcc::runtime;
using namespace exectest;
using json::Value;

//===----------------------------------------------------------------------===//
// kvcc-run
//===----------------------------------------------------------------------===//

struct RunResult {
  int status = -1;
  std::string out, err;
};

RunResult runTool(const std::string &args) {
  std::string dir = scratch().fresh("run");
  std::string cmd = quote(KVCC_RUN) + " " + args + " >" + dir + "/out 2>" + dir + "/err";
  int st = std::system(cmd.c_str());
  RunResult r;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  for (auto [name, dst] : {std::pair<const char *, std::string *>{"out", &r.out}, {"err", &r.err}}) {
    std::ifstream f(dir + "/" + name);
    std::stringstream ss;
    ss << f.rdbuf();
    *dst = ss.str();
  }
  return r;
}

std::string lastLine(const std::string &s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n')
    t.pop_back();
  size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

TEST(KvccRunTest, CachedAndRecomputedRunsPrintTheSameTokens) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 3);
  ASSERT_TRUE(r);
  std::string base = quote(r->artifactDir) + " --weights " + quote(r->modelDir) +
                     " --prompt 'The cache holds the keys' --max-tokens 32 --ignore-eos --print-tokens";
  RunResult cached = runTool(base);
  ASSERT_EQ(cached.status, 0) << cached.err;
  RunResult full = runTool(base + " --no-kv-cache");
  ASSERT_EQ(full.status, 0) << full.err;
  RunResult chunked = runTool(base + " --prefill-chunk 2 --kv-pages 40");
  ASSERT_EQ(chunked.status, 0) << chunked.err;
  std::string line = lastLine(cached.out);
  EXPECT_EQ(line.rfind("{\"prompt_tokens\":[", 0), 0u) << line;
  EXPECT_EQ(lastLine(full.out), line);
  EXPECT_EQ(lastLine(chunked.out), line);
  Expected<Value> doc = json::parse(line, "tokens");
  ASSERT_TRUE(doc.ok()) << doc.message();
  EXPECT_EQ(doc->get("tokens")->asArray().size(), 32u);
  EXPECT_TRUE(contains(cached.err, "decode")) << cached.err;
  EXPECT_TRUE(contains(cached.err, "512 bytes/token")) << cached.err; // 2 (K,V) * 2 layers * 2 heads * 16 * 4
}

TEST(KvccRunTest, StatsJsonAndChat) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  std::string stats = scratch().fresh("stats") + "/stats.json";
  RunResult res = runTool(quote(r->artifactDir) + " --weights " + quote(r->modelDir) +
                          " --prompt hello --chat --max-tokens 8 --temperature 0.7 --seed 3 --stats-json " +
                          quote(stats));
  ASSERT_EQ(res.status, 0) << res.err;
  Expected<Value> doc = json::parseFile(stats);
  ASSERT_TRUE(doc.ok()) << doc.message();
  EXPECT_EQ(*doc->getInt("kv_bytes_per_token"), 2 * 2 * 2 * 16 * 4);
  EXPECT_GE(*doc->getInt("prompt_tokens"), 9);
  EXPECT_LE(*doc->getInt("generated_tokens"), 8);
  EXPECT_EQ(*doc->getInt("block_size"), 4);
}

TEST(KvccRunTest, UsageAndRuntimeErrors) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  std::string good = quote(r->artifactDir) + " --weights " + quote(r->modelDir) + " --prompt hi";
  struct {
    std::string args;
    int status;
    const char *expect;
  } cases[] = {
      {"", 2, "missing the artifact directory"},
      {good + " --bogus", 2, "unknown option '--bogus'"},
      {good + " --max-tokens", 2, "--max-tokens needs a value"},
      {good + " --max-tokens abc", 2, "--max-tokens 'abc' is not"},
      {good + " --top-p 0", 2, "--top-p '0'"},
      {good + " --temperature nan", 2, "--temperature 'nan'"},
      {good + " --kv-pages 0", 2, "--kv-pages '0'"},
      {good + " --page-size 16", 2, "compiled into the artifact"},
      {good + " --chat=yes", 2, "--chat takes no value"},
      {good + " --cuda-graphs=yes", 2, "--cuda-graphs takes no value"},
      {good + " --cuda-graphs --max-tokens 2", 0, ""}, // nothing to replay on the CPU
      {good + " --no-cuda-graphs=1", 2, "--no-cuda-graphs takes no value"},
      {good + " --no-cuda-graphs --max-tokens 2", 0, ""},
      {good + " extra", 2, "unexpected argument 'extra'"},
      {quote(r->artifactDir) + " --prompt hi", 2, "missing --weights"},
      {good + " --device=tpu", 2, "--device 'tpu'"},
      {good + " --device=cuda", 1, "this artifact targets cpu"},
      {good + " --kv-pages 1 --max-tokens 4", 0, ""},
      {quote(r->artifactDir) + " --weights " + quote(r->modelDir) + " --prompt 'a long prompt here' --kv-pages 2", 1,
       "--kv-pages 2 holds 8"},
      {quote(r->artifactDir) + " --weights /nonexistent --prompt hi", 1, "/nonexistent"},
      {quote(scratch().fresh("noart")) + " --weights " + quote(r->modelDir) + " --prompt hi", 1, "manifest.json"},
  };
  for (const auto &c : cases) {
    RunResult res = runTool(c.args);
    EXPECT_EQ(res.status, c.status) << c.args << "\n" << res.err;
    EXPECT_TRUE(contains(res.err, c.expect)) << c.args << "\n" << res.err;
    if (c.status != 0) {
      EXPECT_EQ(res.out, "") << c.args; // no partial output
    }
  }
}

TEST(KvccRunTest, PromptsFileRunsTogetherAndMatchesSingleRuns) {
  std::unique_ptr<Rig> r = Rig::make(TinyConfig(), 4);
  ASSERT_TRUE(r);
  std::string dir = scratch().fresh("prompts");
  const std::vector<std::string> prompts = {"The cache holds the keys", "the top", "hello there, cache",
                                            "a b c d e f g h i j k"};
  {
    std::ofstream f(dir + "/prompts.txt");
    // Blank lines are skipped, a CRLF ending is not part of the prompt.
    f << prompts[0] << "\n\n" << prompts[1] << "\r\n   \n" << prompts[2] << "\n" << prompts[3];
  }
  std::string model = quote(r->artifactDir) + " --weights " + quote(r->modelDir);
  std::string common = " --max-tokens 9 --ignore-eos --print-tokens";
  std::string stats = dir + "/stats.json";
  RunResult batch = runTool(model + " --prompts-file " + quote(dir + "/prompts.txt") + " --max-batch 3" + common +
                            " --stats-json " + quote(stats));
  ASSERT_EQ(batch.status, 0) << batch.err;
  std::vector<std::string> lines;
  std::stringstream ss(batch.out);
  for (std::string line; std::getline(ss, line);)
    if (line.rfind("{\"index\":", 0) == 0)
      lines.push_back(line);
  ASSERT_EQ(lines.size(), prompts.size()) << batch.out;
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_TRUE(contains(batch.out, "=== [" + std::to_string(i) + "] ")) << batch.out;
    RunResult alone = runTool(model + " --prompt " + quote(prompts[i]) + common);
    ASSERT_EQ(alone.status, 0) << alone.err;
    // {"prompt_tokens":..,"tokens":..} alone; the same after "index" in the batch.
    EXPECT_EQ(lines[i], "{\"index\":" + std::to_string(i) + "," + lastLine(alone.out).substr(1)) << prompts[i];
  }
  EXPECT_TRUE(contains(batch.err, "batch: 4 prompts")) << batch.err;
  Expected<Value> doc = json::parseFile(stats);
  ASSERT_TRUE(doc.ok()) << doc.message();
  EXPECT_EQ(*doc->getInt("requests"), 4);
  EXPECT_EQ(*doc->getInt("generated_tokens"), 36);
  EXPECT_EQ(*doc->getInt("max_in_flight"), 3);
  EXPECT_EQ(doc->get("per_prompt")->asArray().size(), 4u);

  std::string empty = dir + "/empty.txt";
  std::ofstream(empty) << "\n  \n\r\n";
  struct {
    std::string args;
    int status;
    const char *expect;
  } cases[] = {
      {model + " --prompt hi --prompts-file " + quote(dir + "/prompts.txt"), 2, "exclude each other"},
      {model, 2, "missing --prompt TEXT (or --prompts-file FILE)"},
      {model + " --prompts-file " + quote(empty), 1, "no prompts (every line is empty)"},
      {model + " --prompts-file /nonexistent/prompts.txt", 1, "/nonexistent/prompts.txt"},
      {model + " --prompts-file " + quote(dir + "/prompts.txt") + " --max-batch 0", 2, "--max-batch '0'"},
  };
  for (const auto &c : cases) {
    RunResult res = runTool(c.args);
    EXPECT_EQ(res.status, c.status) << c.args << "\n" << res.err;
    EXPECT_TRUE(contains(res.err, c.expect)) << c.args << "\n" << res.err;
    EXPECT_EQ(res.out, "") << c.args;
  }
}
