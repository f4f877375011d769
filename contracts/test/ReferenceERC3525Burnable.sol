// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReferenceERC3525} from "./ReferenceERC3525.sol";

/// @dev The reference implementation with public burns, for the conformance tests
/// (`tests/contracts/test_erc3525_conformance.py`); the gas baseline stays `ReferenceERC3525`.
contract ReferenceERC3525Burnable is ReferenceERC3525 {
    function burn(uint256 tokenId) external {
        _burn(tokenId);
    }

    function burnValue(uint256 tokenId, uint256 value) external {
        _burnValue(tokenId, value);
    }
}
