// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IMembership} from "./interfaces/IMembership.sol";

/// @title Membership
/// @notice The consortium's member registry. Its owner is the platform operator; ownership
/// (the operator role) is handed over in two steps (`transferOwnership`, then `acceptOwnership`).
contract Membership is IMembership, Ownable2Step {
    mapping(address account => Member) private _members;
    mapping(address account => bool) private _systemContracts;
    bool private _paused;

    constructor(address operator_) Ownable(operator_) {}

    modifier onlySystemContract() {
        if (!_systemContracts[msg.sender]) revert MembershipUnauthorized(msg.sender);
        _;
    }

    // --- operator ---------------------------------------------------------------------------

    /// @notice Onboard `account` after KYC with `role`; the member starts active.
    /// Requirements: caller is the operator; `account` is new and non-zero; `role` is not None.
    /// Emits {MemberOnboarded}.
    function onboard(address account, Role role, bytes32 kycHash) external onlyOwner {
        if (account == address(0)) revert MembershipZeroAddress();
        if (role == Role.None) revert MembershipInvalidRole(uint8(role));
        if (_members[account].role != Role.None) revert MembershipAlreadyMember(account);
        _members[account] = Member({role: role, active: true, kycHash: kycHash, creditLimit: 0, creditUsed: 0});
        emit MemberOnboarded(account, role, kycHash);
    }

    /// @notice Record a new KYC document hash. Emits {MemberKycUpdated}.
    function updateKyc(address account, bytes32 kycHash) external onlyOwner {
        _member(account).kycHash = kycHash;
        emit MemberKycUpdated(account, kycHash);
    }

    /// @notice Suspend (`false`) or reactivate (`true`) a member.
    /// Requirements: the status changes. Emits {MemberStatusChanged}.
    function setActive(address account, bool active) external onlyOwner {
        Member storage member = _member(account);
        if (member.active == active) revert MembershipStatusUnchanged(account, active);
        member.active = active;
        emit MemberStatusChanged(account, active);
    }

    /// @notice Set a core enterprise's credit line. A limit below what is used leaves no credit
    /// available until repayments bring `used` under it.
    /// Requirements: caller is the operator; `debtor` is a core enterprise; `limit` fits 128 bits
    /// (never clamped). Emits {CreditLineChanged}.
    function setCreditLimit(address debtor, uint256 limit) external onlyOwner {
        Member storage member = _member(debtor);
        if (member.role != Role.CoreEnterprise) revert MembershipWrongRole(debtor, Role.CoreEnterprise, member.role);
        if (limit > type(uint128).max) revert MembershipCreditLimitTooLarge(limit, type(uint128).max);
        member.creditLimit = uint128(limit);
        emit CreditLineChanged(debtor, member.creditLimit, member.creditUsed);
    }

    /// @notice Allow or disallow a platform contract to use credit lines and move currency.
    /// Trust boundary: a system contract may move any member's currency and consume or release
    /// any credit line, which the operator can already do (mint, burn, set limits); it gets no
    /// power over holdings, which the token grants only to the financing and settlement contracts
    /// wired into it once at deployment. Emits {SystemContractSet}.
    function setSystemContract(address account, bool enabled) external onlyOwner {
        if (account == address(0)) revert MembershipZeroAddress();
        _systemContracts[account] = enabled;
        emit SystemContractSet(account, enabled);
    }

    /// @notice Emergency pause of every transfer, issue, financing and settlement. Emits {SystemPaused}.
    function pause() external onlyOwner {
        if (_paused) revert MembershipPaused();
        _paused = true;
        emit SystemPaused(msg.sender);
    }

    /// @notice Emits {SystemUnpaused}.
    function unpause() external onlyOwner {
        if (!_paused) revert MembershipNotPaused();
        _paused = false;
        emit SystemUnpaused(msg.sender);
    }

    /// @notice Disabled: a platform without an operator could never onboard, unfreeze or unpause
    /// again. Hand the role over with {transferOwnership} and {acceptOwnership} instead.
    function renounceOwnership() public view override onlyOwner {
        revert MembershipRenounceDisabled();
    }

    // --- system contracts -------------------------------------------------------------------

    /// @notice Use `amount` of `debtor`'s credit line.
    /// Requirements: caller is a system contract; `amount` fits in what is available.
    /// Emits {CreditLineChanged}.
    function consumeCredit(address debtor, uint256 amount) external onlySystemContract {
        Member storage member = _members[debtor];
        uint256 available = _available(member);
        if (amount > available) revert MembershipCreditExceeded(debtor, available, amount);
        member.creditUsed += uint128(amount);
        emit CreditLineChanged(debtor, member.creditLimit, member.creditUsed);
    }

    /// @notice Give back `amount` of `debtor`'s used credit. Emits {CreditLineChanged}.
    function releaseCredit(address debtor, uint256 amount) external onlySystemContract {
        Member storage member = _members[debtor];
        if (amount > member.creditUsed) revert MembershipCreditUnderflow(debtor, member.creditUsed, amount);
        member.creditUsed -= uint128(amount);
        emit CreditLineChanged(debtor, member.creditLimit, member.creditUsed);
    }

    // --- views ------------------------------------------------------------------------------

    function operator() external view returns (address) {
        return owner();
    }

    function paused() external view returns (bool) {
        return _paused;
    }

    function isSystemContract(address account) external view returns (bool) {
        return _systemContracts[account];
    }

    function memberOf(address account) external view returns (Member memory) {
        return _members[account];
    }

    function roleOf(address account) external view returns (Role) {
        return _members[account].role;
    }

    function isActive(address account) external view returns (bool) {
        return _members[account].active;
    }

    function availableCredit(address debtor) external view returns (uint256) {
        return _available(_members[debtor]);
    }

    function requireRole(address account, Role role) external view {
        _requireNotPaused();
        Member storage member = _members[account];
        if (member.role != role) revert MembershipWrongRole(account, role, member.role);
        if (!member.active) revert MembershipInactive(account);
    }

    function requireHolders(address from, address to) external view {
        _requireNotPaused();
        _requireHolder(from);
        _requireHolder(to);
    }

    function requireCurrencyParties(address from, address to) external view {
        _requireNotPaused();
        _requireCurrencyParty(from);
        _requireCurrencyParty(to);
    }

    function requireSpender(address spender) external view {
        _requireNotPaused();
        _requireCurrencyParty(spender);
    }

    // --- internals --------------------------------------------------------------------------

    function _member(address account) private view returns (Member storage member) {
        member = _members[account];
        if (member.role == Role.None) revert MembershipUnknownMember(account);
    }

    function _requireNotPaused() private view {
        if (_paused) revert MembershipPaused();
    }

    function _requireHolder(address account) private view {
        Member storage member = _members[account];
        if (member.role != Role.Supplier && member.role != Role.Factor) {
            revert MembershipNotHolder(account, member.role);
        }
        if (!member.active) revert MembershipInactive(account);
    }

    function _requireCurrencyParty(address account) private view {
        if (account == address(0) || _systemContracts[account]) return;
        Member storage member = _members[account];
        if (member.role == Role.None) revert MembershipUnknownMember(account);
        if (!member.active) revert MembershipInactive(account);
    }

    function _available(Member storage member) private view returns (uint256) {
        return member.creditUsed >= member.creditLimit ? 0 : member.creditLimit - member.creditUsed;
    }
}
