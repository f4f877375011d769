// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title PlainMember (tests only)
/// @notice A member contract with no ERC-165 and no receiver hooks: ERC-3525 transfers to it
/// skip the hook, ERC-721 safe transfers to it are refused.
contract PlainMember {
    function execute(address to, bytes calldata data) external returns (bytes memory result) {
        bool ok;
        (ok, result) = to.call(data);
        if (!ok) {
            assembly {
                revert(add(result, 32), mload(result))
            }
        }
    }
}
