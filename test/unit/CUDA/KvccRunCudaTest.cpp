//===- KvccRunCudaTest.cpp - kvcc-run --device=cuda -----------------------===//
//
// kvcc-run as a process with --device=cuda: a missing driver or device is
// reported, and a CPU artifact is refused for what it is.
//
//===----------------------------------------------------------------------===//
#include "CudaTestSupport.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

using namespace kvcc;
using namespace kvcc::cuda;
using namespace cudatest;

namespace {

std::string kvccRunPath() {
  std::string local = exeDir() + "/" + KVCC_RUN_NAME;
  return exists(local) ? local : std::string(KVCC_RUN);
}

struct RunResult {
  int status = -1;
  std::string out, err;
};

std::string readFile(const std::string &path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string scratchDir() {
  char tmpl[] = "/tmp/kvcc-cuda-test-XXXXXX";
  const char *d = mkdtemp(tmpl);
  return d ? d : "/tmp";
}

/// Runs `env ... kvcc-run args`, capturing stdout and stderr.
RunResult runKvccRun(const std::string &env, const std::string &args) {
  std::string dir = scratchDir();
  std::string cmd = env + " '" + kvccRunPath() + "' " + args + " >'" + dir + "/out' 2>'" + dir + "/err'";
  int rc = std::system(cmd.c_str());
  RunResult r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = readFile(dir + "/out");
  r.err = readFile(dir + "/err");
  std::system(("rm -rf '" + dir + "'").c_str());
  return r;
}

//===----------------------------------------------------------------------===//
// kvcc-run --device=cuda
//===----------------------------------------------------------------------===//

class KvccRunCuda : public MockTest {
protected:
  std::string artifact(const char *target) {
    std::string dir = scratchDir();
    std::ofstream(dir + "/manifest.json") << "{\"format\": \"kvcc-artifact\", \"version\": 2, \"target\": \"" << target
                                          << "\"}\n";
    dirs_.push_back(dir);
    return dir;
  }
  void TearDown() override {
    for (const std::string &d : dirs_)
      std::system(("rm -rf '" + d + "'").c_str());
    MockTest::TearDown();
  }
  std::vector<std::string> dirs_;
};

TEST_F(KvccRunCuda, ReportsTheMissingDriverOrDevice) {
  std::string args = "'" + artifact("cuda") + "' --weights /nonexistent --prompt hi --device=cuda";
  RunResult r = runKvccRun("KVCC_LIBCUDA=/nonexistent/libcuda.so.1", args);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("kvcc-run: no CUDA driver (/nonexistent/libcuda.so.1 could not be loaded: ", 0), 0u) << r.err;

  if (!CudaDriver::get("libcuda.so.1").ok()) { // this machine: no driver at all
    r = runKvccRun("env -u KVCC_LIBCUDA", args);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "kvcc-run: no CUDA driver (libcuda.so.1 could not be loaded: libcuda.so.1: cannot open shared "
                     "object file: No such file or directory)\n");
  }

  r = runKvccRun("KVCC_LIBCUDA='" + mockPath() + "' KVCC_MOCK_CUDA_DEVICES=0", args);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "kvcc-run: no CUDA device\n");

  // With a device, it is reported and the run goes on to the artifact.
  r = runKvccRun("KVCC_LIBCUDA='" + mockPath() + "'", args);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(contains(r.err, "kvcc-run: CUDA device kvcc mock GPU 0 (device 0 of 1): sm_90, 132 SMs")) << r.err;
}

TEST_F(KvccRunCuda, CpuArtifactIsRefusedForWhatItIs) {
  std::string args = "'" + artifact("cpu") + "' --weights /nonexistent --prompt hi --device=cuda";
  RunResult r = runKvccRun("KVCC_LIBCUDA=/nonexistent/libcuda.so.1", args);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "kvcc-run: --device=cuda: this artifact targets cpu (compile it with --target=cuda)\n");
}

} // namespace
