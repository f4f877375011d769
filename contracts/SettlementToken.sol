// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {ISettlementToken} from "./interfaces/ISettlementToken.sol";

/// @title SettlementToken
/// @notice Permissioned settlement currency (tokenized deposit, 2 decimals). Every movement,
/// mint and burn included, requires an unpaused system and active members (or system contracts)
/// on both sides.
contract SettlementToken is ISettlementToken, ERC20 {
    IMembership private immutable _membership;

    constructor(string memory name_, string memory symbol_, IMembership membership_) ERC20(name_, symbol_) {
        _membership = membership_;
    }

    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Mint against a deposit. Requirements: caller is the operator. Emits {Transfer}.
    function mint(address to, uint256 amount) external {
        _onlyOperator();
        _mint(to, amount);
    }

    /// @notice Burn on withdrawal. Requirements: caller is the operator. Emits {Transfer}.
    function burn(address from, uint256 amount) external {
        _onlyOperator();
        _burn(from, amount);
    }

    /// @notice Requirements: caller is a system contract (financing, settlement). Emits {Transfer}.
    function transferByAgent(address from, address to, uint256 amount) external {
        if (!_membership.isSystemContract(msg.sender)) revert SettlementTokenUnauthorized(msg.sender);
        _transfer(from, to, amount);
    }

    function membership() external view returns (IMembership) {
        return _membership;
    }

    /// @dev The single path of every balance change: the permission check lives here.
    function _update(address from, address to, uint256 value) internal override {
        _membership.requireCurrencyParties(from, to);
        super._update(from, to, value);
    }

    /// @dev The single path of every spent approval ({transferFrom}): a spender other than the
    /// owner must be an active member or a system contract, so an approval does not outlive a
    /// suspension and an address never onboarded cannot move currency.
    function _spendAllowance(address owner, address spender, uint256 value) internal override {
        super._spendAllowance(owner, spender, value);
        if (spender != owner) _membership.requireSpender(spender);
    }

    function _onlyOperator() private view {
        if (msg.sender != _membership.operator()) revert SettlementTokenUnauthorized(msg.sender);
    }
}
