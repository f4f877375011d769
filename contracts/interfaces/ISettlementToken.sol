// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title Permissioned settlement currency (a tokenized bank deposit).
/// @notice Moves only between active members and the platform's system contracts; the clearing
/// agent (a licensed bank, role ClearingAgent), never the operator, mints against deposits and
/// burns on withdrawal. Standard `Transfer` events cover every change.
/// An allowance goes only to a member whose role may spend currency (or a system contract), and
/// its spender (`transferFrom`) must still be active (`Membership.permits`, `requireSpender`).
/// Its agents (the Financing and Settlement contracts, which move members' currency with
/// `transferByAgent`) are wired once at deployment and never change.
interface ISettlementToken is IERC20 {
    /// @dev The currency's agents were wired (once, at deployment).
    event SystemContractsSet(address financing, address settlement);

    /// @dev `transferByAgent` by a caller that is not one of the wired agents, or one the operator
    /// has disabled in Membership; `setSystemContracts` by a caller that is not the operator.
    error SettlementTokenUnauthorized(address caller);
    /// @dev `setSystemContracts` after the agents were wired: they never change.
    error SettlementTokenSystemContractsAlreadySet(address financing, address settlement);
    /// @dev `setSystemContracts` with a zero address.
    error SettlementTokenZeroAddress();
    /// @dev A mint of nothing: no deposit backs it, and its `Transfer` would be noise for the indexer.
    error SettlementTokenZeroMint(address to);
    /// @dev A burn of nothing: no withdrawal is paid against it.
    error SettlementTokenZeroBurn(address from);

    function mint(address to, uint256 amount) external;
    function burn(address from, uint256 amount) external;
    /// @notice Wire the currency's agents, once: the operator cannot later add one of its own.
    function setSystemContracts(address financing, address settlement) external;
    /// @notice The wired agents move funds of the member whose call they are serving
    /// (the factor paying a financing, the debtor repaying), so no ERC-20 approval is needed.
    function transferByAgent(address from, address to, uint256 amount) external;

    function financing() external view returns (address);
    function settlement() external view returns (address);
}
