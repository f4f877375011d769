// Hardhat 2, compiling with the local npm solc (no compiler download) for the paris EVM.
const path = require("path");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = "0.8.37";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  const compilerPath = require.resolve("solc/soljson.js");
  return { compilerPath, isSolcJs: true, version: SOLC_VERSION, longVersion: require("solc").version() };
});

/** @type import('hardhat/config').HardhatUserConfig */
module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: { evmVersion: "paris", optimizer: { enabled: true, runs: 200 } },
  },
  paths: { sources: "./contracts", artifacts: "./build/hardhat", cache: "./build/hardhat-cache", tests: "./tests/hardhat" },
  networks: {
    hardhat: { hardfork: "prague", initialBaseFeePerGas: 0, chainId: 31337 },
  },
};
