# lit configuration of the modrwkv test suite.
import os

import lit.formats

config.name = "modrwkv"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".test"]
config.excludes = ["unit", "e2e", "onnx", "Inputs", "lit.cfg.py",
                   "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.modrwkv_obj_root, "test")

config.environment["PATH"] = os.pathsep.join(
    [config.modrwkv_tools_dir, config.llvm_tools_dir,
     config.environment.get("PATH", os.environ.get("PATH", ""))])
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(
    ("%gen_checkpoint", config.python_executable + " " +
     os.path.join(config.modrwkv_src_root, "test", "e2e", "gen_checkpoint.py")))
