// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC3525} from "@solvprotocol/erc-3525/ERC3525.sol";

/// @dev The ERC-3525 reference implementation (npm @solvprotocol/erc-3525 1.5.0) with a public
/// mint: the gas baseline that `scf/bench/gas_table.py` measures in the same run as our token.
contract ReferenceERC3525 is ERC3525 {
    constructor() ERC3525("Reference ERC-3525", "REF", 2) {}

    function mint(address to, uint256 slot, uint256 value) external returns (uint256) {
        return _mint(to, slot, value);
    }
}
