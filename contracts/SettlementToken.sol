// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20, IERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {ISettlementToken} from "./interfaces/ISettlementToken.sol";

/// @title SettlementToken
/// @notice Permissioned settlement currency (tokenized deposit, 2 decimals). Only the clearing
/// agent (a licensed bank, an active member with role ClearingAgent) mints and burns it, against
/// deposits and withdrawals in its own books: the platform operator never does. Every movement,
/// mint and burn included, requires an unpaused system and, on each side, an active member whose
/// role may hold currency (core enterprise, supplier, factor) or a system contract.
/// Only the Financing and Settlement contracts wired in once at deployment move members' currency
/// without an allowance ({transferByAgent}): registering another system contract in Membership
/// gives it no such power, so the operator cannot move client money.
contract SettlementToken is ISettlementToken, ERC20 {
    IMembership private immutable _membership;
    address private _financing;
    address private _settlement;

    constructor(string memory name_, string memory symbol_, IMembership membership_) ERC20(name_, symbol_) {
        _membership = membership_;
    }

    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Mint against a deposit received by the clearing agent.
    /// Requirements: the system is not paused (`MembershipPaused`); the caller is an active member
    /// with role ClearingAgent (`MembershipWrongRole(caller, ClearingAgent, role)`,
    /// `MembershipInactive(caller)`); `amount` is not zero; `to` is an active member whose role
    /// may hold currency (or a system contract). Emits {Transfer}.
    function mint(address to, uint256 amount) external {
        _onlyClearingAgent();
        if (amount == 0) revert SettlementTokenZeroMint(to);
        _mint(to, amount);
    }

    /// @notice Burn on a withdrawal paid out by the clearing agent.
    /// Requirements: the system is not paused; the caller is an active member with role
    /// ClearingAgent (errors as {mint}); `amount` is not zero and at most `from`'s balance; `from`
    /// is an active member whose role may hold currency (or a system contract). Emits {Transfer}.
    function burn(address from, uint256 amount) external {
        _onlyClearingAgent();
        if (amount == 0) revert SettlementTokenZeroBurn(from);
        _burn(from, amount);
    }

    /// @notice ERC-20 allowance. Requirements: `spender` is not zero; a non-zero allowance goes
    /// only to a member whose role may spend currency, or a system contract
    /// (`Membership.requirePermitted`); clearing one (zero) is always allowed. Emits {Approval}.
    function approve(address spender, uint256 value) public override(ERC20, IERC20) returns (bool) {
        if (value != 0 && spender != address(0)) {
            _membership.requirePermitted(spender, IMembership.Capability.SpendCurrency);
        }
        return super.approve(spender, value);
    }

    /// @notice Wire the financing and settlement contracts, once: they alone move members'
    /// currency with {transferByAgent}, so the operator cannot later add a wallet of its own.
    /// Requirements: caller is the operator (`SettlementTokenUnauthorized(caller)`); neither address
    /// is zero (`SettlementTokenZeroAddress`); the currency is not wired yet
    /// (`SettlementTokenSystemContractsAlreadySet(financing, settlement)`). Emits {SystemContractsSet}.
    function setSystemContracts(address financing_, address settlement_) external {
        if (msg.sender != _membership.operator()) revert SettlementTokenUnauthorized(msg.sender);
        if (_financing != address(0)) revert SettlementTokenSystemContractsAlreadySet(_financing, _settlement);
        if (financing_ == address(0) || settlement_ == address(0)) revert SettlementTokenZeroAddress();
        _financing = financing_;
        _settlement = settlement_;
        emit SystemContractsSet(financing_, settlement_);
    }

    /// @notice Move `amount` of `from`'s currency to `to` for the call an agent is serving.
    /// Requirements: caller is the wired financing or settlement contract and is still enabled in
    /// Membership (the operator may disable a compromised one, never add one)
    /// (`SettlementTokenUnauthorized(caller)`); the parties as for {transfer}. Emits {Transfer}.
    function transferByAgent(address from, address to, uint256 amount) external {
        if ((msg.sender != _financing && msg.sender != _settlement) || !_membership.isSystemContract(msg.sender)) {
            revert SettlementTokenUnauthorized(msg.sender);
        }
        _transfer(from, to, amount);
    }

    function membership() external view returns (IMembership) {
        return _membership;
    }

    function financing() external view returns (address) {
        return _financing;
    }

    function settlement() external view returns (address) {
        return _settlement;
    }

    /// @dev The single path of every balance change: the permission check lives here.
    function _update(address from, address to, uint256 value) internal override {
        _membership.requireCurrencyParties(from, to);
        super._update(from, to, value);
    }

    /// @dev The single path of every spent approval ({transferFrom}): a spender other than the
    /// owner must be an active member whose role may spend currency, or a system contract, so an
    /// approval does not outlive a suspension and an address never onboarded cannot move currency.
    function _spendAllowance(address owner, address spender, uint256 value) internal override {
        super._spendAllowance(owner, spender, value);
        if (spender != owner) _membership.requireSpender(spender);
    }

    /// @dev Mint and burn: the system is not paused and the caller is an active clearing agent.
    function _onlyClearingAgent() private view {
        _membership.requireRole(msg.sender, IMembership.Role.ClearingAgent);
    }
}
