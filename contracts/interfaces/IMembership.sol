// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Membership registry of the consortium: members, roles, KYC, credit lines, system pause.
/// @notice The registry's owner is the platform operator; every other contract asks it who the
/// operator is, who is an active member and whether the system is paused.
interface IMembership {
    /// @dev Role of a member. `None` marks an address that was never onboarded. `ClearingAgent` is
    /// the licensed bank that alone mints and burns the settlement currency (new roles go at the
    /// end, so the stored values keep their meaning).
    enum Role {
        None,
        CoreEnterprise,
        Supplier,
        Factor,
        Auditor,
        ClearingAgent
    }

    /// @dev What a role may do with the two tokens (see {permits}, the one table on chain).
    /// HoldCurrency: send and receive settlement currency. SpendCurrency: spend an ERC-20
    /// allowance. HoldHoldings: own and receive holdings. SpendHoldings: be given and use an
    /// ERC-721 approval, an operator approval or an ERC-3525 value allowance.
    enum Capability {
        HoldCurrency,
        SpendCurrency,
        HoldHoldings,
        SpendHoldings
    }

    struct Member {
        Role role;
        bool active;
        bytes32 kycHash;
        uint128 creditLimit;
        uint128 creditUsed;
    }

    event MemberOnboarded(address indexed account, Role role, bytes32 kycHash);
    event MemberKycUpdated(address indexed account, bytes32 kycHash);
    event MemberStatusChanged(address indexed account, bool active);
    /// @dev Carries the whole credit line after the change, so the indexer needs no call.
    event CreditLineChanged(address indexed debtor, uint256 limit, uint256 used);
    event SystemContractSet(address indexed account, bool enabled);
    event SystemPaused(address indexed by);
    event SystemUnpaused(address indexed by);

    error MembershipUnauthorized(address caller);
    error MembershipZeroAddress();
    error MembershipInvalidRole(uint8 role);
    error MembershipAlreadyMember(address account);
    error MembershipUnknownMember(address account);
    error MembershipInactive(address account);
    error MembershipStatusUnchanged(address account, bool active);
    error MembershipWrongRole(address account, Role expected, Role actual);
    error MembershipNotHolder(address account, Role role);
    error MembershipCreditExceeded(address debtor, uint256 available, uint256 requested);
    error MembershipCreditUnderflow(address debtor, uint256 used, uint256 released);
    error MembershipRenounceDisabled();
    error MembershipPaused();
    error MembershipNotPaused();
    error MembershipCreditLimitTooLarge(uint256 limit, uint256 maxLimit);
    /// @dev The operator (or the nominated next operator) is never a member: it onboards them.
    error MembershipOperatorCannotBeMember(address account);
    /// @dev A registered system contract is never a member, and a member is never registered.
    error MembershipSystemContractCannotBeMember(address account);
    /// @dev Every member is onboarded after KYC: its KYC document hash is never zero.
    error MembershipZeroKycHash(address account);
    /// @dev `account`'s role may not do `capability` (see {permits}).
    error MembershipNotPermitted(address account, Role role, Capability capability);

    function onboard(address account, Role role, bytes32 kycHash) external;
    function updateKyc(address account, bytes32 kycHash) external;
    function setActive(address account, bool active) external;
    function setCreditLimit(address debtor, uint256 limit) external;
    function setSystemContract(address account, bool enabled) external;
    function pause() external;
    function unpause() external;

    /// @notice Called by system contracts (the certificate token) when a certificate is issued.
    function consumeCredit(address debtor, uint256 amount) external;
    /// @notice Called by system contracts on rejection and repayment.
    function releaseCredit(address debtor, uint256 amount) external;

    function operator() external view returns (address);
    function paused() external view returns (bool);
    function isSystemContract(address account) external view returns (bool);
    function memberOf(address account) external view returns (Member memory);
    function roleOf(address account) external view returns (Role);
    function isActive(address account) external view returns (bool);
    function availableCredit(address debtor) external view returns (uint256);

    /// @notice Reverts unless the system is not paused and `account` is an active member with `role`.
    function requireRole(address account, Role role) external view;
    /// @notice Reverts unless the system is not paused and both `from` and `to` are active
    /// suppliers or factors: the only members that may hold certificates.
    function requireHolders(address from, address to) external view;
    /// @notice Reverts unless the system is not paused and each non-zero side is an active member
    /// or a system contract: the rule for moving settlement currency.
    function requireCurrencyParties(address from, address to) external view;
    /// @notice Reverts unless the system is not paused and `spender` is an active member whose
    /// role may spend currency, or a system contract: the rule for an ERC-20 allowance's spender.
    function requireSpender(address spender) external view;

    /// @notice The one table of what each role may do with the tokens. System contracts (no
    /// role) may hold and spend currency; the operator is never a member and may nothing here.
    function permits(Role role, Capability capability) external pure returns (bool);
    /// @notice Reverts unless `account`'s role (or its being a system contract) permits
    /// `capability`; ignores pause and suspension. The check when an approval is granted.
    function requirePermitted(address account, Capability capability) external view;
    /// @notice Reverts unless the system is not paused and `account` is an active member whose
    /// role permits `capability`, or a system contract where they may: the check when it is used.
    function requireCapable(address account, Capability capability) external view;
}
