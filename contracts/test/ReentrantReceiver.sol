// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC165, IERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {IERC3525Receiver} from "../interfaces/IERC3525.sol";

/// @title ReentrantReceiver (tests only)
/// @notice A member contract (onboarded as a supplier or factor) that acts through `execute` and,
/// when armed, re-enters a target with a prepared call from inside its ERC-3525 / ERC-721
/// receive hook. The hook fires once per arming. With `bubble` the inner revert aborts the whole
/// transaction; without it the inner result is recorded (`lastSuccess`, `lastReturn`).
contract ReentrantReceiver is IERC3525Receiver, IERC721Receiver, ERC165 {
    address public target;
    bytes public payload;
    bool public armed;
    bool public bubble;
    bool public lastSuccess;
    bytes public lastReturn;
    uint256 public hookCalls;
    address public lastOperator;
    uint256 public lastFromTokenId;
    uint256 public lastToTokenId;
    uint256 public lastValue;

    bool public supports3525 = true;
    bytes4 public answer3525 = IERC3525Receiver.onERC3525Received.selector;
    bytes4 public answer721 = IERC721Receiver.onERC721Received.selector;
    bool public refuse;

    error ReceiverRefused();

    function arm(address target_, bytes calldata payload_, bool bubble_) external {
        target = target_;
        payload = payload_;
        bubble = bubble_;
        armed = true;
    }

    function setBehaviour(bool supports3525_, bytes4 answer3525_, bytes4 answer721_, bool refuse_) external {
        supports3525 = supports3525_;
        answer3525 = answer3525_;
        answer721 = answer721_;
        refuse = refuse_;
    }

    /// @notice Act as a member: call `to` with `data`; a revert bubbles up unchanged.
    function execute(address to, bytes calldata data) external returns (bytes memory result) {
        bool ok;
        (ok, result) = to.call(data);
        if (!ok) {
            assembly {
                revert(add(result, 32), mload(result))
            }
        }
    }

    function onERC3525Received(address operator, uint256 fromTokenId, uint256 toTokenId, uint256 value, bytes calldata)
        external
        returns (bytes4)
    {
        lastOperator = operator;
        lastFromTokenId = fromTokenId;
        lastToTokenId = toTokenId;
        lastValue = value;
        _hook();
        return answer3525;
    }

    function onERC721Received(address operator, address, uint256 tokenId, bytes calldata) external returns (bytes4) {
        lastOperator = operator;
        lastToTokenId = tokenId;
        _hook();
        return answer721;
    }

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        if (interfaceId == type(IERC3525Receiver).interfaceId) return supports3525;
        return interfaceId == type(IERC721Receiver).interfaceId || super.supportsInterface(interfaceId);
    }

    function _hook() private {
        ++hookCalls;
        if (refuse) revert ReceiverRefused();
        if (!armed) return;
        armed = false;
        (bool ok, bytes memory ret) = target.call(payload);
        lastSuccess = ok;
        lastReturn = ret;
        if (!ok && bubble) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
