// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Settlement at maturity (到期兑付/清分).
/// @notice The debtor repays into this contract, in full or in parts. Holders redeem holdings at or
/// after maturity: a holding whose value at maturity was u (its value now plus what it was paid)
/// may take u x repaid / face value in all, less what it was already paid. Every unit paid burns
/// one unit of value, so partial repayments pay out pro rata whatever the order of redemptions
/// and a full repayment redeems every holding exactly.
interface ISettlement {
    struct Account {
        uint128 repaid;
        uint128 redeemed;
    }

    event Repaid(uint256 indexed certificateId, address indexed debtor, uint256 amount, uint256 totalRepaid);
    event Redeemed(
        uint256 indexed certificateId, uint256 indexed tokenId, address indexed holder, uint256 amount, uint256 totalRedeemed
    );
    event GracePeriodSet(uint256 gracePeriodSeconds);

    error SettlementUnauthorized(address caller);
    error SettlementZeroAmount();
    error SettlementWrongStatus(uint256 certificateId, uint8 status);
    error SettlementNotDebtor(uint256 certificateId, address caller, address debtor);
    error SettlementOverpayment(uint256 certificateId, uint256 outstanding, uint256 amount);
    error SettlementNotMatured(uint256 certificateId, uint256 maturity, uint256 now_);
    error SettlementNotOverdueYet(uint256 certificateId, uint256 overdueAt, uint256 now_);
    error SettlementFullyRepaid(uint256 certificateId);
    error SettlementNothingToRedeem(uint256 tokenId);
    error SettlementNotHolder(uint256 tokenId, address caller, address owner);
    error SettlementInvalidGracePeriod(uint256 gracePeriodSeconds, uint256 maxGracePeriodSeconds);

    /// @notice The debtor pays `amount` in; its credit line is released by the same amount.
    function repay(uint256 certificateId, uint256 amount) external;
    /// @notice The holder redeems what is payable on its holding now.
    function redeem(uint256 tokenId) external returns (uint256 amount);
    /// @notice The debtor or the operator pays out many holdings in one transaction.
    function settleBatch(uint256[] calldata tokenIds) external returns (uint256 total);
    /// @notice Anyone may mark a certificate overdue once maturity plus grace has passed unpaid.
    function markOverdue(uint256 certificateId) external;
    function setGracePeriod(uint256 gracePeriodSeconds) external;

    function account(uint256 certificateId) external view returns (Account memory);
    function redeemable(uint256 tokenId) external view returns (uint256);
    function gracePeriod() external view returns (uint256);
}
