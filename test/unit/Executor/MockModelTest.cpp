//===- MockModelTest.cpp - MockModel.cpp against the Python reference -----===//
//
// The mock model.so itself against the float64 numpy reference of
// python/kvcc_ref (skipped without numpy).
//
//===----------------------------------------------------------------------===//
#include "TestModel.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

using namespace kvcc;
using namespace kvcc::runtime;
using namespace exectest;
using json::Value;

//===----------------------------------------------------------------------===//
// The mock itself against the float64 numpy reference (skipped without numpy)
//===----------------------------------------------------------------------===//

TEST(MockModelTest, MatchesThePythonReference) {
  if (std::system("python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with numpy is not available";
  for (const TinyConfig &c : {TinyConfig(), mistral(), qwen2()}) {
    std::unique_ptr<Rig> r = Rig::make(c, 3);
    ASSERT_TRUE(r);
    std::vector<int32_t> prompt = somePrompt(9, 5);
    ExecutorOptions eo;
    eo.maxContext = 64;
    std::vector<int32_t> ours = r->greedy(prompt, 24, eo);
    std::string promptList = "[";
    for (size_t i = 0; i < prompt.size(); ++i)
      promptList += (i ? "," : "") + std::to_string(prompt[i]);
    promptList += "]";
    std::string out = scratch().fresh("ref") + "/ref.json";
    std::string cmd = "python3 -c 'import sys, json; sys.path.insert(0, sys.argv[1]); "
                      "from kvcc_ref.reference import ReferenceModel; "
                      "t, m = ReferenceModel(sys.argv[2]).greedy_with_margins(json.loads(sys.argv[3]), 24); "
                      "json.dump({\"tokens\": [int(x) for x in t], \"margins\": [float(x) for x in m]}, "
                      "open(sys.argv[4], \"w\"))' " +
                      quote(KVCC_PYTHON_DIR) + " " + quote(r->modelDir) + " " + quote(promptList) + " " + quote(out);
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    Expected<Value> ref = json::parseFile(out);
    ASSERT_TRUE(ref.ok()) << ref.message();
    const std::vector<Value> &tokens = ref->get("tokens")->asArray(), &margins = ref->get("margins")->asArray();
    ASSERT_EQ(ours.size(), tokens.size());
    // f32 against f64: compare up to the first near-tie of the reference.
    for (size_t i = 0; i < ours.size() && margins[i].asNumber() > 1e-3; ++i)
      EXPECT_EQ(ours[i], tokens[i].asNumber()) << c.arch << " token " << i;
  }
}
