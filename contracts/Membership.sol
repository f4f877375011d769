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
    /// Requirements: caller is the operator; `account` is non-zero, new, not the operator nor the
    /// nominated next operator, and not a system contract; `role` is not None; `kycHash` is not zero.
    /// Emits {MemberOnboarded}.
    function onboard(address account, Role role, bytes32 kycHash) external onlyOwner {
        if (account == address(0)) revert MembershipZeroAddress();
        if (account == owner() || account == pendingOwner()) revert MembershipOperatorCannotBeMember(account);
        if (_systemContracts[account]) revert MembershipSystemContractCannotBeMember(account);
        if (role == Role.None) revert MembershipInvalidRole(uint8(role));
        if (_members[account].role != Role.None) revert MembershipAlreadyMember(account);
        if (kycHash == bytes32(0)) revert MembershipZeroKycHash(account);
        _members[account] = Member({role: role, active: true, kycHash: kycHash, creditLimit: 0, creditUsed: 0});
        emit MemberOnboarded(account, role, kycHash);
    }

    /// @notice Record a new KYC document hash.
    /// Requirements: caller is the operator; `account` is a member; `kycHash` is not zero.
    /// Emits {MemberKycUpdated}.
    function updateKyc(address account, bytes32 kycHash) external onlyOwner {
        Member storage member = _member(account);
        if (kycHash == bytes32(0)) revert MembershipZeroKycHash(account);
        member.kycHash = kycHash;
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
    /// any credit line; it gets no power over holdings, which the token grants only to the
    /// financing and settlement contracts wired into it once at deployment (see docs/contracts.md,
    /// "Trust boundary of the operator", for what this leaves the operator over the currency).
    /// Requirements: caller is the operator; `account` is non-zero; a member is never enabled.
    /// Emits {SystemContractSet}.
    function setSystemContract(address account, bool enabled) external onlyOwner {
        if (account == address(0)) revert MembershipZeroAddress();
        if (enabled && _members[account].role != Role.None) revert MembershipSystemContractCannotBeMember(account);
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

    /// @notice Nominate the next operator; it takes over with {acceptOwnership}.
    /// Requirements: caller is the operator; `newOwner` is not a member (the operator never is).
    /// Emits {OwnershipTransferStarted}.
    function transferOwnership(address newOwner) public override onlyOwner {
        if (_members[newOwner].role != Role.None) revert MembershipOperatorCannotBeMember(newOwner);
        super.transferOwnership(newOwner);
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
        _requireCapable(from, Capability.HoldHoldings, true);
        _requireCapable(to, Capability.HoldHoldings, true);
    }

    function requireCurrencyParties(address from, address to) external view {
        _requireNotPaused();
        if (from != address(0)) _requireCapable(from, Capability.HoldCurrency, true);
        if (to != address(0)) _requireCapable(to, Capability.HoldCurrency, true);
    }

    function requireSpender(address spender) external view {
        _requireNotPaused();
        _requireCapable(spender, Capability.SpendCurrency, true);
    }

    function requireCapable(address account, Capability capability) external view {
        _requireNotPaused();
        _requireCapable(account, capability, true);
    }

    function requirePermitted(address account, Capability capability) external view {
        _requireCapable(account, capability, false);
    }

    /// @notice The one table of roles and capabilities (docs/contracts.md shows it):
    /// suppliers and factors hold and move both currency and holdings; a core enterprise holds
    /// and spends currency only (it issues and repays, it never holds a holding); an auditor
    /// holds and moves nothing (it reads through the indexer); a clearing agent holds and moves
    /// nothing either (it mints to and burns from members: the deposits stay in its books, off
    /// chain); `None` (the operator, outsiders) nothing. System contracts, which have no role,
    /// hold and spend currency only.
    function permits(Role role, Capability capability) public pure returns (bool) {
        if (role == Role.Supplier || role == Role.Factor) return true;
        if (role == Role.CoreEnterprise) {
            return capability == Capability.HoldCurrency || capability == Capability.SpendCurrency;
        }
        return false;
    }

    // --- internals --------------------------------------------------------------------------

    function _member(address account) private view returns (Member storage member) {
        member = _members[account];
        if (member.role == Role.None) revert MembershipUnknownMember(account);
    }

    function _requireNotPaused() private view {
        if (_paused) revert MembershipPaused();
    }

    /// @dev The one check of a party against the table {permits}: a holding check names the role
    /// (`MembershipNotHolder`), an address never onboarded is `MembershipUnknownMember`, any other
    /// role (or a system contract asked for a holding right) is `MembershipNotPermitted`; with
    /// `mustBeActive` a suspended member is refused too.
    function _requireCapable(address account, Capability capability, bool mustBeActive) private view {
        Member storage member = _members[account];
        Role role = member.role;
        if (!permits(role, capability)) {
            // only an address without a role can be a system contract (onboard, setSystemContract)
            bool systemContract = _systemContracts[account];
            if (systemContract && capability <= Capability.SpendCurrency) return;
            if (capability == Capability.HoldHoldings) revert MembershipNotHolder(account, role);
            if (role == Role.None && !systemContract) revert MembershipUnknownMember(account);
            revert MembershipNotPermitted(account, role, capability);
        }
        if (mustBeActive && !member.active) revert MembershipInactive(account);
    }

    function _available(Member storage member) private view returns (uint256) {
        return member.creditUsed >= member.creditLimit ? 0 : member.creditLimit - member.creditUsed;
    }
}
